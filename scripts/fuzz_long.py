#!/usr/bin/env python
"""The long fuzz run of issue 8: every property of ``tests/test_fuzz.py``, thousands of examples.

Runs each property with Hypothesis' ``long`` profile (random, not derandomised; larger images:
up to 200 px a side for the primitives, 96 for the whole pipeline), prints per property the
examples run and the failing examples, the falsifying example of any failure, and exits 1 if
any property failed (0 otherwise).

    python scripts/fuzz_long.py                  # about 18,700 examples, 2-5 min on 2 cores
    python scripts/fuzz_long.py --scale 0.1      # a quick look (about 1,900)
    python scripts/fuzz_long.py --only sobel,slic --seed 7
    python scripts/fuzz_long.py --max-side 400 --pipe-side 200   # larger images

``examples`` counts every call of the property's body, shrinking included; ``failing`` counts
the calls that failed (after a failure Hypothesis shrinks, so one bug usually fails several
calls).  ``--seed`` makes a run reproducible.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"


class _TmpFactory:
    """Stand-in for pytest's ``tmp_path_factory`` (the CLI property writes files)."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.count = 0

    def mktemp(self, name: str) -> Path:
        self.count += 1
        path = self.root / f"{name}{self.count}"
        path.mkdir()
        return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every property's example count")
    ap.add_argument("--max-side", type=int, default=200, help="largest image side for the primitives")
    ap.add_argument("--pipe-side", type=int, default=96, help="largest image side for the pipeline and CLI")
    ap.add_argument("--only", default=None, help="comma-separated property names (without test_)")
    ap.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random)")
    args = ap.parse_args(argv)

    os.environ["P2I_FUZZ_PROFILE"] = "long"
    os.environ["P2I_FUZZ_SCALE"] = str(args.scale)
    os.environ["P2I_FUZZ_MAX_SIDE"] = str(args.max_side)
    os.environ["P2I_FUZZ_PIPE_SIDE"] = str(args.pipe_side)
    if not (os.path.exists("/dev/nvidia0")):
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # as tests/conftest.py does
    sys.path.insert(0, str(TESTS))
    import warnings

    import hypothesis

    import test_fuzz as tf

    warnings.filterwarnings("ignore", "__array__ implementation doesn't accept a copy keyword")
    names = sorted(n for n in dir(tf) if n.startswith("test_") and hasattr(getattr(tf, n), "hypothesis"))
    if args.only:
        wanted = {"test_" + w.strip().removeprefix("test_") for w in args.only.split(",")}
        unknown = wanted - set(names)
        if unknown:
            ap.error(f"--only: unknown properties {sorted(unknown)}; known: {[n[5:] for n in names]}")
        names = [n for n in names if n in wanted]

    failed: dict[str, str] = {}
    rows = []
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="p2i_fuzz_") as tmp:
        factory = _TmpFactory(tmp)
        for name in names:
            test = getattr(tf, name)
            if args.seed is not None:
                test = hypothesis.seed(args.seed)(test)
            kwargs = {"tmp_path_factory": factory} if name == "test_cli_segment" else {}
            t = time.perf_counter()
            print(f"{name} ...", flush=True)
            try:
                test(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - every failure is reported
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failed[name] = "".join(traceback.format_exception(exc))[-6000:]
            examples, failing = tf.STATS.get(name, [0, 0])
            dt = time.perf_counter() - t
            rows.append((name, examples, failing, dt))
            print(f"  {examples} examples, {failing} failing, {dt:.0f} s", flush=True)

    total_ex = sum(r[1] for r in rows)
    total_fail = sum(r[2] for r in rows)
    print()
    print(f"{'property':<36} {'examples':>9} {'failing':>8} {'seconds':>8}")
    for name, ex, fail, dt in rows:
        print(f"{name:<36} {ex:>9} {fail:>8} {dt:>8.0f}")
    print(f"{'total':<36} {total_ex:>9} {total_fail:>8} {time.perf_counter() - t_all:>8.0f}")
    for name, text in failed.items():
        print(f"\n=== {name} FAILED ===\n{text}")
    print(f"\n{len(failed)} of {len(rows)} properties failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
