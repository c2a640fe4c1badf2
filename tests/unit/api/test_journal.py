"""The recording journal on a real SQLite file: entries in order, each claimed by one holder only (threads and
processes), kept across the death of a process, handed back after a failure or a dead holder, and bounded."""

import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest

from americano_pipeline.api import journal
from americano_pipeline.api.journal import Journal

CHILD = """
import json, os, sys, time
from pathlib import Path
from americano_pipeline.api.journal import Journal

path, action, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
mine = Journal(path)
if action == "append":
    for index in range(count):
        mine.append(f"id{index}", json.dumps({"index": index}))
    os._exit(0)  # no close, no cleanup: as a killed server
if action == "claim-and-die":
    mine.claim()
    os._exit(0)
print("ready", flush=True)
sys.stdin.readline()  # every worker starts at once
claimed = []
while (entry := mine.claim()) is not None:
    claimed.append(entry.id)
    time.sleep(0.001)  # as if recording it
    mine.done(entry)
print(json.dumps(claimed))
"""


def child(path, action: str, count: int = 0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, str(path), action, str(count)], capture_output=True,
                          text=True, check=True, timeout=60)


def test_entries_are_claimed_oldest_first_once_and_forgotten_when_done(tmp_path):
    mine = Journal(tmp_path / "journal.sqlite")
    for index in range(3):
        mine.append(f"id{index}", f"payload{index}")
    first, second = mine.claim(), mine.claim()
    assert (first.id, first.payload, first.attempts) == ("id0", "payload0", 0)
    assert second.id == "id1"
    mine.done(first)
    assert mine.pending() == 2
    assert mine.claim().id == "id2"
    assert mine.claim() is None  # every entry left is held
    mine.close()


def test_a_failed_entry_comes_back_after_its_delay_counting_its_attempts(tmp_path):
    mine = Journal(tmp_path / "journal.sqlite")
    mine.append("id0", "p")
    mine.retry(mine.claim(), delay_seconds=0.3)
    assert mine.claim() is None
    time.sleep(0.35)
    again = mine.claim()
    assert (again.id, again.attempts) == ("id0", 1)
    mine.close()


def test_entries_outlive_a_process_that_dies_without_closing_the_journal(tmp_path):
    path = tmp_path / "journal.sqlite"
    child(path, "append", 50)
    survivor = Journal(path)
    assert survivor.pending() == 50
    entries = [survivor.claim() for _ in range(50)]
    assert [json.loads(entry.payload)["index"] for entry in entries] == list(range(50))
    survivor.close()


def test_processes_on_one_journal_never_claim_the_same_entry(tmp_path):
    path = tmp_path / "journal.sqlite"
    child(path, "append", 600)
    script = [sys.executable, "-c", CHILD, str(path), "drain", "0"]
    workers = [subprocess.Popen(script, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    assert [worker.stdout.readline() for worker in workers] == ["ready\n"] * 3
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    claimed = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]
    counts = Counter(entry for ids in claimed for entry in ids)
    assert len(counts) == 600 and set(counts.values()) == {1}
    assert all(claimed)  # they really ran side by side
    assert Journal(path).pending() == 0


def test_the_claim_of_a_process_that_is_gone_is_released_with_its_attempt_counted(tmp_path):
    path = tmp_path / "journal.sqlite"
    child(path, "append", 2)
    child(path, "claim-and-die")
    survivor = Journal(path)
    assert survivor.claim().id == "id1"  # id0 is still held by the dead process
    assert survivor.release_orphans() == 1
    replayed = survivor.claim()
    assert (replayed.id, replayed.attempts) == ("id0", 1)
    survivor.close()


def test_a_claim_older_than_the_lease_is_free_again(tmp_path, monkeypatch):
    holder, other = Journal(tmp_path / "journal.sqlite"), Journal(tmp_path / "journal.sqlite")
    holder.append("id0", "p")
    assert holder.claim().id == "id0" and other.claim() is None
    monkeypatch.setattr(journal, "LEASE_SECONDS", 0.0)
    taken = other.claim()
    assert (taken.id, taken.attempts) == ("id0", 1)
    holder.close()
    other.close()


def test_the_journal_is_bounded_and_says_so_when_full(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "MAX_BYTES", 64 * 1024)
    mine = Journal(tmp_path / "journal.sqlite")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for index in range(1000):
            mine.append(f"id{index}", "x" * 1000)
    assert 0 < mine.pending() < 64
    mine.close()


def test_a_journal_that_cannot_be_created_raises_a_journal_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(journal.JOURNAL_ERRORS):
        Journal(tmp_path / "file" / "journal.sqlite").append("id0", "p")
