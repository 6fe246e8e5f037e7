"""Throughput and quality of ``p2i annotate`` on a COCO persons set (issue 15).

Runs ``p2i_prior.annotate.annotate`` on every image of the set, regenerating every person with
keypoints (``overwrite``), with 1 and 2 local workers and on a Dask ``LocalCluster`` with 1 and
2 worker processes (one thread each), checks that every run wrote the same bytes, and scores
the annotated file against the set's real masks next to ``p2i eval`` run directly with the same
method and score.  Writes ``OUT.json`` and ``OUT.md``.

    python scripts/annotate_bench.py --coco ../shared/data/coco_persons --out bench/results/DATE-annotate
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import tempfile
import time


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def run_one(ann: str, images: str, out: str, **kw) -> dict:
    from p2i_prior.annotate import annotate

    before = load()
    t0 = time.perf_counter()
    s = annotate(ann, out, images_dir=images, overwrite=True, progress=False, warn=lambda t: None, force=True, **kw)
    wall = time.perf_counter() - t0
    with open(out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    n = s["counts"]["images_with_work"]
    return dict(settings={k: v for k, v in kw.items()}, images=n, people=s["counts"]["generated"], wall_s=round(wall, 2),
                images_per_s=round(n / wall, 3), s_per_image=round(wall / n, 4),
                compute_s_per_image=round(s["compute_seconds_per_image"], 4), load_before=before, load_after=load(),
                sha256=digest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--coco", required=True, help="folder with annotations.json and images/")
    ap.add_argument("--out", required=True, help="output stem (writes STEM.json and STEM.md)")
    ap.add_argument("--score", default="selfie")
    ap.add_argument("--method", default="rag")
    ap.add_argument("--shard-size", type=int, default=8)
    ap.add_argument("--skip-eval", action="store_true")
    args = ap.parse_args()
    ann, images = os.path.join(args.coco, "annotations.json"), os.path.join(args.coco, "images")
    tmp = tempfile.mkdtemp(prefix="p2i-annotate-bench-")
    common = dict(score=args.score, method=args.method, shard_size=args.shard_size)

    # warm-up: this process's kernels loaded from numba's cache before any timing
    run_one(os.path.join(os.path.dirname(__file__), "..", "tests", "data", "coco", "annotations.json"),
            os.path.join(os.path.dirname(__file__), "..", "tests", "data", "coco", "images"),
            os.path.join(tmp, "warm.json"), **common)
    runs = {}
    runs["local, 1 worker (in process), 2 numba threads"] = run_one(ann, images, os.path.join(tmp, "w1.json"),
                                                                   workers=1, **common)
    runs["local, 1 worker (in process), 1 numba thread"] = run_one(ann, images, os.path.join(tmp, "w1t1.json"),
                                                                  workers=1, threads=1, **common)
    runs["local, 2 workers (spawned processes)"] = run_one(ann, images, os.path.join(tmp, "w2.json"), workers=2, **common)
    from distributed import LocalCluster

    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            runs[f"Dask LocalCluster, {n} worker(s) x 1 thread"] = run_one(
                ann, images, os.path.join(tmp, f"d{n}.json"), scheduler=cluster.scheduler_address, **common)
    digests = {r["sha256"] for r in runs.values()}

    quality = {}
    if not args.skip_eval:
        from p2i_prior.evaluate import RANKS, evaluate_methods
        from p2i_prior.provenance import evaluate_annotated

        for rank in [r for r in ("score", "quality") if r in RANKS]:
            t0 = time.perf_counter()
            direct = evaluate_methods(ann, images, methods=[args.method], score=args.score, roi="box", rank=rank,
                                      workers=2, progress=False)["methods"][args.method]
            scored = evaluate_annotated(ann, os.path.join(tmp, "w1.json"), rank)["methods"][args.method]
            keys = ("ap50", "ap", "ap75", "mean_instance_iou", "n_instances", "n_detections")
            quality[rank] = dict(direct={k: direct[k] for k in keys}, annotated={k: scored[k] for k in keys},
                                 equal=all(direct[k] == scored[k] for k in keys),
                                 eval_wall_s=round(time.perf_counter() - t0, 1))

    import numba

    report = dict(
        set=args.coco, command=f"p2i annotate {ann} --images {images} --out OUT.json --overwrite --score {args.score} "
        f"--method {args.method} --shard-size {args.shard_size} [--workers 2 | --scheduler ADDRESS]",
        machine=dict(platform=platform.platform(), processor=platform.processor() or platform.machine(),
                     cpu_count=os.cpu_count(), python=platform.python_version(), numba=numba.__version__),
        runs=runs, byte_identical=len(digests) == 1, quality=quality)
    with open(args.out + ".json", "w") as f:
        json.dump(report, f, indent=1)
    lines = [f"# p2i annotate on {args.coco}: score {args.score}, method {args.method}", "",
             f"Machine: {report['machine']}. Command: `{report['command']}`.", "",
             "| run | images | masks | wall s | images/s | wall s/image | compute s/image in a worker | load (1 min) "
             "before -> after |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, r in runs.items():
        lines.append(f"| {name} | {r['images']} | {r['people']} | {r['wall_s']} | {r['images_per_s']} | "
                     f"{r['s_per_image']} | {r['compute_s_per_image']} | {r['load_before'][0]} -> {r['load_after'][0]} |")
    lines += ["", f"Outputs byte-identical across the runs: {report['byte_identical']}.", ""]
    for rank, q in quality.items():
        lines.append(f"Quality, rank `{rank}`: p2i eval directly AP^r@0.5 {q['direct']['ap50']:.4f}, AP^r@[.5:.95] "
                     f"{q['direct']['ap']:.4f}, mean IoU {q['direct']['mean_instance_iou']:.4f}; the annotated json "
                     f"scored by p2i eval --results: {q['annotated']['ap50']:.4f}, {q['annotated']['ap']:.4f}, "
                     f"{q['annotated']['mean_instance_iou']:.4f}; equal: {q['equal']}.")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
