"""Progress lines for ``americano demo``: every step that takes seconds (starting the database, seeding, loading
the Dagster definitions, the warehouse run, the analysis run) prints a line as it starts and one with its elapsed
time as it ends, and during the in-process Dagster runs each Dagster step does the same as it runs.

    snapshot and warehouse ...
      raw_snapshot ...
      raw_snapshot done in 3.4 s (5 assets, 5 checks passed)
      warehouse ...
      warehouse done in 9.9 s (12 assets, 110 checks passed)
    snapshot and warehouse done in 14.0 s

Whole lines only, the same on a terminal and in a CI log: no carriage returns, no colours, no line longer than 120
columns, and no start line left open for its end (whatever else writes to the terminal meanwhile, a Dagster error
log or a library's notice, lands on a line of its own).

Why a Dagster event listener (``DagsterInstance.add_event_listener`` with the run id given to
``execute_in_process``): the in-process executor runs the steps in this thread and the instance calls its
listeners synchronously as each event is stored, so the lines appear live, without Dagster's console logger (which
the demo keeps at ERROR: it would print every event). The listener reads only the event type, step key, partition
and check verdict, so it works for any job.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

WIDTH = 120


def _fit(text: str) -> str:
    return text if len(text) <= WIDTH else text[:WIDTH - 1] + "…"


def _labelled(indent: str, label: str, tail: str) -> str:
    """``<indent><label> <tail>`` in at most WIDTH columns, shortening the label rather than the tail."""
    room = WIDTH - len(indent) - 1 - len(tail)
    if 10 <= room < len(label):
        label = label[:room - 1] + "…"
    return _fit(f"{indent}{label} {tail}")


@dataclass
class Step:
    """One timed step; set ``detail`` inside the ``with`` block to have it shown after the elapsed time."""

    label: str
    name: str
    indent: str = ""
    detail: str = ""
    started: float = 0.0


@dataclass
class Progress:
    """Writes the progress lines to ``out`` (the stdout of the moment it was made, so a later
    ``contextlib.redirect_stdout`` does not swallow them)."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    clock: Callable[[], float] = time.perf_counter

    def line(self, text: str) -> None:
        self.out.write(_fit(text) + "\n")
        self.out.flush()

    def start(self, label: str, *, name: str | None = None, indent: str = "") -> Step:
        """Print ``<label> ...`` and start the clock; the end line names the step ``name`` (default: the label)."""
        step = Step(label, name or label, indent, started=self.clock())
        self.line(_labelled(indent, label, "..."))
        return step

    def finish(self, step: Step, outcome: str = "done in") -> float:
        """Print ``<name> done in <s> s (<detail>)``; the elapsed seconds."""
        elapsed = self.clock() - step.started
        end = f"{outcome} {elapsed:.1f} s" + (f" ({step.detail})" if step.detail else "")
        self.line(_labelled(step.indent, step.name, end))
        return elapsed

    @contextlib.contextmanager
    def step(self, label: str, *, name: str | None = None, indent: str = "") -> Iterator[Step]:
        """Time the ``with`` block; ``failed after <s> s`` when it raises (the error itself is the caller's)."""
        step = self.start(label, name=name, indent=indent)
        try:
            yield step
        except BaseException:
            self.finish(step, "failed after")
            raise
        self.finish(step)

    def dagster_listener(self, indent: str = "  ") -> Callable:
        """An ``EventLogEntry`` callback for ``DagsterInstance.add_event_listener``: lines per Dagster step."""
        return _RunListener(self, indent)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


@dataclass
class _StepTally:
    step: Step
    assets: int = 0
    partitions: set = field(default_factory=set)
    checks_passed: int = 0
    checks_failed: int = 0

    def detail(self) -> str:
        parts = []
        if self.partitions:
            parts.append(_plural(len(self.partitions), "partition"))
        elif self.assets:
            parts.append(_plural(self.assets, "asset"))
        checks = self.checks_passed + self.checks_failed
        if self.checks_failed:
            parts.append(f"{self.checks_failed} of {_plural(checks, 'check')} FAILED")
        elif checks:
            parts.append(f"{_plural(checks, 'check')} passed")
        return ", ".join(parts)


class _RunListener:
    """Start and end lines per Dagster step, with the assets (or partitions) it materialized and its checks."""

    def __init__(self, progress: Progress, indent: str):
        self.progress = progress
        self.indent = indent
        self.steps: dict[str, _StepTally] = {}
        self.broken = False

    def __call__(self, entry) -> None:
        """Never raises: the instance calls its listeners while storing the event, so an error here (a closed
        stdout, say) would fail the run half-way and leave its pool slots claimed; the lines just stop."""
        if self.broken:
            return
        try:
            self._handle(entry)
        except Exception:  # noqa: BLE001 - progress is cosmetic, the run is not
            self.broken = True

    def _handle(self, entry) -> None:
        event = entry.dagster_event
        if event is None or event.step_key is None:
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.steps[event.step_key] = _StepTally(self.progress.start(event.step_key, indent=self.indent))
            return
        tally = self.steps.get(event.step_key)
        if tally is None:
            return
        if kind == "ASSET_MATERIALIZATION":
            tally.assets += 1
            if event.partition is not None:
                tally.partitions.add(event.partition)
        elif kind == "ASSET_CHECK_EVALUATION":
            if event.event_specific_data.passed:
                tally.checks_passed += 1
            else:
                tally.checks_failed += 1
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            tally.step.detail = tally.detail()
            self.progress.finish(tally.step, "done in" if kind == "STEP_SUCCESS" else "FAILED after")
            del self.steps[event.step_key]
