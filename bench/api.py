"""The research API under concurrent load on loopback: latency percentiles, throughput, errors, peak RSS, and the
recording of every answered computation (none lost).

Starts `americano api serve` (its default: two processes, each compiling the ITS models before it answers) on a
free port over what `make demo` built (the warehouse, the published results), takes the demo's first user and
protocols from its ground_truth.json, and runs phases of concurrent clients (httpx, one thread each, back to back
for --seconds):
- fast: 16 clients mixing the randomization test, change points and sequential boundaries, every request a
  different one (``fast_requests``), so each is computed and never answered from the research cache;
- its: 4 clients asking for the Bayesian ITS (after three warm-up requests, which the server's own warm-up at start
  leaves little to do), every request a different one (intervention date and window over the AB reminder protocol's
  admissible ones: both phases at least its minimum phase length), so each is a real fit and never an answer cached
  from an identical request;
- identical: 1 client repeating one request of each endpoint for a few seconds (what the cache answers).
Targets on 2 cores: fast p95 <= 100 ms per endpoint, its p95 <= 2 s, zero errors in fast and its.

Recording (``api.recording``): each phase says how many computations the server recorded while it ran; after the
load the bench waits, the server idle, until the recorder has drained its journal, and reports how many
computations were answered, how many were recorded during the load, how many
were still pending in the journal at its end and how long the drain took; then it checks that every answered
computation id has exactly one finished MLflow run (and each randomization test one ``analysis_runs`` row), and
reports the cost of a submit (one journal append), measured in this process.

What it leaves behind: nothing. The server reads and writes a throwaway copy of the demo database on the embedded
cluster (CREATE DATABASE ... TEMPLATE, dropped at the end), a temporary MLflow store and a temporary journal; the
demo database's analysis_runs rows are counted before and after (equal, unless another job wrote some meanwhile;
none may be this bench's).

Fairness: the clients run in this process, the server in its own (uvicorn's master and, with ``--processes`` above
one, its worker processes: CPU seconds and peak RSS are summed over all of them), so neither shares a GIL with the
other; they still share the cores, so each phase reports the CPU seconds each side used and the load average before
it (another job on the machine shows there).

    make demo && .venv/bin/python bench/api.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from americano_pipeline import settings
from americano_pipeline.api import recording
from americano_pipeline.api.journal import Journal
from americano_pipeline.source.cluster import DATABASE, OWNER, LocalCluster
from americano_pipeline.source.connection import API_ROLE, READER_ROLE, WRITER_ROLE, connect
from americano_pipeline.source.database import embedded_cluster

AMERICANO = str(Path(sys.executable).parent / "americano")
PREFIX = "/api/analytics/research"
COMPUTATION_ID = re.compile(rb'"computationId":"(c[a-z0-9]{24})"')
COPY_SECONDS = 60  # how long to wait for other sessions to leave the demo database before copying it
DRAIN_LIMIT_SECONDS = 1800
SUBMIT_SAMPLES = 2000
SEQUENTIAL_ALPHAS = (0.01, 0.025, 0.05, 0.1)

Request = tuple[str, str, dict]  # (name in the report, endpoint, body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def requests(truth: dict) -> tuple[dict[str, Request], list[Request], list[Request], str]:
    """The demo's first user: one request per endpoint (its: the registered one), the ITS warm-up (the registered
    request and the two extremes of baseline against treatment length: each form of the model fitted once before
    the measurement), every other admissible ITS request on the AB reminder protocol (shuffled, seed 0),
    and that user."""
    user = truth["protocols"][0]["userId"]
    abab = next(p for p in truth["protocols"] if p["userId"] == user and p["designType"] == "ABAB")
    ab = next(p for p in truth["protocols"] if p["userId"] == user and p["key"] == "ab_reminder")
    intervention = date.fromisoformat(ab["interventionDate"])
    registered = its_body(ab, intervention, (intervention - date.fromisoformat(ab["startDate"])).days,
                          (date.fromisoformat(ab["endDate"]) - intervention).days + 1)
    each = {
        "randomization": ("randomization", "abab-randomization-test",
                          {"userId": user, "protocolId": abab["protocolId"], "metric": abab["primaryOutcome"]}),
        "change-points": ("change-points", "change-points", {"userId": user, "metric": "study_minutes",
                                                             "startDate": ab["startDate"], "endDate": ab["endDate"]}),
        "sequential": ("sequential", "sequential-boundaries", {"alphaLevel": 0.05, "spendingFunction": "obrien_fleming",
                                                               "maxN": 100, "nInterimAnalyses": 5}),
        "its": ("its", "bayesian-its", registered),
    }
    admissible = list(admissible_its(ab))
    extremes = [max(admissible, key=_longer_baseline), min(admissible, key=_longer_baseline)]
    warm = [("its", "bayesian-its", body) for body in (registered, *extremes)]
    distinct = [("its", "bayesian-its", body) for body in admissible if body not in (registered, *extremes)]
    random.Random(0).shuffle(distinct)
    return each, warm, distinct, user


def fast_requests(truth: dict, user: str) -> list[Request]:
    """Distinct randomization, change-point and sequential requests of ``user``, interleaved (seed 0):
    - randomization: the user's ABAB-type protocols x the metric catalogue x nPermutations 10,000..10,999 (at
      most 10,000 placements: the same exact test, a distinct request);
    - change points: windows of 30..120 days starting on any day of the study that leaves room for them;
    - sequential: alphaLevel 0.01, 0.025, 0.05 and 0.1 x maxN 20..1,000 x 2..10 looks x both spending functions
      (the boundaries of a design do not depend on maxN and are integrated once per process: 72 designs)."""
    from americano_pipeline.checks.schemas import metric_catalogue

    metrics = metric_catalogue()
    reversals = [p for p in truth["protocols"] if p["userId"] == user and p["designType"] == "ABAB"]
    first, last = date.fromisoformat(truth["firstDate"]), date.fromisoformat(truth["endDate"])
    randomization = [("randomization", "abab-randomization-test",
                      {"userId": user, "protocolId": p["protocolId"], "metric": metric, "nPermutations": n})
                     for p in reversals for metric in metrics for n in range(10_000, 11_000)]
    change_points = [("change-points", "change-points",
                      {"userId": user, "metric": metric, "startDate": (first + timedelta(days=offset)).isoformat(),
                       "endDate": (first + timedelta(days=offset + days - 1)).isoformat()})
                     for metric in metrics for days in range(30, 121)
                     for offset in range((last - first).days - days + 2)]
    sequential = [("sequential", "sequential-boundaries", {"alphaLevel": alpha, "spendingFunction": function,
                                                           "maxN": max_n, "nInterimAnalyses": looks})
                  for alpha in SEQUENTIAL_ALPHAS for function in ("obrien_fleming", "pocock")
                  for max_n in range(20, 1001) for looks in range(2, 11)]
    shuffler = random.Random(0)
    for kind in (randomization, change_points, sequential):
        shuffler.shuffle(kind)
    return [request for triple in zip(randomization, change_points, sequential) for request in triple]


def _longer_baseline(body: dict) -> int:
    return body["prePeriodDays"] - body["postPeriodDays"]


def its_body(protocol: dict, intervention: date, pre: int, post: int) -> dict:
    return {"userId": protocol["userId"], "metric": protocol["primaryOutcome"],
            "interventionDate": intervention.isoformat(), "prePeriodDays": pre, "postPeriodDays": post}


def admissible_its(protocol: dict) -> Iterator[dict]:
    """Every ITS request inside the protocol's dates whose baseline and treatment both last at least its minimum
    phase length (969 on the AB reminder protocol)."""
    start, end = date.fromisoformat(protocol["startDate"]), date.fromisoformat(protocol["endDate"])
    shortest = protocol["minPhaseLength"]
    intervention = start + timedelta(days=shortest)
    while (end - intervention).days + 1 >= shortest:
        for pre in range(shortest, (intervention - start).days + 1):
            for post in range(shortest, (end - intervention).days + 2):
                yield its_body(protocol, intervention, pre, post)
        intervention += timedelta(days=1)


def round_robin(each: dict[str, Request], names: list[str]) -> Callable[[int], Request]:
    return lambda turn: each[names[turn % len(names)]]


def once_each(distinct: list[Request]) -> Callable[[int], Request | None]:
    """The requests in turn across all clients, each sent once; None when they are used up."""
    lock, left = threading.Lock(), iter(distinct)

    def pick(_turn: int) -> Request | None:
        with lock:
            return next(left, None)

    return pick


def run_phase(url: str, token: str, pick: Callable[[int], Request | None], clients: int, seconds: float,
              server: int, store: Path) -> dict:
    """``clients`` threads posting what ``pick`` gives for ``seconds`` (or until it gives None) to the server of
    pid ``server``: latencies per name, answered computation ids, errors, CPU seconds of both sides, and how many
    computations the server recorded into ``store`` meanwhile."""
    latencies: dict[str, list[float]] = defaultdict(list)
    answered: list[tuple[str, str]] = []  # (endpoint, computation id)
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            turn = offset
            while time.monotonic() < stop and (request := pick(turn)) is not None:
                name, path, body = request
                started = time.perf_counter()
                answer = http.post(f"{PREFIX}/{path}", json=body)
                elapsed = time.perf_counter() - started
                if answer.status_code == 200:
                    latencies[name].append(elapsed)
                    answered.append((path, COMPUTATION_ID.search(answer.content).group(1).decode()))
                else:
                    errors.append(f"{name}: {answer.status_code} {answer.text[:200]}")
                turn += 1

    load, runs = os.getloadavg()[0], sum(recorded(store).values())
    started, cpu = time.monotonic(), cpu_seconds(server)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "answered": answered, "errors": errors, "elapsed": time.monotonic() - started,
            "load": load, "cpu": [after - before for before, after in zip(cpu, cpu_seconds(server))],
            "used_up": pick(0) is None, "recorded": sum(recorded(store).values()) - runs}


def server_processes(pid: int) -> list[int]:
    """The server ``pid`` and its descendants (``--processes``: uvicorn's worker processes under its master)."""
    children = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children[int(stat.read_text().rpartition(")")[2].split()[1])].append(int(stat.parent.name))
        except (OSError, ValueError):  # gone meanwhile
            continue
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children[found[-1]])
    return found


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds used so far by this process (the clients) and by the server ``pid`` with its worker processes
    (user + system)."""
    server = 0
    for process in server_processes(pid):
        fields = Path(f"/proc/{process}/stat").read_text().rpartition(")")[2].split()
        server += int(fields[11]) + int(fields[12])
    clients = os.times()
    return clients.user + clients.system, server / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(title: str, outcome: dict, target_ms: float | None) -> bool:
    """Print the phase; whether it met ``target_ms`` (p95 of every name) with zero errors (None: no target)."""
    total = sum(len(v) for v in outcome["latencies"].values())
    used_up = "; every distinct request used" if outcome["used_up"] else ""
    print(f"{title}: {total} requests in {outcome['elapsed']:.1f} s = {total / outcome['elapsed']:.1f} req/s, "
          f"{len(outcome['errors'])} errors; CPU s: clients {outcome['cpu'][0]:.1f}, server {outcome['cpu'][1]:.1f}; "
          f"load average before {outcome['load']:.2f}; {outcome['recorded']} computations recorded meanwhile"
          f"{used_up}")
    met = not outcome["errors"]
    for name, values in outcome["latencies"].items():
        p50, p95, p99 = (percentile(values, q) * 1000 for q in (50, 95, 99))
        ok = target_ms is None or p95 <= target_ms
        met &= ok
        target = "" if target_ms is None else f"  (target p95 <= {target_ms:.0f} ms: {'met' if ok else 'MISSED'})"
        print(f"  {name:<15} n={len(values):<6} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms{target}")
    for error in outcome["errors"][:5]:
        print(f"  error: {error}")
    return met


def peak_rss_mb(pid: int) -> float:
    """The sum of the peak RSS of the server ``pid`` and its worker processes (at most their peak together)."""
    total = 0
    for process in server_processes(pid):
        status = Path(f"/proc/{process}/status").read_text()
        total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    return total / 1024


def analysis_runs(url: str) -> set[str]:
    """The ids of the analysis_runs rows of the database ``url`` names (as the owner: every row)."""
    with connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM analysis_runs")}


@contextmanager
def scratch_copy(cluster: LocalCluster) -> Iterator[str]:
    """A throwaway copy of the demo database on its own cluster, owned like it, dropped at the end: its name.
    CREATE DATABASE ... TEMPLATE needs the demo database to itself for a moment, so it is retried while other
    sessions use it."""
    name = f"americano_bench_{os.getpid()}"
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
        sql.Identifier(name), sql.Identifier(DATABASE), sql.Identifier(OWNER))
    with connect(cluster.url("postgres"), autocommit=True) as conn:
        deadline = time.monotonic() + COPY_SECONDS
        while True:
            try:
                conn.execute(create)
                break
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise SystemExit(f"cannot copy the demo database {DATABASE!r}: other sessions kept using it for "
                                     f"{COPY_SECONDS} s (pg_stat_activity shows them); try again") from None
                time.sleep(0.5)
    try:
        yield name
    finally:
        with connect(cluster.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_environment(cluster: LocalCluster, database: str, scratch: Path) -> dict[str, str]:
    """The server's environment: the copy ``database`` through the cluster's three logins (as an external server
    is configured, so the demo database is never opened), the MLflow store and journal under ``scratch``."""
    return {**os.environ, "PYTHONWARNINGS": "ignore",
            "AMERICANO_DATABASE_URL": cluster.url(database, login=READER_ROLE),
            "AMERICANO_WRITER_DATABASE_URL": cluster.url(database, login=WRITER_ROLE),
            "AMERICANO_API_DATABASE_URL": cluster.url(database, login=API_ROLE),
            "MLFLOW_TRACKING_URI": f"sqlite:///{scratch / 'mlflow.db'}",
            "AMERICANO_API_JOURNAL": str(scratch / "journal.sqlite")}


@contextmanager
def serving(port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`americano api serve` on ``port``, once it answers; stopped (SIGTERM: the recorder drains) at the end."""
    with log.open("w") as stderr:
        server = subprocess.Popen([AMERICANO, "api", "serve", "--port", str(port)], stdout=subprocess.DEVNULL,
                                  stderr=stderr, env=env)
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit(f"the API server did not start (make demo first?); see {log}") from None
                    time.sleep(0.2)
            yield server
        finally:
            server.terminate()
            server.wait(timeout=60)


def recorded(store: Path) -> Counter:
    """Finished MLflow runs per ``api.computation_id``, read straight from the SQLite store's tables (MLflow's
    search would load every run's params and metrics for a count)."""
    with sqlite3.connect(store) as conn:
        return Counter(value for (value,) in conn.execute(
            "SELECT t.value FROM tags t JOIN runs r ON r.run_uuid = t.run_uuid "
            "WHERE t.key = 'api.computation_id' AND r.status = 'FINISHED'"))


def drain(journal: Journal) -> tuple[int, float]:
    """Wait for the idle server's recorder to empty ``journal``: (entries pending at the start, seconds taken)."""
    pending, started = journal.pending(), time.monotonic()
    while journal.pending() and time.monotonic() - started < DRAIN_LIMIT_SECONDS:
        time.sleep(0.25)
    return pending, time.monotonic() - started


def submit_cost(user: str, answer: dict, scratch: Path) -> tuple[float, float]:
    """Median and p99 microseconds of ``Recorder.submit`` of ``answer`` into a fresh journal (this process)."""
    journal = Journal(scratch / "submit-cost.sqlite")
    recorder = recording.Recorder(None, None, idle=lambda: True, journal=journal)
    costs = []
    for _ in range(SUBMIT_SAMPLES):
        done = recording.computation("abab-randomization-test", user, answer, recording.now())
        started = time.perf_counter()
        recorder.submit(done)
        costs.append((time.perf_counter() - started) * 1e6)
    journal.close()
    return statistics.median(costs), percentile(costs, 99)


def report_recording(answered: list[tuple[str, str]], during_load: int, journal: Journal, store: Path,
                     rows: Callable[[], set[str]]) -> bool:
    """Drain, then print what was recorded when; whether every answered computation was recorded exactly once
    (``rows``: the ids of the analysis_runs rows the server wrote)."""
    pending, seconds = drain(journal)
    runs = recorded(store)
    ids = Counter(computation for _, computation in answered)
    lost = len(ids.keys() - runs.keys())
    duplicated = sum(1 for count in runs.values() if count > 1)
    written = rows()
    tests = {computation for endpoint, computation in answered if endpoint == "abab-randomization-test"}
    left = journal.pending()
    rate = f" ({pending / seconds:.0f} a second)" if pending and seconds else ""
    print(f"recording: {len(answered)} computations answered; {during_load} recorded during the load, {pending} "
          f"pending in the journal at its end; drained in {seconds:.1f} s once idle{rate}, {left} left")
    print(f"  {lost} lost, {duplicated} recorded twice, {len(runs.keys() - ids.keys())} runs not answered; "
          f"analysis_runs rows written to the copy: {len(written & tests)} of {len(tests)} randomization tests, "
          f"{len(written - tests)} others")
    return lost == duplicated == left == 0 and runs.keys() == ids.keys() and written == tests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each phase (default 20)")
    args = parser.parse_args()
    truth = json.loads(settings.ground_truth_path().read_text())
    each, warm_its, distinct, user = requests(truth)
    token = subprocess.run([AMERICANO, "api", "token", user], capture_output=True, text=True,
                           check=True).stdout.strip()
    cluster = embedded_cluster()
    demo_before = analysis_runs(cluster.url())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="americano-bench-api-") as tmp, scratch_copy(cluster) as copy:
        scratch = Path(tmp)
        env = server_environment(cluster, copy, scratch)
        with serving(port, env, scratch / "server.log") as server:
            fast_names = ["randomization", "change-points", "sequential"]
            sample = httpx.post(f"{url}{PREFIX}/abab-randomization-test", json=each["randomization"][2],
                                headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
            answered = [("abab-randomization-test", sample["provenance"]["computationId"])]
            store = scratch / "mlflow.db"
            warm = run_phase(url, token, once_each([*warm_its, *(each[name] for name in fast_names)]), 1,
                             DRAIN_LIMIT_SECONDS, server.pid, store)
            assert not warm["errors"], warm["errors"]
            fast = run_phase(url, token, once_each(fast_requests(truth, user)), 16, args.seconds, server.pid, store)
            its = run_phase(url, token, once_each(distinct), 4, args.seconds, server.pid, store)
            identical = run_phase(url, token, round_robin(each, [*fast_names, "its"]), 1, min(5.0, args.seconds / 4),
                                  server.pid, store)
            during_load = sum(recorded(store).values())
            met = report("16 clients, randomization / change points / sequential, every request distinct", fast, 100)
            met &= report("4 clients, Bayesian ITS (warm), every request distinct", its, 2000)
            report("1 client, one request of each endpoint repeated (the research cache)", identical, None)
            processes = len(server_processes(server.pid))
            print(f"server peak RSS {peak_rss_mb(server.pid):.0f} MB ({processes} process{'es' * (processes > 1)})")
            answered += [pair for phase in (warm, fast, its, identical) for pair in phase["answered"]]
            journal = Journal(Path(env["AMERICANO_API_JOURNAL"]))
            met &= report_recording(answered, during_load, journal, store,
                                    lambda: analysis_runs(cluster.url(copy)) - demo_before)
            journal.close()
        median, p99 = submit_cost(user, sample, scratch)
        print(f"submit (journal append of one computation, {SUBMIT_SAMPLES} in this process): median {median:.0f} µs, "
              f"p99 {p99:.0f} µs")
        log = (scratch / "server.log").read_text()
        print(f"server log: {log.count('not recorded')} lines saying computations were not recorded, "
              f"{log.count('remain in journal')} saying some remain in the journal")
    demo_after = analysis_runs(cluster.url())
    ours = demo_after & {computation for _, computation in answered}
    print(f"demo database analysis_runs rows: {len(demo_before)} before, {len(demo_after)} after; "
          f"{len(ours)} of them from this bench ({'unchanged' if demo_after == demo_before else 'CHANGED'})")
    return 0 if met and not ours else 1


if __name__ == "__main__":
    sys.exit(main())
