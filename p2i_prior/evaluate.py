"""``p2i eval``: the paper's Table 4.1 experiment on COCO persons, for any person-score source.

For every image with eligible persons (:mod:`p2i_prior.coco`) and every method, one instance mask
is predicted per eligible person and scored with COCOeval (``segm``, persons without keypoints and
crowds as ignore regions):

``box``
    Oracle boxes: each pixel whose person score passes the threshold goes to the smallest
    ground-truth box containing it (:func:`p2i_prior.pipeline.box_instances`).
``affinity`` (the default label method of ``segment_people`` and ``p2i segment``)
    Oracle keypoints and image evidence: the geodesic candidates of each person pixel re-decided,
    with a "nobody" option, by the learned pixel-candidate model of :mod:`p2i_prior.affinity`
    (:func:`p2i_prior.affinity.refine_people`; colour along each skeleton, edges crossed, extent
    from the visible keypoints); ``--roi box`` and ``--components`` apply, ``--option`` does not.
``rag``, ``sweep``, ``geodesic``
    Oracle keypoints: each person pixel goes to the nearest skeleton
    (:func:`p2i_prior.pipeline.segment_people`, the argmax of the pose-instance map fused with the
    person score) in superpixel-graph distance (``rag``, with the ``--solver``) or pixel-grid
    fast-sweeping distance (``sweep`` Euclidean, ``geodesic`` edge-weighted).  Gates that stop an
    instance where a person ends: ``--components on`` (default; only the connected components of
    person pixels that the instance's skeleton touches, so people without keypoints are not
    pulled into the nearest skeleton; ``off`` is the paper's plain prior over the whole image),
    ``--extent E`` (within E times the skeleton's body scale), and ``--roi box`` (inside the
    instance's own ground-truth box: the "keypoints with boxes" setting).

The ranking score of a predicted mask (COCOeval sorts detections by it) is, with ``--rank
quality`` (default), the mask's **predicted IoU** (:func:`p2i_prior.quality.predict_quality`: a
logistic model on cheap per-mask features -- labelled keypoints, area against the skeleton's
body size, pixels near the skeleton, contact with other instances, compactness, ... -- trained
by ``python -m p2i_prior.quality_train``, cross-validated by image); with ``--rank score``, the
**mean person score inside the mask**; with ``--rank keypoints``, that times ``(k + 1) / 18``
for ``k`` labelled keypoints.  The same rule ranks every method, the box baseline included.
With the ``gt`` score every mean is about 1, so ``score`` ranks detections nearly arbitrarily.
An instance whose mask comes out empty gives no detection (a miss).

**Mean instance IoU** (the table's last column) does not depend on ranking: for every eligible
instance ``k`` of every evaluated image, the IoU between the pixels the method labels ``k + 1``
(the mask *assigned to that instance id*, whatever else it overlaps) and instance ``k``'s own
ground-truth mask, ``|P & G| / |P | G|``; an empty prediction counts 0.  The mean is over all
eligible instances of the evaluated images (each person once, images weighted by their persons).
Ignore regions (crowds, persons without keypoints) play no part in it, so pixels of such persons
taken by an instance lower its IoU only through the union.

Outputs in ``--out``: ``<method>_results.json`` (COCO results, RLE), ``table.md`` (Table 4.1
layout: AP^r at IoU 0.5 and over 0.5:0.95, relative change against ``box``, mean instance IoU), ``report.json``
(configuration, counts, per-method AP and timings, per-instance IoU with its own ground-truth
mask, machine), and ``figures/figure_<image id>.png`` for a few images in the spirit of the
paper's Figure 4.2 (ground truth, box baseline, keypoint prior): by default the images where the
keypoint prior gains most and loses most against the box baseline.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import sys
import time
from typing import Any, Sequence

import numpy as np

from .eval_tables import (  # noqa: F401  (format_table: a public name of this module)
    _figure_ids,
    _json_default,
    _machine,
    _rel,
    _with_predicted_keypoints,
    format_table,
)

__all__ = ["METHODS", "evaluate_methods", "predict_image", "format_table", "register"]

#: The methods of the experiment, in table order.
METHODS: tuple[str, ...] = ("box", "rag", "sweep", "geodesic", "affinity")
_KEYPOINT_METHODS = ("rag", "sweep", "geodesic")


# --------------------------------------------------------------------------------------------
# one image
# --------------------------------------------------------------------------------------------


def _people_kwargs(cfg: dict, record: Any, method: str) -> dict:
    """Keyword arguments for ``segment_people``, ``--option`` keys checked against the pipeline."""
    from .pipeline import instance_distances, segment_people

    allowed = (set(inspect.signature(segment_people).parameters)
               | set(inspect.signature(instance_distances).parameters))
    allowed -= {"image", "keypoints", "person_score", "distance_options", "method", "threshold"}
    kw: dict[str, Any] = {"method": method, "threshold": cfg["threshold"], "components": cfg["components"]}
    if method == "rag":
        kw.update(solver=cfg["solver"], n_segments=cfg["n_segments"], compactness=cfg["compactness"])
    if cfg["roi"] == "box":
        kw["boxes"] = record.boxes
    for key, value in cfg.get("options", {}).items():
        if key not in allowed:
            raise ValueError(f"option: expected a keyword of segment_people ({', '.join(sorted(allowed))}), got {key!r}")
        kw[key] = value
    return kw


#: Ranking scores of a predicted mask (``rank=``), as written in the report.
RANKS = {
    "quality": "predicted IoU of the mask (p2i_prior.quality, the shipped model)",
    "score": "mean person score inside the mask",
    "keypoints": "mean person score inside the mask x (labelled keypoints + 1) / 18",
}
#: The default ranking: it raised AP^r@[.5:.95] of every method in 5-fold CV (README).
DEFAULT_RANK = "quality"


def predict_image(
    record: Any,
    image: np.ndarray,
    score: np.ndarray,
    method: str,
    *,
    roi: str = "none",
    solver: str = "sssp",
    threshold: float = 0.5,
    components: bool = True,
    n_segments: int = 1000,
    compactness: float = 10.0,
    options: dict | None = None,
    rank: str = DEFAULT_RANK,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predict one mask per eligible person of an image with one method.

    Parameters
    ----------
    record : p2i_prior.coco.PersonImage
        Supplies ``keypoints (n, 17, 3)`` and ``boxes (n, 4)``.
    image : (H, W, 3) uint8 array
    score : (H, W) float32 array
        Person score in ``[0, 1]``.
    method : {"box", "rag", "sweep", "geodesic", "affinity"}
    roi : {"none", "box"}
        Restrict keypoint methods to each instance's box.
    solver, n_segments, compactness, options
        Passed to :func:`p2i_prior.pipeline.segment_people` (``options``: any further keyword,
        e.g. ``extent``, ``edge_weight``, ``length_weight``).
    threshold : float
        Person-score threshold of the fusion.
    components : bool
        The connected-component gate of ``segment_people`` (module docstring).
    rank : {"quality", "score", "keypoints"}
        Ranking score of each mask (module docstring).

    Returns
    -------
    labels : (H, W) int32 ndarray
        0 background, ``k + 1`` for instance ``k``.
    masks : (n, H, W) bool ndarray
    scores : (n,) float64 ndarray
        Ranking score of each mask (0 for an empty mask).

    Examples
    --------
    >>> labels, masks, scores = predict_image(rec, rec.load_image(), score, "rag")  # doctest: +SKIP
    """
    from .masks import masks_from_labels
    from .pipeline import box_instances, segment_people

    cfg = dict(
        roi=roi, solver=solver, threshold=threshold, components=bool(components),
        n_segments=n_segments, compactness=compactness, options=options or {},
    )
    if method == "box":
        labels = box_instances(score, record.boxes, threshold=threshold)
    elif method in _KEYPOINT_METHODS:
        labels = segment_people(image, record.keypoints, score, **_people_kwargs(cfg, record, method))
    elif method == "affinity":
        from .affinity import refine_people

        labels = refine_people(image, record.keypoints, score, boxes=record.boxes if roi == "box" else None,
                               threshold=threshold, components=components)
    else:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    labels = np.asarray(labels)
    masks = np.asarray(masks_from_labels(labels, record.n), dtype=bool)
    area = masks.reshape(record.n, -1).sum(1)
    inside = (masks.reshape(record.n, -1) * score.reshape(1, -1)).sum(1)
    scores = np.where(area > 0, inside / np.maximum(area, 1), 0.0)
    if rank == "keypoints":
        labelled = (np.asarray(record.keypoints)[:, :, 2] > 0).sum(1)
        scores = scores * (labelled + 1) / 18.0
    elif rank == "quality":
        from .quality import predict_quality

        scores = predict_quality(labels, record.keypoints, score, threshold=threshold)
    elif rank != "score":
        raise ValueError(f"rank: expected one of {', '.join(map(repr, RANKS))}, got {rank!r}")
    return labels, masks, scores


def _iou(masks: np.ndarray, gt: np.ndarray) -> np.ndarray:
    inter = (masks & gt).reshape(len(gt), -1).sum(1)
    union = (masks | gt).reshape(len(gt), -1).sum(1)
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


# worker state: set once per process by _init_worker (the score source may hold a model)
_STATE: dict[str, Any] = {}


def _init_worker(source: Any, cfg: dict) -> None:
    _STATE["source"] = source
    _STATE["cfg"] = cfg
    if cfg.get("threads_per_worker"):
        os.environ.setdefault("NUMBA_NUM_THREADS", str(cfg["threads_per_worker"]))


def _process(record: Any, keep_labels: bool = False) -> dict:
    """All methods on one image; returns COCO results, per-instance IoU and timings."""
    from .coco import masks_to_results
    from .scores import MissingScoreError

    cfg, source = _STATE["cfg"], _STATE["source"]
    out: dict[str, Any] = {"image_id": record.id, "methods": {}}
    try:
        image = record.load_image()
    except FileNotFoundError as exc:
        if cfg["missing"] == "skip":
            return dict(out, skipped="missing_image", reason=str(exc))
        raise
    t0 = time.perf_counter()
    try:
        score = np.asarray(source(record, image), dtype=np.float32)
    except MissingScoreError as exc:
        if cfg["missing"] == "skip":
            return dict(out, skipped="missing_score", reason=str(exc))
        raise
    out["score_seconds"] = time.perf_counter() - t0
    gt = record.masks()
    if keep_labels:
        out["image"], out["score"], out["gt"] = image, score, gt
    for method in cfg["methods"]:
        t0 = time.perf_counter()
        labels, masks, scores = predict_image(
            record, image, score, method,
            roi=cfg["roi"], solver=cfg["solver"], threshold=cfg["threshold"],
            components=cfg["components"], n_segments=cfg["n_segments"],
            compactness=cfg["compactness"], options=cfg["options"], rank=cfg["rank"],
        )
        seconds = time.perf_counter() - t0
        keep = masks.reshape(record.n, -1).any(1)
        results = masks_to_results(record.id, masks[keep], scores[keep], category_id=cfg["category_id"])
        out["methods"][method] = {
            "results": results,
            "iou": _iou(masks, gt).tolist(),
            "empty": int((~keep).sum()),
            "seconds": seconds,
        }
        if keep_labels:
            out["methods"][method]["labels"] = labels
    return out


def _process_task(record: Any) -> dict:
    return _process(record)


# --------------------------------------------------------------------------------------------
# the experiment
# --------------------------------------------------------------------------------------------


def evaluate_methods(
    annotations: Any,
    images_dir: str | os.PathLike | None = None,
    *,
    methods: Sequence[str] = METHODS,
    score: str = "gt",
    selfie_model: str | os.PathLike | None = None,
    roi: str = "none",
    solver: str = "sssp",
    threshold: float = 0.5,
    n_segments: int = 1000,
    compactness: float = 10.0,
    components: bool = True,
    extent: float | None = None,
    options: dict | None = None,
    rank: str = DEFAULT_RANK,
    keypoints: str | os.PathLike | None = None,
    workers: int = 1,
    limit: int | None = None,
    image_ids: Sequence[int] | None = None,
    missing: str = "error",
    out_dir: str | os.PathLike | None = None,
    figures: int = 4,
    progress: bool = True,
) -> dict:
    """Run the Table 4.1 experiment: every method on every image, COCOeval segm AP.

    Parameters
    ----------
    annotations : str, path, dict, COCO or PersonSet
        COCO keypoints annotations (see :func:`p2i_prior.coco.load_persons`).
    images_dir : str or path, optional
        Folder of the images (default: ``images/`` beside the annotation file).
    methods : sequence of {"box", "rag", "sweep", "geodesic", "affinity"}
        (default: all of ``METHODS``)
    score : str
        Person-score source spec: ``gt``, ``selfie``, ``files:DIR``, ... (:mod:`p2i_prior.scores`).
    selfie_model : str or path, optional
        Another ``.tflite`` model for ``score="selfie"`` (default: the one shipped in the package).
    roi : {"none", "box"}
        ``box`` restricts each keypoint instance to its ground-truth box.
    solver : {"sssp", "apsp"}
        Graph distance solver of ``rag``.
    threshold, n_segments, compactness, options
        Fusion threshold and pipeline parameters (``options``: further keywords of
        ``segment_people``, e.g. ``edge_weight``, ``length_weight``).
    components : bool
        Connected-component gate: an instance only takes the components of person pixels its
        skeleton touches (``False``: the paper's plain prior over the whole image).
    extent : float, optional
        Keypoint-derived extent gate: each instance stops ``extent`` times its body scale away
        from its skeleton.
    rank : {"quality", "score", "keypoints"}
        Ranking score of each predicted mask (module docstring), the same for every method.
    keypoints : str or path, optional
        Predicted keypoints to use instead of the oracle ones (the realistic pipeline): a COCO
        keypoint-results json, e.g. ``NAME_keypoints.json`` from ``p2i eval-net --results-dir``.
        Entries are matched to the eligible persons by ``ann_id`` when they carry one, else in
        order within each image.  A person without a prediction has no keypoints (its keypoint
        methods predict nothing); the count is in the report.  Boxes stay the oracle ones.
    workers : int
        Worker processes over images (1: in this process).
    limit : int, optional
        Only the first ``limit`` images (by id).
    image_ids : sequence of int, optional
        Only these images.
    missing : {"error", "skip"}
        A missing image file or score file: stop, or skip the image for every method (counted).
    out_dir : str or path, optional
        Where to write the results, table, report and figures (nothing written when None).
    figures : int
        Number of per-image figures.
    progress : bool
        Show a tqdm progress bar (stderr).

    Returns
    -------
    dict
        The report: ``config``, ``counts``, ``methods`` (per method: ``ap50``, ``ap``, ``ap75``,
        ``ar``, ``rel_ap50_vs_box``, ``rel_ap_vs_box``, ``mean_instance_iou``,
        ``seconds_per_image``, ...), ``table`` (markdown), ``per_image``, ``machine``, ``files``.

    Examples
    --------
    >>> report = evaluate_methods("coco/annotations.json", methods=["box", "rag"])  # doctest: +SKIP
    >>> print(report["table"])  # doctest: +SKIP
    """
    from .checks import check_choice, check_positive_float, check_positive_int
    from .coco import PersonSet, evaluate_segm, load_persons
    from .scores import make_score_source

    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    methods = list(methods)
    if not methods:
        raise ValueError(f"methods: expected at least one of {', '.join(METHODS)}, got none")
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"methods: expected one of {', '.join(map(repr, METHODS))}, got {m!r}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods: expected distinct names, got {methods}")
    check_choice(roi, "roi", ("none", "box"))
    check_choice(solver, "solver", ("sssp", "apsp"))
    check_choice(missing, "missing", ("error", "skip"))
    check_positive_float(threshold, "threshold", allow_zero=True)
    workers = check_positive_int(workers, "workers")
    figures = check_positive_int(figures, "figures", minimum=0)
    if limit is not None:
        limit = check_positive_int(limit, "limit")

    if isinstance(annotations, PersonSet):
        persons = annotations
    else:
        persons = load_persons(annotations, images_dir, missing_images=missing)
    records = list(persons)
    if image_ids is not None:
        records = persons.subset([int(i) for i in image_ids]).images
    if limit is not None:
        records = records[:limit]
    if not records:
        raise ValueError("annotations: expected at least one image with eligible persons, got none")
    unmatched = 0
    if keypoints is not None:
        records, unmatched = _with_predicted_keypoints(records, keypoints)

    source = make_score_source(score, model_path=selfie_model)
    cfg = dict(
        methods=methods, roi=roi, solver=solver, threshold=float(threshold),
        components=bool(components), n_segments=int(n_segments), compactness=float(compactness),
        options=dict(options or {}, **({} if extent is None else {"extent": float(extent)})),
        missing=missing, category_id=persons.category_id, rank=check_choice(rank, "rank", RANKS),
    )

    if any(m in _KEYPOINT_METHODS for m in methods):
        _people_kwargs(cfg, records[0], "rag")  # bad --option keys fail before any work
    t_start = time.perf_counter()
    outputs = _run(records, source, cfg, workers=workers, progress=progress)
    wall = time.perf_counter() - t_start

    done = [o for o in outputs if "skipped" not in o]
    skipped = [o for o in outputs if "skipped" in o]
    if not done:
        raise ValueError(f"score: every image was skipped ({skipped[0]['reason']} ...)")
    ids = [o["image_id"] for o in done]
    gt = persons.gt_dict(ids)

    stats: dict[str, dict] = {}
    all_results: dict[str, list] = {}
    for m in methods:
        res = [r for o in done for r in o["methods"][m]["results"]]
        all_results[m] = res
        st = evaluate_segm(gt, res)
        ious = np.concatenate([np.asarray(o["methods"][m]["iou"]) for o in done])
        secs = np.asarray([o["methods"][m]["seconds"] for o in done])
        st.update(
            mean_instance_iou=float(ious.mean()),
            empty_masks=int(sum(o["methods"][m]["empty"] for o in done)),
            seconds_per_image=float(secs.mean()),
            seconds_per_image_median=float(np.median(secs)),
        )
        stats[m] = st
    if "box" in stats:
        for m, st in stats.items():
            st["rel_ap50_vs_box"] = _rel(st["ap50"], stats["box"]["ap50"])
            st["rel_ap_vs_box"] = _rel(st["ap"], stats["box"]["ap"])

    n_inst = stats[methods[0]]["n_instances"]
    note = ", ".join([f"components={'on' if components else 'off'}"] + [f"{k}={v}" for k, v in cfg["options"].items()])
    table = format_table(
        stats, score=score, roi=roi, n_images=len(ids), n_instances=n_inst, note=f"Prior: {note}."
    )
    counts = dict(persons.counts)
    counts.update(
        evaluated_images=len(ids),
        evaluated_instances=n_inst,
        skipped_missing_score=sum(o["skipped"] == "missing_score" for o in skipped),
        skipped_missing_image_at_eval=sum(o["skipped"] == "missing_image" for o in skipped),
        skipped=[{"image_id": o["image_id"], "why": o["skipped"], "reason": o["reason"]} for o in skipped],
        persons_without_predicted_keypoints=unmatched,
    )
    report = {
        "config": {
            "annotations": os.fspath(annotations) if isinstance(annotations, (str, os.PathLike)) else None,
            "images_dir": persons.images_dir,
            "score": score,
            "selfie_model": None if selfie_model is None else os.fspath(selfie_model),
            "prediction_score": RANKS[cfg["rank"]],
            "keypoints": "oracle (ground truth)" if keypoints is None else os.fspath(keypoints),
            **{k: v for k, v in cfg.items() if k != "category_id"},
            "workers": workers,
            "limit": limit,
        },
        "counts": counts,
        "methods": stats,
        "table": table,
        "wall_seconds": wall,
        "score_seconds_per_image": float(np.mean([o["score_seconds"] for o in done])),
        "per_image": {
            str(o["image_id"]): {m: o["methods"][m]["iou"] for m in methods} for o in done
        },
        "machine": _machine(),
        "files": [],
    }

    if out_dir is not None:
        out_dir = os.fspath(out_dir)
        os.makedirs(out_dir, exist_ok=True)
        for m in methods:
            p = os.path.join(out_dir, f"{m}_results.json")
            with open(p, "w") as f:
                json.dump(all_results[m], f)
            report["files"].append(p)
        p = os.path.join(out_dir, "table.md")
        with open(p, "w") as f:
            f.write(table + "\n")
        report["files"].append(p)
        if figures:
            by_id = {r.id: r for r in records}
            chosen = _figure_ids(report["per_image"], methods, figures)
            _STATE.update(source=source, cfg=cfg)
            for image_id in chosen:
                p = _figure(_process(by_id[image_id], keep_labels=True), by_id[image_id], methods, out_dir)
                report["files"].append(p)
        p = os.path.join(out_dir, "report.json")
        report["files"].append(p)
        with open(p, "w") as f:
            json.dump(report, f, indent=1, default=_json_default)
    return report


def _run(records: list, source: Any, cfg: dict, *, workers: int, progress: bool) -> list[dict]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(records), desc="p2i eval", unit="img", disable=not progress, file=sys.stderr)
    outputs = []
    try:
        if workers == 1 or len(records) == 1:
            _init_worker(source, cfg)
            for r in records:
                outputs.append(_process(r))
                bar.update(1)
        else:
            import multiprocessing as mp

            # spawn: no fork of a process that may hold interpreter or numba threads
            ctx = mp.get_context("spawn")
            wcfg = dict(cfg, threads_per_worker=max(1, (os.cpu_count() or 1) // workers))
            with ctx.Pool(min(workers, len(records)), initializer=_init_worker, initargs=(source, wcfg)) as pool:
                for o in pool.imap_unordered(_process_task, records):
                    outputs.append(o)
                    bar.update(1)
            order = {r.id: k for k, r in enumerate(records)}
            outputs.sort(key=lambda o: order[o["image_id"]])
    finally:
        bar.close()
    return outputs


def _figure(out: dict, record: Any, methods: list[str], out_dir: str) -> str:
    from .figures import eval_figure

    return eval_figure(out, record, methods, out_dir)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def _cmd_eval(args: argparse.Namespace) -> int:
    from .cli import set_threads

    set_threads(args.threads)
    if args.results:  # score masks made elsewhere (p2i annotate) instead of predicting them
        from .provenance import print_annotated_eval

        return print_annotated_eval(args.coco, args.results, format_table, args.rank)
    if args.threads is not None:
        os.environ["NUMBA_NUM_THREADS"] = str(args.threads)  # spawned workers read it at import
    report = evaluate_methods(
        args.coco,
        args.images,
        methods=args.method,
        score=args.score,
        selfie_model=args.selfie_model,
        roi=args.roi,
        solver=args.solver,
        threshold=args.threshold,
        n_segments=args.n_segments,
        compactness=args.compactness,
        components=args.components == "on",
        rank=args.rank,
        keypoints=args.keypoints,
        extent=args.extent,
        options=dict(args.option or []),
        workers=args.workers,
        limit=args.limit,
        missing=args.missing,
        out_dir=args.out,
        figures=args.figures,
        progress=not args.quiet,
    )
    print(report["table"])
    c = report["counts"]
    if c["skipped_missing_score"] or c["skipped_missing_image"] or c["skipped_missing_image_at_eval"]:
        print(
            f"\nskipped: {c['skipped_missing_score']} images without a score, "
            f"{c['skipped_missing_image'] + c['skipped_missing_image_at_eval']} without an image file"
        )
    print(f"\nwrote {len(report['files'])} files to {args.out}")
    return 0


EVAL_DESCRIPTION = """\
The paper's Table 4.1 experiment on COCO persons, for any person-score source.

For every image with eligible persons (keypoints and a mask, not crowd) and every method, one
mask is predicted per eligible person and scored with COCOeval (segm); persons without
keypoints and crowds are ignore regions.

Methods:
  box       oracle boxes: each person pixel goes to the smallest ground-truth box holding it
  rag       oracle keypoints, superpixel-graph distance (the paper's prior; --solver)
  sweep     oracle keypoints, Euclidean pixel distance (fast sweeping)
  geodesic  oracle keypoints, edge-weighted pixel distance
  affinity  oracle keypoints + image evidence: geodesic candidates re-decided per pixel by a
            small learned model (colour along each skeleton, edges crossed, extent; a "nobody"
            option for people without keypoints); the default of p2i segment

Gates that stop a person where it ends: --components on (default; a person only takes the
connected regions of person pixels its skeleton touches; off is the paper's plain prior),
--extent E (within E times the skeleton's body scale), --roi box (inside the person's own
ground-truth box: the "keypoints with boxes" setting).

Person score (--score): gt (union of the ground-truth person masks, default), selfie (the
selfie model shipped in the package), model:CKPT (a p2i train person model), files:DIR
(DIR/<image stem>.npy or .png), none (every pixel a person).

Ranking (--rank), the same rule for every method, box included: quality (default) ranks a mask
by its predicted IoU (p2i_prior.quality: a small logistic model on per-mask features, shipped
in the package); score by the mean person score inside it; keypoints multiplies that by
(labelled keypoints + 1) / 18. An empty mask gives no detection (a miss).

Mean IoU (last table column, independent of ranking): per eligible person, the IoU of the
pixels labelled with that person's id against its own ground-truth mask (empty = 0), averaged
over all eligible persons.

Writes to --out: <method>_results.json (COCO results, RLE), table.md (AP^r at IoU 0.5 and
over 0.5:0.95, change against box, mean IoU), report.json (configuration, counts, AP, timings,
per-instance IoU, machine) and figures/figure_<image id>.png for the images where the keypoint
prior gains and loses most against the box baseline."""


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand (cheap: heavy imports happen when it runs)."""
    p = subparsers.add_parser(
        "eval",
        help="COCO person evaluation of the keypoint prior (the paper's Table 4.1)",
        description=EVAL_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--coco", required=True, metavar="ANNOTATIONS.json", help="COCO person keypoints annotations")
    p.add_argument("--images", default=None, metavar="DIR", help="image folder (default: images/ beside the json)")
    p.add_argument("--method", default=",".join(METHODS), help="comma-separated: box,rag,sweep,geodesic,affinity (default: all)")
    p.add_argument("--score", default="gt",
                   help="person score: gt | selfie | model:CKPT | files:DIR | none (default gt, the oracle "
                        "of the paper's Table 4.1)")
    p.add_argument("--selfie-model", default=None, metavar="PATH",
                   help="another .tflite for --score selfie (default: the model shipped in the package)")
    p.add_argument("--roi", default="none", choices=("none", "box"), help="restrict keypoint instances to their box")
    p.add_argument("--solver", default="sssp", choices=("sssp", "apsp"), help="graph distance solver of rag")
    p.add_argument("--threshold", type=float, default=0.5, help="person-score threshold (default 0.5)")
    p.add_argument("--n-segments", type=int, default=1000, help="SLIC superpixels of rag (default 1000)")
    p.add_argument("--compactness", type=float, default=10.0, help="SLIC compactness (default 10)")
    p.add_argument("--components", default="on", choices=("on", "off"),
                   help="connected-component gate (default on; off: the paper's plain prior)")
    p.add_argument("--rank", default=DEFAULT_RANK, choices=tuple(RANKS),
                   help="ranking score of a mask: quality (predicted IoU, default), score (mean "
                        "person score inside) or keypoints (that times (labelled + 1) / 18)")
    p.add_argument("--keypoints", default=None, metavar="RESULTS.json",
                   help="predicted keypoints (COCO keypoint results, e.g. from p2i eval-net "
                        "--results-dir) instead of the oracle ones")
    p.add_argument("--extent", type=float, default=None,
                   help="stop each keypoint instance at EXTENT x its skeleton scale (default: no gate)")
    p.add_argument("--option", action="append", type=_parse_option, metavar="KEY=VALUE",
                   help="further keyword of segment_people, e.g. edge_weight=5 (repeatable)")
    p.add_argument("--results", default=None, metavar="ANNOTATED.json",
                   help="score these masks (a json from p2i annotate, or COCO results) against --coco")
    p.add_argument("--workers", type=int, default=1, help="worker processes over images (default 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="numba threads (of each worker; default: all cores, shared among the workers)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--missing", default="error", choices=("error", "skip"),
                   help="a missing image or score file: stop (default) or skip the image, counted")
    p.add_argument("--figures", type=int, default=4, help="per-image figures to draw (default 4)")
    p.add_argument("--out", default="p2i-eval", metavar="DIR", help="output folder (default p2i-eval)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_eval)
