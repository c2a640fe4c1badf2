"""The research API under concurrent load on loopback: latency percentiles, throughput, errors, peak RSS.

Starts `americano api serve` on a free port over what `make demo` built (the warehouse, the published results,
the embedded database), takes the demo's first user and protocols from its ground_truth.json, and runs two
phases of concurrent clients (httpx, one thread each, back to back for --seconds):
- fast: 16 clients mixing the randomization test, change points and sequential boundaries;
- its: 4 clients asking for the Bayesian ITS (after one warm-up request that compiles the model).
Targets on 2 cores: fast p95 <= 100 ms per endpoint, its p95 <= 2 s, zero errors in both.

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


def run_phase(url: str, token: str, names: list[str], bodies: dict, clients: int, seconds: float) -> dict:
    """``clients`` threads posting ``names`` round robin for ``seconds``: latencies per name and errors."""
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

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "errors": errors, "elapsed": time.monotonic() - started}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(title: str, outcome: dict, target_ms: float) -> bool:
    total = sum(len(v) for v in outcome["latencies"].values())
    print(f"{title}: {total} requests in {outcome['elapsed']:.1f} s = {total / outcome['elapsed']:.1f} req/s, "
          f"{len(outcome['errors'])} errors")
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
    server = subprocess.Popen([AMERICANO, "api", "serve", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONWARNINGS": "ignore"})
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
        warm = run_phase(url, token.strip(), ["its", "randomization", "change-points"], bodies, 1, 0.1)
        assert not warm["errors"], warm["errors"]
        fast = run_phase(url, token.strip(), ["randomization", "change-points", "sequential"], bodies, 16, args.seconds)
        its = run_phase(url, token.strip(), ["its"], bodies, 4, args.seconds)
        met = report("16 clients, randomization / change points / sequential", fast, 100)
        met &= report("4 clients, Bayesian ITS (warm)", its, 2000)
        print(f"server peak RSS {peak_rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
