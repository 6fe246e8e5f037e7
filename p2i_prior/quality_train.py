"""Train and cross-validate the mask-quality model of :mod:`p2i_prior.quality`.

``python -m p2i_prior.quality_train --dev DEV.json --extra EXTRA.json --synthetic 60 --reach``
(the shipped model's command, with its data, is in its ``info["command"]``)

1. **Collect**: every method (box, rag, sweep, geodesic) in both settings (keypoints alone and
   ``roi=box``; with ``--reach`` also rag, sweep, geodesic alone with ``segment_people``'s
   ``reach=0.12, reach_min_keypoints=5``), components gate on, under each score source of
   ``--scores`` (default ``gt,selfie``), predicts its masks on every image of the dev
   set (``coco_persons``), the extra set (``coco_persons_extra``) and ``--synthetic`` scenes of
   :func:`p2i_prior.synthetic.make_scenes` (exported as COCO; per person, with probability 0.5,
   labelled keypoints are dropped at random down to 1-12, and with probability 0.15 all of them:
   such a person becomes an ignore region with no skeleton, as in COCO).  Each mask gives one
   row: :func:`p2i_prior.quality.mask_features` and its IoU with the person's own mask.  Rows are
   cached in ``--cache``.
2. **Cross-validate** by image on the dev set: fold ``f`` holds the dev images at positions
   ``i % k == f`` of the sorted image ids; the model for fold ``f`` is fitted on the extra set,
   the synthetic scenes and the other dev folds, and ranks the masks of fold ``f`` only.  AP^r
   is computed once over the whole dev set from these out-of-fold rankings.  Also reported: the
   model fitted without any dev image (``extra+synthetic``), and the final model (everything)
   scored on the dev set it was trained on (``train``, optimistic), and the masks ranked by their
   true IoU (``true IoU (bound)``: the best any ranking rule could do with these masks).
3. **Fit** the shipped model on all rows and write it (``--out``, default the package's
   ``data/quality.json``), with the CV numbers in its ``info``.

The markdown report (``--report``) has one table per setting: AP^r@.5 / AP^r@[.5:.95] per method
and ranking rule, with mean instance IoU (independent of ranking).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from typing import Any

import numpy as np

from .coco import evaluate_segm, load_persons, masks_to_results
from .evaluate import _iou, predict_image
from .quality import FEATURES, fit_quality, mask_features, write_model, MODEL_PATH
from .scores import make_score_source

#: The methods whose masks the quality model is fitted on (affinity came after it; its masks are
#: ranked by the same model).
METHODS: tuple[str, ...] = ("box", "rag", "sweep", "geodesic")

SETTINGS = ("none", "box")
#: The optional setting "reach": keypoints alone with segment_people's unexplained-pixels rule.
REACH = {"reach": 0.12, "reach_min_keypoints": 5}


def _setting(setting: str) -> tuple[str, dict]:
    """(roi, segment_people options) of a setting name."""
    return ("none", dict(REACH)) if setting == "reach" else (setting, {})
L2 = 1.0


def synthetic_set(directory: str, n: int, seed: int = 0) -> str:
    """Write ``n`` synthetic scenes with COCO-like sparse skeletons as a COCO set; its json path."""
    from .synthetic import make_scenes, write_coco

    path = write_coco(make_scenes(n, seed=seed, n_people=(2, 7), height=240, width=320), directory)
    with open(path) as f:
        data = json.load(f)
    rng = np.random.default_rng(seed)
    for a in data["annotations"]:
        kp = np.asarray(a["keypoints"], float).reshape(17, 3)
        lab = np.flatnonzero(kp[:, 2] > 0)
        u = rng.random()
        if u < 0.15:
            kp[:] = 0
        elif u < 0.65 and len(lab) > 1:
            keep = rng.choice(lab, size=int(rng.integers(1, min(12, len(lab)) + 1)), replace=False)
            drop = np.setdiff1d(lab, keep)
            kp[drop] = 0
        a["keypoints"] = kp.ravel().tolist()
        a["num_keypoints"] = int((kp[:, 2] > 0).sum())
    with open(path, "w") as f:
        json.dump(data, f)
    return path


def collect(persons: Any, score: str = "gt", *, methods=METHODS, settings=SETTINGS, progress: bool = True) -> dict:
    """Rows per (setting, method): image ids, features, IoU, the two fixed rankings, results (RLE)."""
    source = make_score_source(score)
    pairs = [(r, m) for r in settings for m in methods if not (r == "reach" and m == "box")]
    out = {p: {k: [] for k in ("image_id", "features", "iou", "rank_score", "rank_keypoints", "rle")} for p in pairs}
    t0 = time.perf_counter()
    for i, rec in enumerate(persons):
        image = rec.load_image()
        score = np.asarray(source(rec, image), np.float32)
        gt = rec.masks()
        labelled = (rec.keypoints[:, :, 2] > 0).sum(1)
        for setting, m in pairs:
            roi, options = _setting(setting)
            labels, masks, s = predict_image(rec, image, score, m, roi=roi, options=options, rank="score")
            d = out[(setting, m)]
            d["image_id"] += [rec.id] * rec.n
            d["features"].append(mask_features(labels, rec.keypoints, score))
            d["iou"].append(_iou(masks, gt))
            d["rank_score"].append(s)
            d["rank_keypoints"].append(s * (labelled + 1) / 18.0)
            res = masks_to_results(rec.id, masks, np.zeros(rec.n))
            d["rle"] += [r["segmentation"] if masks[k].any() else None for k, r in enumerate(res)]
        if progress and (i + 1) % 20 == 0:
            print(f"  {i + 1}/{len(persons)} images, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    for d in out.values():
        d["image_id"] = np.asarray(d["image_id"], np.int64)
        for k in ("features", "iou", "rank_score", "rank_keypoints"):
            d[k] = np.concatenate(d[k]) if d[k] else np.zeros((0, len(FEATURES)) if k == "features" else 0)
    return out


def cached(cache: str, name: str, persons: Any, score: str, progress: bool, reach: bool = False) -> dict:
    """The rows of a set under a score (``reach``: also the "reach" setting), cached on disk."""
    rows = {}
    for settings, suffix in [(SETTINGS, "")] + ([(("reach",), "_reach")] if reach else []):
        path = os.path.join(cache, f"rows_{name}_{score}{suffix}.pkl")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                rows.update(pickle.load(f))
            continue
        print(f"collecting {name} ({score} score{suffix}): {len(persons)} images", file=sys.stderr)
        got = collect(persons, score, settings=settings, progress=progress)
        os.makedirs(cache, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(got, f)
        rows.update(got)
    return rows


def stack(*row_sets: dict, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Features and IoU of every setting and method of the given row sets."""
    xs, ys = [], []
    for rows in row_sets:
        for d in rows.values():
            keep = slice(None) if mask is None else mask(d)
            nonempty = d["features"][keep].any(1)
            xs.append(d["features"][keep][nonempty])
            ys.append(d["iou"][keep][nonempty])
    return np.concatenate(xs), np.concatenate(ys)


def ap_of(persons: Any, gt: dict, d: dict, scores: np.ndarray) -> dict:
    res = [{"image_id": int(i), "category_id": persons.category_id, "segmentation": r, "score": float(s)}
           for i, r, s in zip(d["image_id"], d["rle"], scores) if r is not None]
    st = evaluate_segm(gt, res)
    return {"ap50": st["ap50"], "ap": st["ap"]}


def cross_validate(dev: Any, dev_rows: dict, all_dev_rows: list[dict], train_rows: list[dict], k: int) -> dict:
    """Out-of-fold predicted quality of every row of ``dev_rows``, per (roi, method): the model of
    fold ``f`` never sees a fold-``f`` dev image, under any score source (``all_dev_rows``)."""
    ids = sorted(r.id for r in dev)
    fold_of = {i: n % k for n, i in enumerate(ids)}
    pred = {key: np.zeros(len(d["iou"])) for key, d in dev_rows.items()}
    x0, y0 = stack(*train_rows)
    for f in range(k):
        x1, y1 = stack(*all_dev_rows, mask=lambda d: np.array([fold_of[int(i)] != f for i in d["image_id"]], bool))
        model = fit_quality(np.vstack([x0, x1]), np.concatenate([y0, y1]), l2=L2)
        for key, d in dev_rows.items():
            held = np.array([fold_of[int(i)] == f for i in d["image_id"]], bool)
            pred[key][held] = model.predict(d["features"][held])
    return pred


def fixture_qualities(model: Any, annotations: str) -> dict:
    """Predicted quality of every mask of every method on a small COCO set (gt score, roi none)."""
    source = make_score_source("gt")
    out = {}
    for m in METHODS:
        vals = []
        for rec in load_persons(annotations):
            image = rec.load_image()
            score = np.asarray(source(rec, image), np.float32)
            labels, _, _ = predict_image(rec, image, score, m, rank="score")
            vals += [round(float(v), 6) for v in model.predict(mask_features(labels, rec.keypoints, score))]
        out[m] = vals
    return out


def report_tables(dev: Any, dev_rows: dict, rankings: dict[str, dict], score: str) -> tuple[str, dict]:
    gt = dev.gt_dict()
    lines, numbers = [], {}
    for roi in sorted({k[0] for k in dev_rows}, key=["none", "box", "reach"].index):
        what = {"none": "keypoints alone", "box": "keypoints + boxes",
                "reach": f"keypoints alone + segment_people options {REACH}"}[roi]
        lines += [f"### score `{score}`, roi `{roi}` ({what})",
                  "", "| method | mean IoU | " + " | ".join(f"{r} AP@.5 / AP" for r in rankings) + " |",
                  "| --- | ---: | " + " | ".join("---:" for _ in rankings) + " |"]
        for m in [m for m in METHODS if (roi, m) in dev_rows]:
            d = dev_rows[(roi, m)]
            cells = [m, f"{d['iou'].mean():.3f}"]
            for r, scores in rankings.items():
                st = ap_of(dev, gt, d, scores[(roi, m)])
                numbers[f"{score}/{roi}/{m}/{r}"] = dict(st, mean_iou=float(d["iou"].mean()))
                cells.append(f"{st['ap50']:.3f} / {st['ap']:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines), numbers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m p2i_prior.quality_train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dev", required=True, help="dev COCO json (cross-validated), e.g. coco_persons")
    p.add_argument("--extra", default=None, help="extra COCO json (always trained on)")
    p.add_argument("--synthetic", type=int, default=60, help="synthetic scenes (always trained on)")
    p.add_argument("--scores", default="gt,selfie", help="person-score sources to collect rows with")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--reach", action="store_true",
                   help=f"also rows of keypoints alone with segment_people's reach rule {REACH}")
    p.add_argument("--cache", default="p2i_out/quality_cache")
    p.add_argument("--out", default=MODEL_PATH, help="model json to write (default: the shipped one)")
    p.add_argument("--report", default=None, help="markdown report to write")
    p.add_argument("--fixture", default=os.path.join("tests", "data", "coco", "annotations.json"),
                   help="COCO json whose predicted qualities are stored in the model (the test checks them)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    scores = [x.strip() for x in args.scores.split(",") if x.strip()]
    dev = load_persons(args.dev)
    sets = [("extra", load_persons(args.extra))] if args.extra else []
    if args.synthetic:
        syn_dir = os.path.join(args.cache, f"synthetic_{args.synthetic}")
        path = os.path.join(syn_dir, "annotations.json")
        if not os.path.isfile(path):
            path = synthetic_set(syn_dir, args.synthetic)
        sets.append((f"synthetic_{args.synthetic}", load_persons(path)))
    dev_rows = {sc: cached(args.cache, "dev", dev, sc, not args.quiet, args.reach) for sc in scores}
    train_rows = [cached(args.cache, name, ps, sc, not args.quiet, args.reach) for name, ps in sets for sc in scores]

    x_all, y_all = stack(*dev_rows.values(), *train_rows)
    x_out, y_out = stack(*train_rows)
    outside = fit_quality(x_out, y_out, l2=L2)
    info = {
        "command": "python -m p2i_prior.quality_train " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rows": int(len(y_all)), "l2": L2, "folds": args.folds, "scores": scores,
        "settings": sorted({k[0] for k in dev_rows[scores[0]]}),
        "data": {"dev": args.dev, "extra": args.extra, "synthetic_scenes": args.synthetic},
    }
    final = fit_quality(x_all, y_all, l2=L2, info=info)
    text, numbers = "", {}
    for sc in scores:
        cv = cross_validate(dev, dev_rows[sc], list(dev_rows.values()), train_rows, args.folds)
        rankings = {
            "score": {k: d["rank_score"] for k, d in dev_rows[sc].items()},
            "keypoints": {k: d["rank_keypoints"] for k, d in dev_rows[sc].items()},
            "quality extra+synthetic": {k: outside.predict(d["features"]) for k, d in dev_rows[sc].items()},
            f"quality CV{args.folds}": cv,
            "quality train": {k: final.predict(d["features"]) for k, d in dev_rows[sc].items()},
            "true IoU (bound)": {k: d["iou"] for k, d in dev_rows[sc].items()},
        }
        table, nums = report_tables(dev, dev_rows[sc], rankings, sc)
        text += table + "\n"
        numbers.update(nums)
    final.info["dev_numbers"] = {k: {a: round(b, 4) for a, b in v.items()} for k, v in numbers.items()}
    if args.fixture and os.path.isfile(args.fixture):
        final.info["fixture"] = {"annotations": args.fixture.replace(os.sep, "/"), "score": "gt",
                                 "quality": fixture_qualities(final, args.fixture)}
    write_model(final, args.out)
    coef = "\n".join(f"| {n} | {c:+.3f} |" for n, c in zip(FEATURES, final.coef))
    text += (f"Final model: {len(y_all)} rows, intercept {final.intercept:+.3f}; standardised "
             f"coefficients:\n\n| feature | coef |\n| --- | ---: |\n{coef}\n")
    print(text)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
