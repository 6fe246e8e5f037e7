"""Train and cross-validate the pixel-candidate affinity model of :mod:`p2i_prior.affinity`.

``python -m p2i_prior.affinity_train --dev DEV.json --extra EXTRA.json --scores gt,selfie``

1. **Cache**: per image of the dev set (``coco_persons``) and the extra set
   (``coco_persons_extra``), the (n, H, W) geodesic distances of
   ``instance_distances(method="geodesic")`` and the selfie score (``--cache``).
2. **Rows**: per image, score source and setting (keypoints alone, ``--roi box``), the features
   of :func:`p2i_prior.affinity.pixel_features` for up to ``--pixels`` person pixels (seeded by
   the image id) and the target option: the eligible person whose ground-truth mask holds the
   pixel if it is a candidate, else "nobody" (background, persons without keypoints, crowds, or
   an owner the gates exclude).
3. **Cross-validate** by image on the dev set: fold ``f`` holds the dev images at positions
   ``i % k == f`` of the sorted image ids (the folds of :mod:`p2i_prior.quality_train`); the
   model of fold ``f`` is trained on the extra set and the other dev folds and relabels every
   person pixel of fold ``f``'s images.  Mean instance IoU and COCOeval AP^r of the out-of-fold
   masks of all dev images, ranked by the quality model (``p2i eval --rank quality``), beside the
   geodesic prior and the box baseline ranked by the same rule.
4. **Fit** on every row and write the shipped json (``--out``), with the CV numbers in its info.

Training: torch on the CPU, full-batch Adam on the softmax over (candidates, nobody), seeded,
one thread: deterministic.  Weights are exported to json and applied in numpy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

from .affinity import CANDIDATES, FEATURES, NOBODY_FEATURES, AffinityModel, pixel_features
from .coco import evaluate_segm, load_persons, masks_to_results

SETTINGS = ("none", "box")
HIDDEN = 16


# --------------------------------------------------------------------------------------------
# cache and rows
# --------------------------------------------------------------------------------------------


def cached_inputs(rec: Any, image: Any, cache: str, name: str, scores: tuple[str, ...]) -> dict:
    """Geodesic distances, the score maps and the in-person distances (per score) of one image,
    cached as npz (missing entries are computed and added)."""
    from .affinity import inside_distances
    from .pipeline import instance_distances
    from .scores import make_score_source

    path = os.path.join(cache, f"{name}_{rec.id}.npz")
    data = {}
    if os.path.isfile(path):
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
    want = ["geodesic"] + [f"score_{s}" for s in scores if s != "gt"] + [f"inside_{s}" for s in scores]
    if all(k in data for k in want):
        return data
    image = rec.load_image() if image is None else image
    if "geodesic" not in data:
        data["geodesic"] = instance_distances(image, rec.keypoints, method="geodesic").astype(np.float32)
    for s in scores:
        if s != "gt" and f"score_{s}" not in data:
            data[f"score_{s}"] = np.asarray(make_score_source(s)(rec, image), np.float32)
        if f"inside_{s}" not in data:
            data[f"inside_{s}"] = inside_distances(image, rec.keypoints, score_map(rec, data, s)).astype(np.float32)
    os.makedirs(cache, exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, **data)
    os.replace(tmp, path)
    return data


def score_map(rec: Any, data: dict, score: str) -> np.ndarray:
    if score == "gt":
        from .scores import GTScore

        return np.asarray(GTScore()(rec), np.float32)
    return data[f"score_{score}"]


def targets(feats: Any, gt: np.ndarray) -> np.ndarray:
    """(P,) option index of each person pixel: the candidate column of its eligible owner, or
    ``CANDIDATES`` (nobody)."""
    n = gt.shape[0]
    flat = gt.reshape(n, -1)[:, feats.index] if n else np.zeros((0, feats.index.size), bool)
    owner = np.where(flat.any(0), np.argmax(flat, 0), -1)
    hit = (feats.cand == owner[:, None]) & (owner[:, None] >= 0)
    return np.where(hit.any(1), np.argmax(hit, 1), CANDIDATES)


def image_rows(feats: Any, gt: np.ndarray, n_pixels: int, seed: int, weighting: str = "pixel") -> dict:
    """Up to ``n_pixels`` seeded training rows of one image; each weighted by the image's person
    pixels per row (``weighting="instance"``: also by ``1 / sqrt(area)`` of the person holding the
    pixel, the image's median person area for the others, so small people count more)."""
    t = targets(feats, gt)
    P = t.size
    pick = np.arange(P) if P <= n_pixels else np.sort(
        np.random.default_rng(seed).choice(P, n_pixels, replace=False))
    w = np.full(pick.size, P / max(1, pick.size))
    if weighting == "instance" and gt.shape[0]:
        area = gt.reshape(gt.shape[0], -1).sum(1).astype(np.float64)
        flat = gt.reshape(gt.shape[0], -1)[:, feats.index[pick]]
        owner = np.where(flat.any(0), np.argmax(flat, 0), -1)
        a = np.where(owner >= 0, area[np.maximum(owner, 0)], np.median(area))
        w = w / np.sqrt(np.maximum(a, 1.0))
    return {"x": feats.x[pick].astype(np.float32), "g": feats.g[pick].astype(np.float32),
            "valid": feats.cand[pick] >= 0, "t": t[pick].astype(np.int64), "w": w.astype(np.float32)}


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------


def train(rows: list[dict], *, hidden: int = HIDDEN, epochs: int = 6, batch: int = 2048, seed: int = 0,
          lr: float = 0.01, weight_decay: float = 1e-5, drop: tuple[str, ...] = ()) -> dict:
    """Fit one pass (candidate MLP + nobody MLP) on rows; the json-ready weights.

    Minibatch Adam (``epochs`` passes over the rows in a seeded order, cosine learning rate),
    one torch thread: the same rows give the same weights.

    ``drop``: feature names (of ``FEATURES`` or ``NOBODY_FEATURES``) the model may not use (their
    first-layer weights are 0): the ablations of the CV."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    x = np.concatenate([r["x"] for r in rows]).astype(np.float64)
    g = np.concatenate([r["g"] for r in rows]).astype(np.float64)
    valid = np.concatenate([r["valid"] for r in rows])
    t = np.concatenate([r["t"] for r in rows])
    w = np.concatenate([r["w"] for r in rows]).astype(np.float64)
    xs = x[valid]
    x_mean, x_std = xs.mean(0), xs.std(0) + 1e-6
    g_mean, g_std = g.mean(0), g.std(0) + 1e-6
    unknown = set(drop) - set(FEATURES) - set(NOBODY_FEATURES)
    if unknown:
        raise ValueError(f"drop: expected names of FEATURES or NOBODY_FEATURES, got {sorted(unknown)}")
    keep_x = np.array([f not in drop for f in FEATURES], np.float64)
    keep_g = np.array([f not in drop for f in NOBODY_FEATURES], np.float64)
    x, g = x * keep_x, g * keep_g
    x_mean, g_mean = x_mean * keep_x, g_mean * keep_g
    X = torch.tensor((x - x_mean) / x_std, dtype=torch.float32)
    G = torch.tensor((g - g_mean) / g_std, dtype=torch.float32)
    V = torch.tensor(valid)
    T = torch.tensor(t)
    Wt = torch.tensor(w / w.mean(), dtype=torch.float32)
    F, GF = X.shape[-1], G.shape[-1]
    cand = torch.nn.Sequential(torch.nn.Linear(F, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))
    nobody = torch.nn.Sequential(torch.nn.Linear(GF, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))
    params = list(cand.parameters()) + list(nobody.parameters())
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    N = X.shape[0]
    per_epoch = max(1, -(-N // batch))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * per_epoch)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(N, generator=gen)
        for b in range(per_epoch):
            idx = perm[b * batch:(b + 1) * batch]
            opt.zero_grad()
            zc = cand(X[idx])[..., 0].masked_fill(~V[idx], -1e9)
            z = torch.cat([zc, nobody(G[idx])], 1)
            loss = (torch.nn.functional.cross_entropy(z, T[idx], reduction="none") * Wt[idx]).mean()
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        zc = cand(X)[..., 0].masked_fill(~V, -1e9)
        loss = (torch.nn.functional.cross_entropy(torch.cat([zc, nobody(G)], 1), T, reduction="none") * Wt).mean()

    def export(seq, keep):
        lin = [m for m in seq if isinstance(m, torch.nn.Linear)]
        out = [{"W": m.weight.detach().double().numpy().T, "b": m.bias.detach().double().numpy()} for m in lin]
        out[0]["W"] = out[0]["W"] * keep[:, None]  # a dropped feature has no weight
        return [{"W": l["W"].tolist(), "b": l["b"].tolist()} for l in out]

    return {"cand": export(cand, keep_x), "nobody": export(nobody, keep_g), "x_mean": x_mean.tolist(), "x_std": x_std.tolist(),
            "g_mean": g_mean.tolist(), "g_std": g_std.tolist(), "loss": float(loss.item())}


def model_dict(passes: list[dict], info: dict | None = None) -> dict:
    return {"features": list(FEATURES), "nobody_features": list(NOBODY_FEATURES), "passes": passes,
            "info": dict(info or {})}


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


def _iou(masks: np.ndarray, gt: np.ndarray) -> np.ndarray:
    inter = (masks & gt).reshape(len(gt), -1).sum(1)
    union = (masks | gt).reshape(len(gt), -1).sum(1)
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def score_labels(rec: Any, labels: np.ndarray, score: np.ndarray, gt: np.ndarray,
                 true_rank: bool = False) -> tuple[list, np.ndarray]:
    """COCO results ranked by the quality model (``true_rank``: by their true IoU, the bound of
    any ranking), and per-instance IoU, of one label map."""
    from .masks import masks_from_labels
    from .quality import predict_quality

    masks = np.asarray(masks_from_labels(labels, rec.n), bool)
    q = _iou(masks, gt) if true_rank else predict_quality(labels, rec.keypoints, score)
    keep = masks.reshape(rec.n, -1).any(1)
    return masks_to_results(rec.id, masks[keep], q[keep]), _iou(masks, gt)


def summarize(persons: Any, results: list, ious: list) -> dict:
    st = evaluate_segm(persons.gt_dict([r.id for r in persons]), results)
    return {"ap50": st["ap50"], "ap": st["ap"], "miou": float(np.concatenate(ious).mean())}


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def collect(sets: list, scores: tuple, settings: tuple, cache: str, n_pixels: int, progress: bool = True,
            weighting: str = "pixel") -> dict:
    """Training rows of every image, and the full features of the dev images (for the CV).

    Returns ``{"rows": {(setting, set, id): [rows per score]}, "dev": {(setting, score, id): feats}}``.
    """
    t0 = time.perf_counter()
    rows, full = {}, {}
    for name, persons in sets:
        for i, rec in enumerate(persons):
            image = rec.load_image()
            data = cached_inputs(rec, image, cache, name, scores)
            gt = rec.masks()
            for setting in settings:
                r_all = []
                for s in scores:
                    sc = score_map(rec, data, s)
                    f = pixel_features(image, rec.keypoints, sc, data["geodesic"],
                                       boxes=rec.boxes if setting == "box" else None, inside=data[f"inside_{s}"])
                    r_all.append(image_rows(f, gt, n_pixels, seed=rec.id, weighting=weighting))
                    if name == "dev":
                        f.x, f.g, f.lab = f.x.astype(np.float16), f.g.astype(np.float32), None
                        f.cand, f.index = f.cand.astype(np.int16), f.index.astype(np.int32)
                        full[(setting, s, rec.id)] = f
                rows[(setting, name, rec.id)] = r_all
            if progress and (i + 1) % 20 == 0:
                print(f"  {name}: {i + 1}/{len(persons)} images, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return {"rows": rows, "dev": full}


def cross_validate(dev: Any, collected: dict, scores: tuple, settings: tuple, folds: int, cache: str,
                   train_options: dict, smooth: float = 0.0, progress: bool = True,
                   bound: bool = False) -> tuple[dict, list[str]]:
    """Out-of-fold masks of every dev image: AP^r and mean IoU of box, geodesic and affinity
    (``bound``: also each ranked by its true IoU, ``<method>@true``)."""
    from .gates import box_instances

    ids = sorted(r.id for r in dev)
    fold_of = {i: k % folds for k, i in enumerate(ids)}
    rows, full = collected["rows"], collected["dev"]
    cv, lines = {}, []
    for setting in settings:
        models = {}
        for f in range(folds):
            tr = [r for (st, nm, i), rs in rows.items() if st == setting and not (nm == "dev" and fold_of[i] == f)
                  for r in rs]
            models[f] = AffinityModel.from_dict(model_dict([train(tr, **train_options)]))
            if progress:
                print(f"  {setting} fold {f} trained", file=sys.stderr)
        for s in scores:
            res = {k: [] for k in ("box", "geodesic", "affinity")
                   + (("box@true", "geodesic@true", "affinity@true") if bound else ())}
            ious = {k: [] for k in res}
            for rec in dev:
                data = cached_inputs(rec, None, cache, "dev", scores) if s != "gt" else None
                sc = score_map(rec, data, s)
                gt = rec.masks()
                f = full[(setting, s, rec.id)]
                labs = {"box": np.asarray(box_instances(sc, rec.boxes))}
                for k, own in (("geodesic", f.cand[:, 0]), ("affinity", models[fold_of[rec.id]].assign(f, smooth=smooth))):
                    lab = np.zeros(sc.shape, np.int32)
                    lab.ravel()[f.index] = own + 1
                    labs[k] = lab
                for k, lab in list(labs.items()):
                    r_, i_ = score_labels(rec, lab, sc, gt)
                    res[k] += r_
                    ious[k].append(i_)
                    if bound:
                        r_, i_ = score_labels(rec, lab, sc, gt, true_rank=True)
                        res[k + "@true"] += r_
                        ious[k + "@true"].append(i_)
            for k in res:
                st = summarize(dev, res[k], ious[k])
                cv[f"{s}/{setting}/{k}"] = st
                line = f"| {s} | {setting} | {k} | {st['ap50']:.3f} | {st['ap']:.3f} | {st['miou']:.3f} |"
                lines.append(line)
                if progress:
                    print(line, file=sys.stderr, flush=True)
    return cv, lines


def fixture_counts(out: dict, annotations: str, settings: tuple) -> dict:
    """Per setting and image of a small COCO set: the pixel count of every label of
    :func:`p2i_prior.affinity.refine_people` with these models (gt score)."""
    from .affinity import refine_people
    from .scores import GTScore

    models = {k: AffinityModel.from_dict(v) for k, v in out["models"].items()}
    for m in models.values():
        m.info.update(out["info"])
    counts: dict = {s: {} for s in settings}
    for rec in load_persons(annotations):
        image, score = rec.load_image(), GTScore()(rec)
        for s in settings:
            lab = refine_people(image, rec.keypoints, score, boxes=rec.boxes if s == "box" else None, model=models)
            counts[s][str(rec.id)] = np.bincount(np.asarray(lab).ravel(), minlength=rec.n + 1).tolist()
    return counts


def main(argv: list[str] | None = None) -> int:
    import pickle

    p = argparse.ArgumentParser(prog="python -m p2i_prior.affinity_train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dev", required=True, help="the dev set json (coco_persons): folds and CV")
    p.add_argument("--extra", default=None, help="another COCO json to train on (coco_persons_extra)")
    p.add_argument("--scores", default="gt,selfie", help="score sources (default gt,selfie)")
    p.add_argument("--settings", default="none,box", help="none (keypoints alone), box (--roi box)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--pixels", type=int, default=1000, help="training pixels per image and score")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--weighting", default="pixel", choices=("pixel", "instance"),
                   help="row weights: pixel (default) or instance (small people count more)")
    p.add_argument("--hidden", type=int, default=HIDDEN)
    p.add_argument("--smooth", type=float, default=0.0075,
                   help="Gaussian vote of neighbours, sigma as a fraction of sqrt(H W), in the CV and in the "
                        "written model (default 0.0075: 4 pixels at 640x480)")
    p.add_argument("--fixture", default=os.path.join("tests", "data", "coco", "annotations.json"),
                   help="COCO json whose per-instance pixel counts are stored in the model (the test checks them)")
    p.add_argument("--cache", default="p2i_out/affinity_cache", help="distances and selfie scores")
    p.add_argument("--collected", default=None, help="pickle of the collected features (reused if present)")
    p.add_argument("--out", default=None, help="where to write the model (default: no model written)")
    p.add_argument("--report", default=None, help="markdown table of the CV")
    p.add_argument("--no-cv", action="store_true")
    a = p.parse_args(argv)
    scores = tuple(s for s in a.scores.split(",") if s)
    settings = tuple(s for s in a.settings.split(",") if s)
    dev = load_persons(a.dev)
    sets = [("dev", dev)] + ([("extra", load_persons(a.extra))] if a.extra else [])
    if a.collected and os.path.isfile(a.collected):
        with open(a.collected, "rb") as fh:
            collected = pickle.load(fh)
    else:
        collected = collect(sets, scores, settings, a.cache, a.pixels, weighting=a.weighting)
        if a.collected:
            with open(a.collected, "wb") as fh:
                pickle.dump(collected, fh, protocol=4)
    opts = {"hidden": a.hidden, "epochs": a.epochs}
    info: dict[str, Any] = {"command": "python -m p2i_prior.affinity_train " + " ".join(sys.argv[1:] if argv is None else argv),
                            "folds": a.folds, "train": opts, "smooth": a.smooth, "pixels": a.pixels,
                            "weighting": a.weighting}
    if not a.no_cv:
        info["cv"], lines = cross_validate(dev, collected, scores, settings, a.folds, a.cache, opts, smooth=a.smooth)
        if a.report:
            with open(a.report, "w") as fh:
                fh.write("| score | roi | method | AP@.5 | AP@[.5:.95] | mean IoU |\n"
                         "| --- | --- | --- | ---: | ---: | ---: |\n" + "\n".join(lines) + "\n")
    if a.out:
        out = {"models": {}, "info": info}
        for setting in settings:
            tr = [r for (st, nm, i), rs in collected["rows"].items() if st == setting for r in rs]
            out["models"][setting] = model_dict([train(tr, **opts)])
        if a.fixture and os.path.isfile(a.fixture):
            info["fixture"] = {"annotations": a.fixture.replace(os.sep, "/"), "score": "gt",
                               "counts": fixture_counts(out, a.fixture, settings)}
        with open(a.out, "w") as fh:
            json.dump(out, fh)
        print(f"wrote {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
