"""Apple Health import: throughput and peak memory on a ~1 GB export (bare export.xml and its zip) beside a 100 MB one.

Why: a few years of an Apple Watch make a gigabyte of export.xml, and the importer must read it in a Dagster run
process without its memory growing with the file. Writes a year of daily values as two realistic exports
(americano_pipeline.demo.apple_health_export; heart rate samples, which the importer ignores, fill each to its size
as they fill real exports), zips each as the Health app does, then imports each file in a fresh child process and
prints its size, records, seconds, records/s, MB of XML per second and the child's peak RSS (its VmHWM),
with a child that only imports the module as the floor, and the ratios large / small. Each import runs --rounds
times (the median seconds and the largest peak are printed) and is checked against the written daily values.
Takes about 4 minutes at 1 GB on 2 cores, and 1.2 GB of temporary disk per gigabyte.

    .venv/bin/python bench/apple_health_import.py [--gigabytes 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from americano_pipeline.demo.apple_health_export import MEMBER, write_export

DAYS, TZ, SEED = 365, "Europe/Berlin", 42
SMALL_GB = 0.1
MB = 1_000_000

IMPORT = """
import sys, time
started = time.perf_counter()
from americano_pipeline.context.apple_health import read_export
if len(sys.argv) > 1:
    started = time.perf_counter()
    read = read_export(sys.argv[1], user_id="bench", timezone={tz!r})
    days = read.days
    print(read.summary.records, len(days), sum(day.steps for day in days), sum(day.hrv_score for day in days),
          round(sum(day.sleep_hours for day in days), 2))
seconds = time.perf_counter() - started
with open("/proc/self/status") as status:
    peak_kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print(seconds, peak_kb)
"""


def _truth() -> pd.DataFrame:
    """A year of plausible daily values, every measurement present (whole numbers where Apple writes them)."""
    rng = np.random.default_rng(SEED)
    return pd.DataFrame({"date": [date(2025, 1, 1) + timedelta(days=i) for i in range(DAYS)],
                         "sleep_hours": np.round(np.clip(rng.normal(7.2, 0.9, DAYS), 3, 11), 2),
                         "hrv_sdnn": rng.integers(20, 120, DAYS).astype(float),
                         "resting_heart_rate": rng.integers(45, 75, DAYS).astype(float),
                         "steps": rng.integers(500, 20_000, DAYS).astype(float)})


def _heart_rate_per_day(truth: pd.DataFrame, gigabytes: float, root: Path) -> int:
    """Heart rate samples a day that make the export about ``gigabytes``, from the size of one week written with
    and without them."""
    week = truth.head(7)
    sizes = [write_export(root / f"probe{n}.xml", week, tz=TZ, seed=SEED, heart_rate_samples_per_day=n,
                          zip=False).stat().st_size for n in (0, 1000)]
    per_sample = (sizes[1] - sizes[0]) / (1000 * len(week))
    per_day = sizes[0] / len(week)
    return max(0, round((gigabytes * 1000 * MB / DAYS - per_day) / per_sample))


def _write(truth: pd.DataFrame, gigabytes: float, root: Path) -> tuple[Path, Path]:
    """The bare export.xml and its zip (the XML deflated as the Health app's export.zip holds it)."""
    folder = root / f"{gigabytes:g}GB"
    folder.mkdir()
    per_day = _heart_rate_per_day(truth, gigabytes, root)
    started = time.perf_counter()
    xml = write_export(folder / "export.xml", truth, tz=TZ, seed=SEED, heart_rate_samples_per_day=per_day, zip=False)
    written = time.perf_counter()
    packed = folder / "export.zip"
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(xml, MEMBER)
    print(f"wrote {xml.stat().st_size / MB:,.0f} MB export.xml ({DAYS} days, {per_day:,} heart rate samples a day) "
          f"in {written - started:.1f} s; zipped to {packed.stat().st_size / MB:,.1f} MB in "
          f"{time.perf_counter() - written:.1f} s")
    return xml, packed


def _import(path: Path | None) -> tuple[float, float, list[str]]:
    """Seconds the child took to import the module (no ``path``) or to read ``path``, its peak RSS in MB and what
    else it printed.

    The peak is the child's own VmHWM, read by the child as it ends: ``wait4``'s ``ru_maxrss`` would not do, as
    Linux carries the RSS the child had as a fork of this process (pandas loaded) across its exec into that figure.
    """
    command = [sys.executable, "-c", IMPORT.format(tz=TZ)] + ([str(path)] if path else [])
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"import of {path} failed")
    *printed, seconds, peak_kb = done.stdout.split()
    return float(seconds), int(peak_kb) / 1024, printed


def _check(path: Path, printed: list[str], truth: pd.DataFrame) -> int:
    """The child's days, steps, HRV and sleep totals equal the written truth; returns the records it read."""
    expected = [str(DAYS), str(int(truth.steps.sum())), str(int(truth.hrv_sdnn.sum())),
                str(round(truth.sleep_hours.sum(), 2))]
    if printed[1:] != expected:
        raise SystemExit(f"{path} read back {printed[1:]} (days, steps, HRV, sleep), not the written {expected}")
    return int(printed[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0, help="size of the large export.xml (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="imports of each file (default 3)")
    args = parser.parse_args()
    truth = _truth()
    rows = []
    with tempfile.TemporaryDirectory(prefix="americano-bench-apple-health-") as tmp:
        root = Path(tmp)
        floor_seconds, floor_rss, _ = _import(None)
        rows.append(("python + import only", None, None, None, floor_seconds, floor_rss))
        for gigabytes in (SMALL_GB, args.gigabytes):
            xml, packed = _write(truth, gigabytes, root)
            for path in (xml, packed):
                runs = [_import(path) for _ in range(args.rounds)]
                records = {_check(path, printed, truth) for _, _, printed in runs}.pop()
                rows.append((f"{gigabytes:g} GB {path.name}", path.stat().st_size, xml.stat().st_size, records,
                             statistics.median(seconds for seconds, _, _ in runs), max(rss for _, rss, _ in runs)))
    print(f"\n{'import of':<24} {'MB on disk':>10} {'XML MB':>8} {'records':>11} {'seconds':>8} {'records/s':>10} "
          f"{'XML MB/s':>9} {'peak RSS MB':>12}")
    for name, size, xml_size, records, seconds, rss in rows:
        if size is None:
            print(f"{name:<24} {'':>10} {'':>8} {'':>11} {seconds:>8.2f} {'':>10} {'':>9} {rss:>12.1f}")
            continue
        print(f"{name:<24} {size / MB:>10,.1f} {xml_size / MB:>8,.0f} {records:>11,} {seconds:>8.2f} "
              f"{records / seconds:>10,.0f} {xml_size / MB / seconds:>9.1f} {rss:>12.1f}")
    print()
    for small, large in ((rows[1], rows[3]), (rows[2], rows[4])):
        kind = large[0].split()[-1]
        print(f"{kind:<11} large / small: XML {large[2] / small[2]:.1f}x, records {large[3] / small[3]:.1f}x, "
              f"seconds {large[4] / small[4]:.1f}x, peak RSS {large[5] / small[5]:.2f}x "
              f"({large[5] - floor_rss:+.1f} MB vs {small[5] - floor_rss:+.1f} MB above the floor)")


if __name__ == "__main__":
    main()
