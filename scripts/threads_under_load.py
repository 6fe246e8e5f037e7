"""segment_people (rag, 640x480 synthetic scene, 5 people) with 1 and 2 numba threads, on a quiet
machine and with another process holding one core, for the threading layer numba picks (or
NUMBA_THREADING_LAYER).  Medians of interleaved repeats; one table row per condition::

    for layer in omp workqueue tbb; do NUMBA_THREADING_LAYER=$layer python scripts/threads_under_load.py; done
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np


def measure(repeat: int = 7) -> dict[int, float]:
    import numba

    import p2i_prior as p
    from p2i_prior.synthetic import make_scene

    sc = make_scene(seed=4, height=480, width=640, n_people=5)
    run = lambda: p.segment_people(sc.image, sc.keypoints, sc.score, method="rag")
    times: dict[int, list[float]] = {1: [], 2: []}
    for t in times:  # warm-up: compilation and the thread pool
        numba.set_num_threads(t)
        run()
    for _ in range(repeat):
        for t in times:
            numba.set_num_threads(t)
            t0 = time.perf_counter()
            run()
            times[t].append(time.perf_counter() - t0)
    return {t: 1e3 * float(np.median(v)) for t, v in times.items()}


def main() -> int:
    import numba

    quiet = measure()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        loaded = measure()
    finally:
        busy.kill()
    layer = numba.threading_layer()
    print(f"| {layer} | {os.cpu_count()} cores | quiet: 1 thread {quiet[1]:.1f} ms, 2 threads {quiet[2]:.1f} ms "
          f"({quiet[2] / quiet[1]:.2f}x) | one core busy: 1 thread {loaded[1]:.1f} ms, 2 threads {loaded[2]:.1f} ms "
          f"({loaded[2] / loaded[1]:.2f}x) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
