"""Provenance of generated masks, and scoring a dataset annotated by ``p2i annotate``.

``p2i annotate`` writes a COCO dataset in which every mask it made carries one extra field,
:data:`PROVENANCE_KEY`, beside ``segmentation`` and ``area``::

    "p2i_mask": {"generator": "pose2instance", "version": "0.1.0", "method": "rag",
                 "score_source": "gt", "roi": "box", "threshold": 0.5, "mask_score": 0.97}

``mask_score`` is the mean person score inside the mask and ``quality`` the mask's predicted IoU
(present when the quality model, ``p2i_prior.quality``, is installed): the ranking scores
``p2i eval --rank score|quality`` gives the same mask, so that scoring the annotated file
reproduces ``p2i eval``'s numbers exactly.  Readers that do not know the field (pycocotools,
detectron2, mmdet) ignore it.

:func:`results_from` turns such a dataset (or a plain COCO results list) into COCO results and
:func:`evaluate_annotated` scores it against a reference dataset the way ``p2i eval`` does
(``p2i eval --coco REFERENCE.json --results ANNOTATED.json``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["PROVENANCE_KEY", "mask_provenance", "results_from", "evaluate_annotated", "print_annotated_eval"]

#: The extra annotation field holding a generated mask's provenance.
PROVENANCE_KEY = "p2i_mask"


def mask_provenance(method: str, score_source: str, roi: str, threshold: float, mask_score: float,
                    quality: float | None = None) -> dict:
    """The provenance record of one generated mask (``quality``: the predicted IoU, when a
    quality model is installed; left out otherwise).

    Examples
    --------
    >>> mask_provenance("rag", "gt", "box", 0.5, 1.0)["generator"]
    'pose2instance'
    """
    from . import __version__

    out = {"generator": "pose2instance", "version": __version__, "method": method,
           "score_source": score_source, "roi": roi, "threshold": float(threshold),
           "mask_score": float(mask_score)}
    if quality is not None:
        out["quality"] = float(quality)
    return out


def _rank_score(a: dict, p: dict, rank: str) -> float:
    """The ranking score ``p2i eval --rank RANK`` gives the mask (evaluate.predict_image)."""
    if rank == "score":
        return float(p["mask_score"])
    if rank == "keypoints":
        labelled = int((np.asarray(a["keypoints"], dtype=np.float64).reshape(17, 3)[:, 2] > 0).sum())
        return float(p["mask_score"]) * (labelled + 1) / 18.0
    if rank == "quality":
        if "quality" not in p:
            raise ValueError(f"rank: annotation {a.get('id')} carries no predicted 'quality' (annotated without a "
                             "quality model); use --rank score")
        return float(p["quality"])
    raise ValueError(f"rank: expected 'quality', 'score' or 'keypoints', got {rank!r}")


def results_from(annotated: Any, rank: str = "score") -> tuple[list[dict], dict[int, Any], list[dict]]:
    """COCO results from an annotated dataset (or a COCO results list, returned as it is).

    Parameters
    ----------
    annotated : dict or list
        A dataset written by ``p2i annotate`` (annotations with :data:`PROVENANCE_KEY`), or a
        list of COCO results (``image_id``, ``segmentation``, ``score``).
    rank : {"score", "keypoints", "quality"}
        The ranking score to give each mask, as ``p2i eval --rank`` does: the provenance's
        ``mask_score``, that times ``(labelled keypoints + 1) / 18``, or its ``quality``.

    Returns
    -------
    results : list of dict
        ``{"image_id", "category_id", "segmentation", "score"}`` per generated mask, in the
        dataset's annotation order; ``score`` as ``rank`` says.
    by_ann : dict
        Annotation id -> segmentation of each generated mask (empty for a results list).
    provenance : list of dict
        The provenance records, in the same order.

    Examples
    --------
    >>> results_from([])
    ([], {}, [])
    """
    if isinstance(annotated, list):
        return annotated, {}, []
    if not isinstance(annotated, dict) or not isinstance(annotated.get("annotations"), list):
        raise ValueError("results: expected a COCO dataset with 'annotations' (from p2i annotate) or a list "
                         f"of COCO results, got {type(annotated).__name__}")
    results, by_ann, prov = [], {}, []
    for a in annotated["annotations"]:
        p = a.get(PROVENANCE_KEY) if isinstance(a, dict) else None
        if not isinstance(p, dict) or not a.get("segmentation"):
            continue
        results.append({"image_id": a["image_id"], "category_id": a.get("category_id", 1),
                        "segmentation": a["segmentation"], "score": _rank_score(a, p, rank)})
        by_ann[a.get("id")] = a["segmentation"]
        prov.append(p)
    if not results:
        raise ValueError(f"results: expected annotations carrying '{PROVENANCE_KEY}' (written by p2i annotate), "
                         "got none")
    return results, by_ann, prov


def evaluate_annotated(reference: Any, annotated: Any, rank: str = "score") -> dict:
    """Score generated masks against a reference dataset the way ``p2i eval`` does.

    The reference's eligible persons (keypoints and a mask, not crowd) are scored, its other
    persons are ignore regions (:meth:`p2i_prior.coco.PersonSet.gt_dict`).

    Parameters
    ----------
    reference : str, path or dict
        The COCO dataset with the real masks.
    annotated : str, path, dict or list
        A dataset written by ``p2i annotate`` or a COCO results list (:func:`results_from`).
    rank : {"score", "keypoints", "quality"}
        The ranking score of each mask (:func:`results_from`).

    Returns
    -------
    dict
        ``methods``: ``{name: stats}`` with :func:`p2i_prior.coco.evaluate_segm`'s keys plus
        ``mean_instance_iou`` (each eligible person's generated mask, found by annotation id,
        against its real mask; 0 where none was generated; None for a results list); ``score``,
        ``roi`` (from the provenance), ``n_images``, ``n_instances``.

    Examples
    --------
    >>> evaluate_annotated("coco/annotations.json", "annotated.json")["methods"]  # doctest: +SKIP
    """
    from .checks import read_json
    from .coco import _read_dataset, decode_segmentation, evaluate_segm, load_persons

    ref, _ = _read_dataset(reference)
    if isinstance(annotated, (str, os.PathLike)):
        annotated = read_json(annotated, "results", "a dataset from p2i annotate or a COCO results json")
    persons = load_persons(ref)  # no image folder: only the annotations are read
    results, by_ann, prov = results_from(annotated, rank)
    known = {r.id for r in persons}
    stats = evaluate_segm(persons.gt_dict(), [r for r in results if r["image_id"] in known])
    ious = []
    for rec in persons:
        for k, ann in enumerate(rec.ann_ids):
            seg = by_ann.get(int(ann))
            if seg is None:
                ious.append(0.0)
                continue
            a = decode_segmentation(seg, rec.height, rec.width)
            b = decode_segmentation(rec.segmentations[k], rec.height, rec.width)
            union = (a | b).sum()
            ious.append(float((a & b).sum() / union) if union else 0.0)
    stats["mean_instance_iou"] = float(np.mean(ious)) if by_ann else None

    def one(key: str) -> str:
        values = sorted({str(p.get(key)) for p in prov})
        return values[0] if len(values) == 1 else ("mixed: " + ", ".join(values) if values else "?")

    name = one("method") if prov and len({p.get("method") for p in prov}) == 1 else "results"
    return {"methods": {name: stats}, "score": one("score_source"), "roi": one("roi"),
            "n_images": stats["n_images"], "n_instances": stats["n_instances"]}


def print_annotated_eval(reference: Any, annotated: Any, format_table: Any, rank: str = "score") -> int:
    """``p2i eval --coco REFERENCE --results ANNOTATED``: print the table and the mean IoU.

    ``format_table`` is :func:`p2i_prior.evaluate.format_table` (passed in: this module sits
    below ``evaluate``).
    """
    r = evaluate_annotated(reference, annotated, rank)
    ranked = f"ranked by {rank}" if "results" not in r["methods"] else "ranked by the results' scores"
    print(format_table(r["methods"], score=r["score"], roi=r["roi"], n_images=r["n_images"],
                       n_instances=r["n_instances"], note=f"Masks from {os.fspath(annotated)}, {ranked}."))
    for name, st in r["methods"].items():
        iou = "n/a (a results list names no annotations)" if st["mean_instance_iou"] is None else \
            f"{st['mean_instance_iou']:.4f}"
        print(f"{name}: mean instance IoU {iou}; AP^r@0.5 {st['ap50']:.4f}, AP^r@[.5:.95] {st['ap']:.4f}")
    return 0
