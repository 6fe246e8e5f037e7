"""Run the benchmark suite and write its results (JSON, markdown, PNG plots)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import socket
import time
import traceback
from typing import Any

from .cases import build_tasks
from .config import Config
from .core import machine_info
from .report import evaluate_targets, fit_exponents, markdown, plot_all

__all__ = ["SCHEMA", "run_suite", "write_results", "results_dir"]

#: Version tag of the JSON layout written by :func:`write_results`.
SCHEMA = "pose2instance-bench/1"


def results_dir() -> str:
    """``bench/results`` of this checkout: where committed results live."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def run_suite(config: Config, *, progress: bool = True, command: str | None = None) -> dict:
    """Run every task of ``config`` and return the result document (see ``bench/README.md``).

    A task that raises is recorded under ``errors`` (with its traceback) and the suite goes on.

    Parameters
    ----------
    config : Config
        What to run (``Config.quick_config()`` for the smoke configuration).
    progress : bool
        Show a tqdm progress bar (on stderr).
    command : str, optional
        The command line that produced the run, stored in the document.

    Returns
    -------
    dict
        Keys ``schema``, ``meta``, ``config``, ``command``, ``results``, ``comparisons``,
        ``skipped``, ``profiles``, ``scaling``, ``scaling_fit``, ``targets``, ``errors``,
        ``wall_s``.

    Examples
    --------
    >>> doc = run_suite(Config.quick_config(cases=["sobel"]), progress=False)  # doctest: +SKIP
    >>> doc["comparisons"][0]["case"]  # doctest: +SKIP
    'sobel'
    """
    t0 = time.perf_counter()
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "meta": machine_info(),
        "config": config.to_json(),
        "command": command or "python -m p2i_bench",
        "results": [], "comparisons": [], "skipped": [], "notes": [], "profiles": [], "scaling": [],
        "errors": [], "gpu_report": [],
    }
    tasks = build_tasks(config)
    restore = _set_threads(config.threads)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), desc="bench", unit="case", dynamic_ncols=True)
    try:
        for task in tasks:
            if bar is not None:
                bar.set_postfix_str(task.label)
            try:
                out = task.run()
            except Exception as exc:  # keep going: one broken case must not lose the others
                doc["errors"].append({"task": task.label, "error": f"{type(exc).__name__}: {exc}",
                                      "traceback": traceback.format_exc()})
                out = {}
            for key, values in out.items():
                doc.setdefault(key, []).extend(values)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        doc["meta"]["threads"] = _thread_info()
        doc["meta"]["load_average_at_end"] = _load()
        restore()
    target = f"{config.target_size[0]}x{config.target_size[1]}"
    # one thread on every side: CPU time decides (load-robust); else the wall clock
    basis = "cpu" if doc["meta"]["threads"]["numba_threads"] == 1 else "wall"
    doc["targets"] = evaluate_targets(doc["comparisons"], target, basis)
    doc["scaling_fit"] = fit_exponents(doc["scaling"])
    doc["wall_s"] = time.perf_counter() - t0
    return doc


def _set_threads(threads: int | None):
    """Set the run's thread count (numba through :func:`p2i_prior.set_threads`, which also sets
    torch's when imported, and OpenCV's); return a function that restores them.  None: leave
    numba's default (all usable cores)."""
    import numba

    from p2i_prior.cpu_threads import set_threads

    before = numba.get_num_threads()
    cv_before = None
    try:
        import cv2

        cv_before = cv2.getNumThreads()
    except ImportError:
        cv2 = None
    if threads is not None:
        set_threads(threads, name="threads")
        if cv2 is not None:
            cv2.setNumThreads(threads)

    def restore():
        numba.set_num_threads(before)
        if cv2 is not None and cv_before is not None:
            cv2.setNumThreads(cv_before)

    return restore


def _load() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except OSError:  # pragma: no cover
        return None


def _thread_info() -> dict:
    import numba

    info = {"numba_threads": numba.get_num_threads(), "numba_threading_layer": None, "opencv_threads": None}
    try:
        info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        pass
    try:
        import cv2

        info["opencv_threads"] = cv2.getNumThreads()
    except ImportError:
        pass
    return info


def _stem(doc: dict) -> str:
    date = doc["meta"]["date"][:10] if doc.get("meta") else _dt.date.today().isoformat()
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", (doc.get("meta") or {}).get("host") or socket.gethostname())
    return f"{date}-{host}"


def write_results(doc: dict, out_dir: str | None = None, *, plots: bool = True,
                  tag: str | None = None) -> dict[str, Any]:
    """Write ``<date>-<host>[-<tag>].json``, ``.md`` and the PNG plots into ``out_dir``.

    Returns ``{"json": path, "markdown": path, "plots": [paths]}``.
    """
    out_dir = out_dir or results_dir()
    os.makedirs(out_dir, exist_ok=True)
    stem = _stem(doc) + (f"-{tag}" if tag else "")
    paths: dict[str, Any] = {"json": os.path.join(out_dir, f"{stem}.json"),
                             "markdown": os.path.join(out_dir, f"{stem}.md"), "plots": []}
    if plots:
        paths["plots"] = plot_all(doc, out_dir, stem)
    doc["files"] = {"markdown": os.path.basename(paths["markdown"]),
                    "plots": [os.path.basename(p) for p in paths["plots"]]}
    with open(paths["json"], "w") as f:
        json.dump(doc, f, indent=1, allow_nan=True, default=str)
        f.write("\n")
    with open(paths["markdown"], "w") as f:
        f.write(markdown(doc))
    return paths
