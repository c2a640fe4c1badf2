"""Speed of change-point detection: PELT vs BinSeg, with and without the bootstrap confidence, against ruptures'
pure-Python reference detectors (``Pelt``/``Binseg`` with ``model="l2", jump=1``) on the same series.

Series: three mean shifts of 1.5 SD at 1/4, 1/2 and 3/4 of 90, 365 and 1000 days (seeded).
"noise fit ms" is what the default AR(1) noise scale (one exact dynamic programme for up to 20 changes, then an
AR(1) fit per candidate) adds to one detection over the former MAD-of-differences scale (``noise="mad_diff"``);
it is paid once per series, not per bootstrap resample (the penalty is fixed before the bootstrap).
Run: .venv/bin/python bench/changepoints.py
"""

from __future__ import annotations

import math
import statistics
import timeit

import numpy as np
import pandas as pd
import ruptures as rpt

from americano_pipeline.stats.changepoints import detect_change_points

N_BOOTSTRAP = 200


def milliseconds(function, repeats: int) -> float:
    return 1000.0 * statistics.median(timeit.repeat(function, number=1, repeat=repeats))


def series(n: int) -> pd.Series:
    levels = np.repeat([0.0, 1.5, 0.0, 1.5], np.diff([0, n // 4, n // 2, 3 * n // 4, n]))
    values = levels + np.random.default_rng(n).normal(size=n)
    return pd.Series(values, index=pd.date_range("2023-01-01", periods=n, freq="D"))


def main() -> None:
    print(
        f"{'days':>5} {'method':<7}{'found':>6}{'detect ms':>11}{'noise fit ms':>14}{f'+{N_BOOTSTRAP} boot ms':>15}"
        f"{'per resample ms':>17}{'ruptures ref ms':>17}{'ref / ours':>12}"
    )
    for n in (90, 365, 1000):
        data = series(n)
        centred = data.to_numpy() - data.mean()
        for algorithm, reference in (("pelt", rpt.Pelt), ("binseg", rpt.Binseg)):
            result = detect_change_points(data, algorithm=algorithm, n_bootstrap=N_BOOTSTRAP)
            single = milliseconds(lambda: detect_change_points(data, algorithm=algorithm, n_bootstrap=1), 5)
            former = milliseconds(
                lambda: detect_change_points(data, algorithm=algorithm, n_bootstrap=1, noise="mad_diff"), 5)
            full = milliseconds(lambda: detect_change_points(data, algorithm=algorithm, n_bootstrap=N_BOOTSTRAP), 3)
            detector = reference(model="l2", min_size=7, jump=1)
            slow = milliseconds(lambda: detector.fit(centred).predict(pen=result.penalty), 1 if n > 365 else 3)
            per_resample = (full - single) / (N_BOOTSTRAP - 1)
            print(
                f"{n:>5} {result.algorithm:<7}{len(result.change_points):>6}{single:>11.1f}{single - former:>14.1f}"
                f"{full:>15.1f}"
                f"{per_resample:>17.3f}{slow:>17.1f}{slow / per_resample:>11.0f}x"
            )
    print(
        f"(detect ms = one detection plus one resample; 'ruptures ref' = one detection with ruptures' "
        f"pure-Python class; 'ref / ours' = that over our per-resample detection; penalty 2 sigma^2 ln n with "
        f"sigma the AR(1) long-run SD, ln 365 = {math.log(365):.2f})"
    )


if __name__ == "__main__":
    main()
