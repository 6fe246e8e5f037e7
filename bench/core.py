"""Timing machinery and machine metadata for the benchmark suite.

The method (see ``bench/README.md``): every implementation is warmed up (first call: numba
compilation, imports, caches) and then timed over several repeats with
:func:`time.perf_counter`; GPU work is synchronised inside the timed region (``sync``).
Implementations compared with each other are timed *interleaved* (A, B, A, B, ...) on the
same inputs, so that load from other processes on a shared machine hits both sides alike, and
the comparison is reported as the ratio of medians measured in that same run.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "Measurement",
    "measure",
    "measure_group",
    "ratio",
    "machine_info",
    "gpu_present",
]


@dataclass
class Measurement:
    """Wall-clock times of one implementation on one input.

    Attributes
    ----------
    times_s : list of float
        The timed repeats, in seconds (warm-up excluded): wall clock (``time.perf_counter``).
    warmup_s : list of float
        The warm-up calls' times (not used in the statistics).
    cpu_s : list of float
        The CPU time of the process during each timed repeat (``time.process_time``: user +
        system, all threads).  With one thread on every side this is the time the work took
        with the waits for other jobs' time slices taken out: on a loaded machine the long
        calls of a comparison are preempted more often than the short ones, which bends the
        wall-clock ratio, and the CPU-time ratio much less (``bench/README.md``).
    """

    times_s: list[float]
    warmup_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        """Median of the timed repeats (s)."""
        return float(np.median(self.times_s))

    @property
    def q1_s(self) -> float:
        """First quartile (s)."""
        return float(np.percentile(self.times_s, 25))

    @property
    def q3_s(self) -> float:
        """Third quartile (s)."""
        return float(np.percentile(self.times_s, 75))

    @property
    def iqr_s(self) -> float:
        """Interquartile range (s): the spread; 0 with a single repeat."""
        return self.q3_s - self.q1_s

    @property
    def min_s(self) -> float:
        """Fastest repeat (s)."""
        return float(np.min(self.times_s))

    @property
    def cpu_median_s(self) -> float | None:
        """Median CPU time of the timed repeats (s); None without CPU times."""
        return float(np.median(self.cpu_s)) if self.cpu_s else None

    def summary(self) -> dict:
        """The statistics and raw times as a JSON-ready dict."""
        cpu = {"cpu_median_s": self.cpu_median_s, "cpu_q1_s": None, "cpu_q3_s": None,
               "cpu_times_s": [float(t) for t in self.cpu_s]}
        if self.cpu_s:
            cpu["cpu_q1_s"] = float(np.percentile(self.cpu_s, 25))
            cpu["cpu_q3_s"] = float(np.percentile(self.cpu_s, 75))
        return {
            "median_s": self.median_s,
            "q1_s": self.q1_s,
            "q3_s": self.q3_s,
            "iqr_s": self.iqr_s,
            "min_s": self.min_s,
            "n_repeat": len(self.times_s),
            "n_warmup": len(self.warmup_s),
            "times_s": [float(t) for t in self.times_s],
            "warmup_s": [float(t) for t in self.warmup_s],
            **cpu,
        }


def _timed(fn: Callable[[], Any], sync: Callable[[], Any] | None) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    fn()
    if sync is not None:
        sync()
    t1 = time.perf_counter()
    return t1 - t0, time.process_time() - c0


def _n_repeats(warm: float, repeat: int, max_time: float, min_time: float = 0.0,
               max_repeat: int = 200) -> int:
    """Repeats for one implementation given one call's ``warm`` time.

    ``repeat``, raised for fast calls until the repeats fill ``min_time`` seconds (at most
    ``max_repeat``), and cut for slow ones to what fits in ``max_time`` (at least 1).
    """
    if warm <= 0:
        return repeat
    n = max(repeat, min(max_repeat, math.ceil(min_time / warm)))
    return int(max(1, min(n, math.floor(max_time / warm))))


def _schedule(counts: dict[str, int]) -> list[str]:
    """Interleaved call order: each implementation's calls spread evenly over the rounds.

    Examples
    --------
    >>> "".join(_schedule({"a": 4, "b": 2}))
    'aabaab'
    """
    rounds = max(counts.values(), default=0)
    order = []
    for r in range(rounds):
        for k, c in counts.items():
            if (r + 1) * c // rounds > r * c // rounds:
                order.append(k)
    return order


def measure_group(
    fns: Mapping[str, Callable[[], Any]],
    *,
    repeat: int = 7,
    warmup: int = 1,
    max_time: float = 10.0,
    min_time: float = 0.0,
    sync: Callable[[], Any] | None = None,
) -> dict[str, Measurement]:
    """Time several implementations of the same thing, interleaved, on the same inputs.

    Parameters
    ----------
    fns : mapping name -> zero-argument callable
        The implementations (each closes over its inputs; inputs are prepared outside).
    repeat : int >= 1
        Timed repeats per implementation (fewer for a slow one, see ``max_time``).
    warmup : int >= 0
        Untimed calls per implementation before the timed ones.
    max_time : float > 0
        Time budget per implementation (s): an implementation whose warm-up call took ``t``
        gets at most ``floor(max_time / t)`` repeats (at least 1).
    min_time : float >= 0
        A fast implementation gets more repeats, until they fill ``min_time`` seconds (at most
        200): short calls are the most exposed to scheduler noise on a loaded machine.
    sync : callable, optional
        Called inside the timed region after each call (e.g. a CUDA stream synchronise).

    Returns
    -------
    dict name -> Measurement

    Examples
    --------
    >>> m = measure_group({"sum": lambda: sum(range(100))}, repeat=3)
    >>> m["sum"].median_s > 0, len(m["sum"].times_s)
    (True, 3)
    """
    if repeat < 1:
        raise ValueError(f"repeat: expected an integer >= 1, got {repeat}")
    if warmup < 0:
        raise ValueError(f"warmup: expected an integer >= 0, got {warmup}")
    names = list(fns)
    warm: dict[str, list[float]] = {k: [] for k in names}
    for k in names:
        for _ in range(warmup):
            warm[k].append(_timed(fns[k], sync)[0])
    counts = {}
    for k in names:
        estimate = warm[k][-1] if warm[k] else 0.0
        counts[k] = _n_repeats(estimate, repeat, max_time, min_time)
    times: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    for k in _schedule(counts):  # interleaved, each implementation spread over the run
        wall, c = _timed(fns[k], sync)
        times[k].append(wall)
        cpu[k].append(c)
    return {k: Measurement(times[k], warm[k], cpu[k]) for k in names}


def measure(fn: Callable[[], Any], **kwargs: Any) -> Measurement:
    """Time one callable (see :func:`measure_group` for the keyword arguments).

    Examples
    --------
    >>> len(measure(lambda: None, repeat=2).times_s)
    2
    """
    return measure_group({"f": fn}, **kwargs)["f"]


def ratio(reference: Measurement, ours: Measurement) -> dict:
    """Speed-up of ``ours`` over ``reference``: ratio of medians, with a conservative range.

    Returns
    -------
    dict
        ``speedup`` = reference median / ours median (> 1: ours is faster), and
        ``speedup_lo`` / ``speedup_hi`` = ``ref_q1 / ours_q3`` and ``ref_q3 / ours_q1``, all of
        wall-clock times; ``cpu_speedup`` = the same ratio of median CPU times (None when either
        side has none or a zero median).

    Examples
    --------
    >>> r = ratio(Measurement([2.0, 2.0], cpu_s=[3.0, 3.0]), Measurement([1.0, 1.0], cpu_s=[1.0, 1.0]))
    >>> r["speedup"], r["cpu_speedup"]
    (2.0, 3.0)
    """
    rc, oc = reference.cpu_median_s, ours.cpu_median_s
    return {
        "speedup": reference.median_s / ours.median_s,
        "speedup_lo": reference.q1_s / ours.q3_s,
        "speedup_hi": reference.q3_s / ours.q1_s,
        "cpu_speedup": rc / oc if rc is not None and oc else None,
    }


# ---------------------------------------------------------------------------------------------
# machine metadata


def gpu_present() -> bool:
    """Whether a real CUDA GPU is visible (never true under Numba's CUDA simulator)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    if os.path.exists("/dev/nvidia0"):
        return True
    return bool(_nvidia_smi())


def _nvidia_smi() -> list[str]:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def _git(*args: str) -> str | None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=20, check=True
        ).stdout.rstrip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> dict:
    """CPU, cores, GPU, library versions, git commit and date of this run, as a dict.

    Examples
    --------
    >>> info = machine_info()
    >>> sorted(info)[:3]
    ['cores_logical', 'cores_usable', 'cpu']
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        usable = os.cpu_count()
    try:
        load = list(os.getloadavg())
    except OSError:  # pragma: no cover
        load = None
    packages = [
        "pose2instance", "numpy", "scipy", "scikit-image", "numba", "numba-cuda", "scikit-fmm",
        "opencv-contrib-python-headless", "opencv-python-headless", "fast-slic", "edt", "FastGeodis",
        "cupy-cuda12x", "torch", "matplotlib", "tqdm",
    ]
    numba_threads = None
    try:
        import numba

        numba_threads = int(numba.config.NUMBA_NUM_THREADS)
    except Exception:  # pragma: no cover
        pass
    status = _git("status", "--porcelain", "--", "p2i_prior", "kernels", "bench")
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "cpu": _cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_usable": usable,
        "numba_threads": numba_threads,
        "load_average_at_start": load,
        "gpu": _nvidia_smi() if gpu_present() else [],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {p: _version(p) for p in packages},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        # uncommitted or untracked library files the run measured (they are not in git_commit)
        "git_changes": [] if not status else status.splitlines(),
    }


def as_dict(obj: Any) -> Any:
    """``dataclasses.asdict`` for dataclasses, the object itself otherwise."""
    try:
        return asdict(obj)
    except TypeError:
        return obj


def sizes_label(sizes: Sequence[tuple[int, int]]) -> str:
    """``"320x240,640x480"`` for ``[(320, 240), (640, 480)]`` (width x height)."""
    return ",".join(f"{w}x{h}" for w, h in sizes)
