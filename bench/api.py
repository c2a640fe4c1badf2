"""The research API under concurrent load on loopback: latency percentiles, throughput, errors, peak RSS.

Starts `americano api serve` on a free port over what `make demo` built (the warehouse, the published results,
the embedded database), takes the demo's first user and protocols from its ground_truth.json, and runs two
phases of concurrent clients (httpx, one thread each, back to back for --seconds):
- fast: 16 clients mixing the randomization test, change points and sequential boundaries;
- its: 4 clients asking for the Bayesian ITS (after one warm-up request that compiles the model).
Targets on 2 cores: fast p95 <= 100 ms per endpoint, its p95 <= 2 s, zero errors in both.

Fairness: the clients run in this process, the server in its own, so neither shares a GIL with the other; they
still share the cores, so each phase reports the CPU seconds each process used and the load average before it
(another job on the machine shows there). Every answered computation is recorded (``api.recording``) into a
temporary MLflow store, so the demo's store is not flooded; the randomization test's ``analysis_runs`` rows
(exploratory, never shown as published results) go to the demo database; the server's log is counted for
computations it could not record (a burst not yet recorded when the server stops is one such line).

    make demo && .venv/bin/python bench/api.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import httpx

from americano_pipeline import settings

AMERICANO = str(Path(sys.executable).parent / "americano")
PREFIX = "/api/analytics/research"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def requests(truth: dict) -> tuple[dict[str, tuple[str, dict]], str]:
    """(path, body) per endpoint for the demo's first user, and that user."""
    user = truth["protocols"][0]["userId"]
    abab = next(p for p in truth["protocols"] if p["userId"] == user and p["designType"] == "ABAB")
    ab = next(p for p in truth["protocols"] if p["userId"] == user and p["key"] == "ab_reminder")
    intervention = date.fromisoformat(ab["interventionDate"])
    return {
        "randomization": ("abab-randomization-test", {"userId": user, "protocolId": abab["protocolId"],
                                                      "metric": abab["primaryOutcome"]}),
        "change-points": ("change-points", {"userId": user, "metric": "study_minutes",
                                            "startDate": ab["startDate"], "endDate": ab["endDate"]}),
        "sequential": ("sequential-boundaries", {"alphaLevel": 0.05, "spendingFunction": "obrien_fleming",
                                                 "maxN": 100, "nInterimAnalyses": 5}),
        "its": ("bayesian-its", {"userId": user, "metric": ab["primaryOutcome"],
                                 "interventionDate": ab["interventionDate"],
                                 "prePeriodDays": (intervention - date.fromisoformat(ab["startDate"])).days,
                                 "postPeriodDays": (date.fromisoformat(ab["endDate"]) - intervention).days + 1}),
    }, user


def run_phase(url: str, token: str, names: list[str], bodies: dict, clients: int, seconds: float,
              server: int) -> dict:
    """``clients`` threads posting ``names`` round robin for ``seconds`` to the server of pid ``server``:
    latencies per name, errors, CPU seconds of both sides."""
    latencies: dict[str, list[float]] = {name: [] for name in names}
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            turn = offset
            while time.monotonic() < stop:
                name = names[turn % len(names)]
                path, body = bodies[name]
                started = time.perf_counter()
                answer = http.post(f"{PREFIX}/{path}", json=body)
                elapsed = time.perf_counter() - started
                if answer.status_code == 200:
                    latencies[name].append(elapsed)
                else:
                    errors.append(f"{name}: {answer.status_code} {answer.text[:200]}")
                turn += 1

    load = os.getloadavg()[0]
    started, cpu = time.monotonic(), cpu_seconds(server)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "errors": errors, "elapsed": time.monotonic() - started, "load": load,
            "cpu": [after - before for before, after in zip(cpu, cpu_seconds(server))]}


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds used so far by this process (the clients) and by the server ``pid`` (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    clients = os.times()
    return clients.user + clients.system, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(title: str, outcome: dict, target_ms: float) -> bool:
    total = sum(len(v) for v in outcome["latencies"].values())
    print(f"{title}: {total} requests in {outcome['elapsed']:.1f} s = {total / outcome['elapsed']:.1f} req/s, "
          f"{len(outcome['errors'])} errors; CPU s: clients {outcome['cpu'][0]:.1f}, server {outcome['cpu'][1]:.1f}; "
          f"load average before {outcome['load']:.2f}")
    met = not outcome["errors"]
    for name, values in outcome["latencies"].items():
        p50, p95, p99 = (percentile(values, q) * 1000 for q in (50, 95, 99))
        ok = p95 <= target_ms
        met &= ok
        print(f"  {name:<14} n={len(values):<6} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms  "
              f"(target p95 <= {target_ms:.0f} ms: {'met' if ok else 'MISSED'})")
    for error in outcome["errors"][:5]:
        print(f"  error: {error}")
    return met


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each phase (default 20)")
    args = parser.parse_args()
    truth = json.loads(settings.ground_truth_path().read_text())
    bodies, user = requests(truth)
    token = subprocess.run([AMERICANO, "api", "token", user], capture_output=True, text=True, check=True).stdout
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = tempfile.TemporaryDirectory(prefix="americano-bench-mlflow-")
    log = Path(store.name, "server.log").open("w")
    server = subprocess.Popen([AMERICANO, "api", "serve", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=log, env={**os.environ, "PYTHONWARNINGS": "ignore",
                                                              "MLFLOW_TRACKING_URI": f"sqlite:///{store.name}/m.db"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the API server did not start (make demo first?)") from None
                time.sleep(0.2)
        warm = run_phase(url, token.strip(), ["its", "randomization", "change-points"], bodies, 1, 0.1, server.pid)
        assert not warm["errors"], warm["errors"]
        fast = run_phase(url, token.strip(), ["randomization", "change-points", "sequential"], bodies, 16, args.seconds,
                         server.pid)
        its = run_phase(url, token.strip(), ["its"], bodies, 4, args.seconds, server.pid)
        met = report("16 clients, randomization / change points / sequential", fast, 100)
        met &= report("4 clients, Bayesian ITS (warm)", its, 2000)
        print(f"server peak RSS {peak_rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        unrecorded = Path(log.name).read_text().count("not recorded")
        print(f"server log: {unrecorded} lines saying computations were not recorded")
        store.cleanup()
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
