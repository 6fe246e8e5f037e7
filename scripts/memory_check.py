"""Peak memory of the labels-only path on a large photo-sized scene (issue 8).

    python scripts/memory_check.py --size 3000x4000 --people 50 --method rag

Makes a synthetic scene in a first process, saves it, then runs ``segment_people`` in a fresh
process and prints that process's peak resident memory (``ru_maxrss``), its wall time and the
share of person pixels labelled; exits 1 if the peak exceeds ``--limit-gb``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def _make(args, folder):
    import numpy as np

    from p2i_prior.synthetic import make_scene

    H, W = (int(t) for t in args.size.split("x"))
    sc = make_scene(seed=args.seed, height=H, width=W, n_people=args.people, scale=(0.1, 0.35))
    np.save(os.path.join(folder, "image.npy"), sc.image)
    np.save(os.path.join(folder, "keypoints.npy"), sc.keypoints)
    np.save(os.path.join(folder, "score.npy"), sc.score)


def _run(args, folder):
    import resource

    import numpy as np

    import p2i_prior as p

    image = np.load(os.path.join(folder, "image.npy"))
    kp = np.load(os.path.join(folder, "keypoints.npy"))
    score = np.load(os.path.join(folder, "score.npy"))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t = time.perf_counter()
    labels = p.segment_people(image, kp, score, method=args.method, chunk=args.chunk,
                              n_segments=args.segments)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    person = score >= 0.5
    print(json.dumps({
        "size": args.size, "people": int(kp.shape[0]), "method": args.method, "chunk": args.chunk,
        "segments": args.segments, "peak_rss_gb": round(peak, 3), "rss_before_call_gb": round(base, 3),
        "wall_s": round(wall, 1), "labelled_share_of_person_pixels": round(float((labels[person] > 0).mean()), 3),
        "instances_present": int(len(np.unique(labels)) - 1),
    }))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="3000x4000", help="HxW (default 3000x4000)")
    ap.add_argument("--people", type=int, default=50)
    ap.add_argument("--method", default="rag", choices=("rag", "sweep", "geodesic"))
    ap.add_argument("--chunk", type=int, default=8)
    ap.add_argument("--segments", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit-gb", type=float, default=2.0)
    ap.add_argument("--stage", choices=("all", "make", "run"), default="all")
    ap.add_argument("--folder", default=None)
    args = ap.parse_args(argv)
    if args.stage == "make":
        _make(args, args.folder)
        return 0
    if args.stage == "run":
        _run(args, args.folder)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        common = [sys.executable, os.path.abspath(__file__), "--folder", folder, "--size", args.size,
                  "--people", str(args.people), "--method", args.method, "--chunk", str(args.chunk),
                  "--segments", str(args.segments), "--seed", str(args.seed)]
        subprocess.run(common + ["--stage", "make"], check=True)
        out = subprocess.run(common + ["--stage", "run"], check=True, capture_output=True, text=True).stdout
    print(out.strip())
    peak = json.loads(out)["peak_rss_gb"]
    return 0 if peak <= args.limit_gb else 1


if __name__ == "__main__":
    sys.exit(main())
