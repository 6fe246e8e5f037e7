"""Cross-validate the "unexplained pixels" rule of segment_people (reach, reach_min_keypoints).

    python scripts/cv_unexplained.py --dev DEV.json --extra EXTRA.json [--folds 5] [--out MD]

For every image of the dev and extra sets, every keypoint method (rag, sweep, geodesic), keypoints
alone and with boxes, gt score, component gate on: the labels without the rule, then the rule
(p2i_prior.gates.drop_unexplained) on a grid of (reach, min_keypoints).  Fold f of the dev set
(sorted image ids, position % k == f) gets, per setting (keypoints alone, with boxes), the grid
point with the best mean instance IoU on the extra set and the other dev folds, pooled over the
three methods (grid point "off" included); the held-out predictions are then scored together:
mean instance IoU and AP^r with the default ranking of p2i eval (the shipped quality model).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from p2i_prior.coco import evaluate_segm, load_persons, masks_to_results
from p2i_prior.evaluate import _iou, predict_image
from p2i_prior.gates import owner_reach
from p2i_prior.masks import masks_from_labels
from p2i_prior.quality import predict_quality
from p2i_prior.scores import GTScore

REACH = (0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0, np.inf)
MIN_KP = (3, 5, 8, 12)
GRID = [(r, k) for r in REACH for k in MIN_KP if np.isfinite(r)] + [(np.inf, 17)]
SETTINGS = [(roi, m) for roi in ("none", "box") for m in ("rag", "sweep", "geodesic")]


def apply(labels, reach_map, labelled, reach, min_kp):
    sure = np.concatenate([[False], labelled >= min_kp])
    return np.where((reach_map > reach) & sure[labels], 0, labels)


def collect(persons, keep_labels):
    src = GTScore()
    rows = {s: {"image_id": [], "iou": []} for s in SETTINGS}  # iou: (n, len(GRID)) per image
    kept = {}
    for i, rec in enumerate(persons):
        image, score, gt = rec.load_image(), None, rec.masks()
        score = np.asarray(src(rec, image), np.float32)
        labelled = (rec.keypoints[:, :, 2] > 0).sum(1)
        for s in SETTINGS:
            labels, _, _ = predict_image(rec, image, score, s[1], roi=s[0], rank="score")
            r = owner_reach(labels, rec.keypoints)
            ious = [_iou(masks_from_labels(apply(labels, r, labelled, *g), rec.n), gt) for g in GRID]
            rows[s]["image_id"] += [rec.id] * rec.n
            rows[s]["iou"].append(np.stack(ious, 1))
            if keep_labels:
                kept[(rec.id, s)] = (labels.astype(np.uint8), r.astype(np.float32))
        if (i + 1) % 20 == 0:
            print(f"  {i + 1}/{len(persons)}", file=sys.stderr)
    for d in rows.values():
        d["image_id"] = np.asarray(d["image_id"])
        d["iou"] = np.concatenate(d["iou"])
    return rows, kept


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dev", required=True)
    p.add_argument("--extra", required=True)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    dev, extra = load_persons(a.dev), load_persons(a.extra)
    print("dev", file=sys.stderr)
    dev_rows, kept = collect(dev, True)
    print("extra", file=sys.stderr)
    extra_rows, _ = collect(extra, False)
    ids = sorted(r.id for r in dev)
    fold_of = {i: n % a.folds for n, i in enumerate(ids)}

    def pooled(rows, mask_fn=None):
        parts = [d["iou"] if mask_fn is None else d["iou"][mask_fn(d)] for d in rows.values()]
        return np.concatenate(parts).mean(0)  # (len(GRID),)

    choice = {}  # (roi, fold) -> grid index
    lines = ["| roi | fold | chosen (reach, min_keypoints) | train mean IoU: chosen / off |", "| --- | --- | --- | --- |"]
    for roi in ("none", "box"):
        for f in range(a.folds):
            held = lambda d: np.array([fold_of[int(i)] != f for i in d["image_id"]], bool)  # noqa: E731
            train = np.concatenate([d["iou"] for s, d in extra_rows.items() if s[0] == roi]
                                   + [d["iou"][held(d)] for s, d in dev_rows.items() if s[0] == roi]).mean(0)
            choice[(roi, f)] = g = int(np.argmax(train))
            lines.append(f"| {roi} | {f} | {GRID[g]} | {train[g]:.4f} / {train[-1]:.4f} |")
    lines += ["", "| roi | method | mean IoU off | mean IoU CV | AP@.5 / AP off | AP@.5 / AP CV |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]
    gtd = dev.gt_dict()
    by_id = {r.id: r for r in dev}
    src = GTScore()
    for s in SETTINGS:
        d = dev_rows[s]
        cv_iou = np.array([d["iou"][j, choice[(s[0], fold_of[int(i)])]] for j, i in enumerate(d["image_id"])])
        res = {"off": [], "cv": []}
        for rid in ids:
            rec = by_id[rid]
            labels, r = kept[(rid, s)]
            labels = labels.astype(np.int32)
            score = np.asarray(src(rec, None), np.float32)
            labelled = (rec.keypoints[:, :, 2] > 0).sum(1)
            for name, g in (("off", len(GRID) - 1), ("cv", choice[(s[0], fold_of[rid])])):
                lab = apply(labels, r, labelled, *GRID[g])
                masks = np.asarray(masks_from_labels(lab, rec.n), bool)
                q = predict_quality(lab, rec.keypoints, score)
                keep = masks.reshape(rec.n, -1).any(1)
                res[name] += masks_to_results(rid, masks[keep], q[keep], category_id=dev.category_id)
        st = {k: evaluate_segm(gtd, v) for k, v in res.items()}
        lines.append(f"| {s[0]} | {s[1]} | {d['iou'][:, -1].mean():.3f} | {cv_iou.mean():.3f} | "
                     f"{st['off']['ap50']:.3f} / {st['off']['ap']:.3f} | {st['cv']['ap50']:.3f} / {st['cv']['ap']:.3f} |")
    allg = pooled({s: d for s, d in dev_rows.items() if s[0] == "none"})
    lines += ["", "Dev mean IoU, keypoints alone, pooled over methods, per grid point (for the record, not for "
              "choosing):", "",
              "| reach | " + " | ".join(str(k) for k in MIN_KP) + " |", "| --- |" + " ---: |" * len(MIN_KP)]
    for r in REACH[:-1]:
        lines.append(f"| {r} | " + " | ".join(f"{allg[GRID.index((r, k))]:.4f}" for k in MIN_KP) + " |")
    lines.append(f"| off | {allg[-1]:.4f} |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
