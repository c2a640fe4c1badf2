"""The bounded worker pool for CPU-bound fits: a fixed number of threads and a fixed number of waiting places.

Why bounded and refusing: on a small machine an unbounded queue turns a burst into minutes of latency for every
caller and unbounded memory; a request that finds every worker busy and every waiting place taken is refused at
once (``Saturated``, answered 503 with Retry-After) so the client backs off. A request that waits or runs longer
than the timeout is answered 504 (its computation finishes in the background and is discarded: a thread cannot
be cancelled safely). ``quiet`` tells lower-priority work (recording finished computations) when it may run
without taking the cores from a waiting request: not in the moment between two requests of a busy server (a
recording costs about 12 ms of CPU, which the next request would wait for), but once nothing ran for a while.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Saturated(RuntimeError):
    """Every worker is busy and every waiting place is taken."""


class ComputeTimeout(TimeoutError):
    """The computation did not finish within the request timeout."""


class BoundedPool:
    """``workers`` threads and ``queue`` waiting places; ``run`` awaits a function's result or refuses at once."""

    def __init__(self, workers: int, queue: int, timeout: float):
        self.workers, self.capacity, self.timeout = workers, workers + queue, timeout
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="americano-api")
        self._admitted = 0
        self._last_busy = time.monotonic()
        self._lock = threading.Lock()

    def quiet(self, seconds: float) -> bool:
        """No computation is running or waiting, and none ran or waited for the last ``seconds``."""
        return self._admitted == 0 and time.monotonic() - self._last_busy >= seconds

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.capacity:
                raise Saturated(f"all {self.workers} workers and {self.capacity - self.workers} waiting places are "
                                "busy")
            self._admitted += 1

    def _release(self, _=None) -> None:
        with self._lock:
            self._admitted -= 1
            self._last_busy = time.monotonic()

    async def run(self, function: Callable[..., T], *args) -> T:
        self._admit()
        try:
            future = self._executor.submit(function, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            raise ComputeTimeout(f"the computation took longer than {self.timeout:.0f} s") from None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
