"""Our SLIC (``p2i_prior.slic``, both algorithms) against fast-slic's AVX2 SLIC: time per stage
(one thread, interleaved runs, medians) and quality on the coco_persons person boundaries.

    python scripts/slic_vs_fastslic.py [--data ../shared/data/coco_persons] [--limit N]
        [--repeat 5] [--json out.json] [--knock-on 3]

fast-slic: ``pip install cython; pip install --no-build-isolation fast-slic``.  Its stages come
from its own timer (``slic_model.last_timing_report``, microseconds): Lab = cielab_conversion +
write_to_buffer, iterations = assign + update + full_assign + write_back, connectivity =
enforce_connectivity.  Ours: Lab = ``_fast_planes`` (Lab planes and their row prefix sums), iterations =
``cluster_labels``, connectivity = ``connected_runs`` + ``merge_runs``; the totals are one
``slic(...)`` / ``SlicAvx2(...).iterate(...)`` call each, input checks included.  Greyscale
photos are stacked to three channels for every method.

``--knock-on N``: ``segment_people(image, keypoints, gt person mask, method="rag")`` on the
first N photos with each SLIC (``slic(...)`` then ``segment_people(..., labels=...)``, the
SLIC time included): ``algorithm="skimage"`` (the pipeline before), ``"fast"`` with
``min_size_factor=0.5`` (what the pipeline passes today, ``defaults.SLIC_MIN_SIZE_FACTOR``)
and ``"fast"`` with its default 0.1; interleaved, medians.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def ground_truth(coco, info, shape):
    """Background 0, person i -> i + 1 (smaller persons drawn over larger ones)."""
    anns = coco.loadAnns(coco.getAnnIds(imgIds=info["id"], catIds=[1]))
    gt = np.zeros(shape, np.int32)
    for i, ann in enumerate(sorted(anns, key=lambda a: -a["area"])):
        gt[coco.annToMask(ann) > 0] = i + 1
    return gt


def stages_fastslic(report):
    """(lab, iterations, connectivity) in ms from fast-slic's timing report."""
    tree = json.loads(report)
    acc = {"lab": 0, "iterations": 0, "connectivity": 0}
    where = {"cielab_conversion": "lab", "write_to_buffer": "lab", "assign": "iterations",
             "update": "iterations", "full_assign": "iterations", "write_back": "iterations",
             "enforce_connectivity": "connectivity"}
    for child in tree["children"]:
        if child["name"] in where:
            acc[where[child["name"]]] += child["duration"]
    return {k: v / 1e3 for k, v in acc.items()}


def stages_ours(im, n_segments):
    from p2i_prior.superpixels import _fast_planes
    from p2i_prior.kernels import slic_fast as kf

    H, W = im.shape[:2]
    t0 = time.perf_counter()
    planes, cum = _fast_planes(im)
    t1 = time.perf_counter()
    labels, K = kf.cluster_labels(planes, cum, W, n_segments, 10.0, 10)
    t2 = time.perf_counter()
    kf.merge_runs(H, W, *kf.connected_runs(labels), cum, int(0.1 * H * W / K), K)
    t3 = time.perf_counter()
    return {"lab": (t1 - t0) * 1e3, "iterations": (t2 - t1) * 1e3, "connectivity": (t3 - t2) * 1e3}


def knock_on(data, n_photos, repeat):
    """Median ms of segment_people(method="rag") per photo with each SLIC variant."""
    from p2i_prior import segment_people, slic
    from p2i_prior.coco import load_persons

    variants = {"skimage": dict(algorithm="skimage"),
                "fast_min_size_0.5": dict(algorithm="fast", min_size_factor=0.5),
                "fast_default": dict(algorithm="fast")}
    out = {}
    for rec in load_persons(os.path.join(data, "annotations.json")).images[:n_photos]:
        img = rec.load_image()
        score = rec.person_mask().astype(np.float32)
        times = {v: [] for v in variants}
        for _ in range(repeat + 1):  # the first round compiles
            for v, kw in variants.items():
                t = time.perf_counter()
                lab = slic(img, n_segments=1000, **kw)
                segment_people(img, rec.keypoints, score, method="rag", labels=lab)
                times[v].append((time.perf_counter() - t) * 1e3)
        out[rec.file_name] = {v: float(np.median(t[1:])) for v, t in times.items()}
        print(rec.file_name, {v: round(x, 1) for v, x in out[rec.file_name].items()}, flush=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared",
                                                    "data", "coco_persons"))
    ap.add_argument("--limit", type=int, default=0, help="first N photos (0: all)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n-segments", type=int, default=1000)
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-skimage", action="store_true", help="skip scikit-image's slic quality")
    ap.add_argument("--knock-on", type=int, default=0, help="segment_people(rag) timing on N photos")
    args = ap.parse_args(argv)

    import numba
    from pycocotools.coco import COCO
    from skimage.io import imread
    from skimage.segmentation import slic as sk_slic
    from fast_slic.avx2 import SlicAvx2

    from p2i_prior import slic
    from p2i_prior.superpixels import boundary_recall, undersegmentation_error

    numba.set_num_threads(1)
    n = args.n_segments
    coco = COCO(os.path.join(args.data, "annotations.json"))
    infos = sorted(coco.dataset["images"], key=lambda i: i["id"])
    if args.limit:
        infos = infos[: args.limit]
    uptime_before = open("/proc/loadavg").read().split()[:3]

    methods = {
        "ours_fast": lambda im: slic(im, n_segments=n),
        "fast_slic": lambda im: SlicAvx2(num_components=n, compactness=10, num_threads=1).iterate(im),
        "ours_skimage": lambda im: slic(im, n_segments=n, algorithm="skimage"),
    }
    if not args.no_skimage:
        methods["skimage"] = lambda im: sk_slic(im, n_segments=n, compactness=10, start_label=0)
    quality = {m: [] for m in methods}
    per_photo = []
    for idx, info in enumerate(infos):
        im = imread(os.path.join(args.data, "images", info["file_name"]))
        if im.ndim == 2:
            im = np.ascontiguousarray(np.repeat(im[..., None], 3, -1))
        im = np.ascontiguousarray(im[..., :3])
        gt = ground_truth(coco, info, im.shape[:2])
        for m, f in methods.items():
            lab = np.asarray(f(im))
            quality[m].append({"br": boundary_recall(lab, gt), "ue": undersegmentation_error(lab, gt),
                               "k": int(lab.max()) + 1})
        # timing, interleaved: ours (total), fast-slic (total, stages), ours (stages)
        t_ours, t_fs, t_sk = [], [], []
        st_ours, st_fs = [], []
        slic(im, n_segments=n)
        for _ in range(args.repeat):
            t = time.perf_counter()
            slic(im, n_segments=n)
            t_ours.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            s = SlicAvx2(num_components=n, compactness=10, num_threads=1)
            s.iterate(im)
            t_fs.append((time.perf_counter() - t) * 1e3)
            st_fs.append(stages_fastslic(s.slic_model.last_timing_report))
            st_ours.append(stages_ours(im, n))
            t = time.perf_counter()
            slic(im, n_segments=n, algorithm="skimage")
            t_sk.append((time.perf_counter() - t) * 1e3)
        med = lambda rows, k: float(np.median([r[k] for r in rows]))
        rec = {"image": info["file_name"], "shape": list(im.shape[:2]),
               "ours_total_ms": float(np.median(t_ours)), "fastslic_total_ms": float(np.median(t_fs)),
               "ours_skimage_total_ms": float(np.median(t_sk)),
               "ours_stages_ms": {k: med(st_ours, k) for k in st_ours[0]},
               "fastslic_stages_ms": {k: med(st_fs, k) for k in st_fs[0]}}
        per_photo.append(rec)
        print(f"{idx + 1:3d}/{len(infos)} {info['file_name']} ours {rec['ours_total_ms']:.2f} ms "
              f"fast-slic {rec['fastslic_total_ms']:.2f} ms "
              f"K {quality['ours_fast'][-1]['k']}/{quality['fast_slic'][-1]['k']}", flush=True)

    uptime_after = open("/proc/loadavg").read().split()[:3]
    summary = {"photos": len(per_photo), "n_segments": n, "threads": 1, "repeat": args.repeat,
               "loadavg_before": uptime_before, "loadavg_after": uptime_after}
    summary["median_ms"] = {
        "ours_total": float(np.median([r["ours_total_ms"] for r in per_photo])),
        "fastslic_total": float(np.median([r["fastslic_total_ms"] for r in per_photo])),
        "ours_skimage_total": float(np.median([r["ours_skimage_total_ms"] for r in per_photo])),
    }
    for who in ("ours", "fastslic"):
        for k in ("lab", "iterations", "connectivity"):
            summary["median_ms"][f"{who}_{k}"] = float(np.median([r[f"{who}_stages_ms"][k] for r in per_photo]))
    ratios = [r["fastslic_total_ms"] / r["ours_total_ms"] for r in per_photo]
    summary["speedup_vs_fastslic"] = {"median": float(np.median(ratios)), "min": float(np.min(ratios)),
                                      "max": float(np.max(ratios))}
    summary["quality"] = {}
    for m, rows in quality.items():
        br = np.array([r["br"] for r in rows])
        ue = np.array([r["ue"] for r in rows])
        k = np.array([r["k"] for r in rows])
        summary["quality"][m] = {
            "boundary_recall_mean": float(br.mean()), "boundary_recall_min": float(br.min()),
            "boundary_recall_max": float(br.max()), "ue_mean": float(ue.mean()),
            "ue_min": float(ue.min()), "ue_max": float(ue.max()),
            "k_min": int(k.min()), "k_max": int(k.max()), "k_median": float(np.median(k)),
            "k_within_5pct": int((np.abs(k - n) <= 0.05 * n).sum()),
        }
    br_o = np.array([r["br"] for r in quality["ours_fast"]])
    br_f = np.array([r["br"] for r in quality["fast_slic"]])
    summary["photos_ours_recall_ge_fastslic"] = int((br_o >= br_f).sum())
    if args.knock_on:
        summary["segment_people_rag_ms"] = knock_on(args.data, args.knock_on, args.repeat)
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        rev = ""
    summary["git"] = rev
    summary["command"] = "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "per_photo": per_photo, "quality": quality}, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
