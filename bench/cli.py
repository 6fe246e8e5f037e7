"""``p2i bench`` and ``python -m p2i_bench``: run the benchmark suite.

``register`` stays cheap (argparse only); the suite's heavy imports happen in :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

__all__ = ["register", "add_arguments", "parse_sizes", "config_from_args", "run", "main"]

#: ``python -m p2i_bench`` (installed name), or ``python -m bench`` when run from the repository root.
PROG = f"python -m {__name__.rpartition('.')[0] or 'p2i_bench'}"

DESCRIPTION = (
    "Time every pose2instance primitive and the whole prior against the tools users would\n"
    "pick instead (scikit-image, SciPy, scikit-fmm; OpenCV, fast-slic, edt, FastGeodis when\n"
    "installed), on the same inputs, interleaved, with warm-up, median and IQR, wall clock and CPU\n"
    "time, one thread by default. Writes <date>-<host>.json, .md and PNG plots\n"
    "into --out (default p2i_out/bench, untracked; pass --out bench/results to add to the committed\n"
    "results). --quick runs a tiny configuration in seconds."
)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"320x240,640x480"`` -> ``[(320, 240), (640, 480)]`` (width x height).

    Examples
    --------
    >>> parse_sizes("320x240, 640x480")
    [(320, 240), (640, 480)]
    """
    sizes = []
    for part in str(text).split(","):
        part = part.strip().lower()
        try:
            w, h = (int(v) for v in part.split("x"))
        except ValueError:
            raise ValueError(
                f"sizes: expected WIDTHxHEIGHT[,WIDTHxHEIGHT...] such as 640x480, got {text!r}"
            ) from None
        if not (16 <= w <= 4096 and 16 <= h <= 4096):
            raise ValueError(f"sizes: expected widths and heights in [16, 4096], got {w}x{h}")
        sizes.append((w, h))
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The suite's options (shared by ``p2i bench`` and ``python -m p2i_bench``)."""
    from .cases import CASES

    parser.add_argument("--quick", action="store_true",
                        help="tiny inputs, synthetic only, one thread, >= 5 repeats: 10-20 s (smoke test)")
    parser.add_argument("--sizes", default=None,
                        help="image sizes WIDTHxHEIGHT, comma separated (default 320x240,640x480,1280x960)")
    parser.add_argument("--repeat", type=int, default=None, help="timed repeats per implementation (default 7)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed warm-up calls (default 1)")
    parser.add_argument("--max-time", type=float, default=None,
                        help="seconds per implementation and case before repeats are cut (default 10)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds that the repeats of a fast implementation fill (more repeats, "
                             "at most 200; default 1)")
    parser.add_argument("--inputs", choices=("auto", "synthetic", "coco"), default=None,
                        help="auto: a COCO photo when ../shared/data/coco_persons exists, and a synthetic scene")
    parser.add_argument("--coco-dir", default=None, help="COCO persons folder (annotations.json + images/)")
    parser.add_argument("--photos", type=int, default=None,
                        help="COCO photos per size: those with the number of people closest to 5 "
                             "(ties: lowest id; default 1)")
    parser.add_argument("--cases", default=None,
                        help=f"comma-separated subset of: {', '.join(CASES)} (default all)")
    parser.add_argument("--max-k-fw", type=int, default=None,
                        help="largest K for the O(K^3) Floyd-Warshall solvers (default 2048)")
    parser.add_argument("--threads", default=None,
                        help="threads of numba and of the peers that take a count (OpenCV, fast-slic, "
                             "edt, torch) for the run: N or 'all' (default 1: one core against the "
                             "single-threaded references)")
    parser.add_argument("--out", default="p2i_out/bench",
                        help="output folder (default p2i_out/bench, untracked; the committed results: "
                             "--out bench/results)")
    parser.add_argument("--tag", default=None,
                        help="suffix of the file names: <date>-<host>-<tag>.json/.md/.png (letters, digits, "
                             "'.', '_', '-')")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``p2i bench`` to the ``p2i`` command line."""
    p = sub.add_parser("bench", help="benchmark the primitives and the prior against scikit-image/SciPy",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    """The :class:`.config.Config` an argument namespace asks for."""
    from .config import Config

    over = {
        "sizes": None if args.sizes is None else parse_sizes(args.sizes),
        "repeat": args.repeat, "warmup": args.warmup, "max_time": args.max_time, "min_time": args.min_time,
        "inputs": args.inputs, "coco_dir": args.coco_dir, "photos": args.photos,
        "cases": None if args.cases is None else [c.strip() for c in args.cases.split(",") if c.strip()],
        "max_k_floyd_warshall": args.max_k_fw, "threads": None if args.threads == "all" else
        _threads_arg(args.threads),
    }
    if args.repeat is not None and args.repeat < 1:
        raise ValueError(f"repeat: expected an integer >= 1, got {args.repeat}")
    if args.warmup is not None and args.warmup < 0:
        raise ValueError(f"warmup: expected an integer >= 0, got {args.warmup}")
    if args.max_time is not None and not args.max_time > 0:
        raise ValueError(f"max_time: expected a number > 0, got {args.max_time}")
    if args.photos is not None and args.photos < 1:
        raise ValueError(f"photos: expected an integer >= 1, got {args.photos}")
    if args.min_time is not None and not args.min_time >= 0:
        raise ValueError(f"min_time: expected a number >= 0, got {args.min_time}")
    if args.quick:
        config = Config.quick_config(**over)
    else:
        config = Config(**{k: v for k, v in over.items() if v is not None})
    if args.threads == "all":
        config.threads = None  # numba's default: all usable cores
    return config


def _threads_arg(value) -> int | None:
    """``--threads``: None (not given), or an integer >= 1 (its upper bound is checked when the
    suite sets it, by :func:`p2i_prior.set_threads`)."""
    if value is None:
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"threads: expected an integer >= 1 or 'all', got {value!r}") from None
    if n < 1:
        raise ValueError(f"threads: expected an integer >= 1 or 'all', got {value!r}")
    return n


def run(args: argparse.Namespace) -> int:
    """Run the suite as ``args`` asks; print where the results went and the targets."""
    from .suite import run_suite, write_results

    config = config_from_args(args)
    tag = getattr(args, "tag", None)
    if tag is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", tag):
        raise ValueError(f"tag: expected letters, digits, '.', '_' or '-', got {tag!r}")
    argv = getattr(args, "argv", None)
    if argv is not None:  # python -m p2i_bench
        command = " ".join([PROG, *argv])
    else:  # p2i bench (or a caller of run)
        command = " ".join([os.path.basename(sys.argv[0] or "p2i"), *sys.argv[1:]])
    doc = run_suite(config, progress=not args.no_progress, command=command.strip())
    paths = write_results(doc, args.out, plots=not args.no_plots, tag=getattr(args, "tag", None))
    for line in summary_lines(doc):
        print(line)
    for e in doc["errors"]:
        print(f"error in {e['task']}: {e['error']}", file=sys.stderr)
    print(f"wrote {paths['json']}")
    print(f"wrote {paths['markdown']}")
    for p in paths["plots"]:
        print(f"wrote {p}")
    return 1 if doc["errors"] else 0


def summary_lines(doc: dict) -> list[str]:
    """What ``p2i bench`` prints: threads and load, the skipped peers (with how to install them),
    the notes, and each target's wall-clock and CPU-time ratios with its status."""
    meta = doc.get("meta", {})
    th = meta.get("threads") or {}
    load = lambda v: "?" if not v else ", ".join(f"{x:.1f}" for x in v)  # noqa: E731
    lines = [f"threads: numba {th.get('numba_threads')} ({th.get('numba_threading_layer')}), "
             f"OpenCV {th.get('opencv_threads')}; load average {load(meta.get('load_average_at_start'))} "
             f"at start, {load(meta.get('load_average_at_end'))} at end; {meta.get('cores_usable')} usable cores"]
    for s in {(s["case"], s["impl"]): s for s in doc.get("skipped", [])}.values():
        lines.append(f"skipped {s['case']} {s['impl']}: {s['reason']}")
    for n in {(n["case"], n["impl"]): n for n in doc.get("notes", [])}.values():
        lines.append(f"note {n['case']} {n['impl']}: {n['note']}")
    for t in doc["targets"]:
        if t["speedup"] is not None:
            status = "met" if t["met"] else "SHORT"
            cpu = "-" if t.get("cpu_speedup") is None else f"{t['cpu_speedup']:.3g}x"
            lines.append(f"target {t['case']} {t['size']} ({t['input']}) {t['ours']} vs {t['reference']}: "
                         f"{t['speedup']:.3g}x wall, {cpu} CPU time (goal >= {t['target']:g}x, "
                         f"{t['basis']}) {status}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m p2i_bench [options]``."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return run(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
