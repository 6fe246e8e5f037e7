"""Evaluating the Pose2Seg networks (``p2i eval-net``).

Each eligible person of an image is cropped at its (oracle) box exactly as in training
(:func:`p2i_net.data.make_crop`, no jitter), the network's foreground probability is pasted
back into the image (:func:`p2i_net.data.paste_mask`) and thresholded at 0.5, and the masks
are scored with :func:`p2i_prior.coco.evaluate_segm`, the COCOeval ``segm`` evaluation the
geometric pipeline uses (same ground truth, same ignore regions).  A mask's ranking score is
the mean foreground probability over the mask (in the crop).

The predicted keypoint heatmaps' peaks give the person's keypoints (``v = 2`` where the peak's
sigmoid reaches ``kp_threshold``, else ``v = 0``): the no-oracle pipeline feeds them to the
geometric prior instead of the annotated keypoints.

The segmentation-only model run on the whole image (it is fully convolutional) gives a
person-probability map: :func:`person_score`, the ``model:CHECKPOINT`` score source of
:mod:`p2i_prior.scores` (see :mod:`p2i_net.scores`).
"""

from __future__ import annotations

import json
import os
import platform
import time
from typing import Any, Sequence

import numpy as np

from p2i_prior.checks import check_positive_float, check_positive_int, shape_str, to_numpy

__all__ = ["predict_instances", "heatmap_keypoints", "person_score", "evaluate_checkpoints",
           "reference_rows", "format_table", "TABLE_IOUS", "pck"]

#: IoU thresholds of the table's columns (with the COCO AP averaged over .50:.05:.95).
TABLE_IOUS = (0.5, 0.6, 0.7, 0.8, 0.9)

#: Row labels of the paper's three models.
MODEL_LABELS = {
    "seg_only": "Segmentation only (DeepLab-LargeFOV)",
    "multitask": "Multi-task (segmentation + keypoint heatmaps)",
    "cascaded": "Pose2Seg cascaded (heatmaps -> shape prior)",
    "oracle box": "reference: the oracle box as the mask",
    "crop ceiling": "reference: ground-truth mask through the crop and paste-back",
}


def _device(net) -> Any:
    return next(net.parameters()).device


def heatmap_keypoints(heatmaps: Any, window: Any, *, kp_threshold: float = 0.1) -> np.ndarray:
    """Keypoints from one crop's heatmaps: the peak of each channel, in image coordinates.

    Parameters
    ----------
    heatmaps : (17, S, S) float array
        Heatmap probabilities (after the sigmoid) of an unflipped crop.
    window : (4,) float array
        The crop's ``(x0, y0, x1, y1)`` window.
    kp_threshold : float
        A keypoint whose peak is below this is reported as not found (``v = 0``).

    Returns
    -------
    (17, 3) float64 ndarray
        ``(x, y, v)``: ``x, y`` the peak pixel centre in the image (also when not found),
        ``v`` 2 (found) or 0 (COCO's "not labelled": consumers ignore the coordinates).

    Examples
    --------
    >>> hm = np.zeros((17, 8, 8)); hm[0, 2, 5] = 0.9
    >>> heatmap_keypoints(hm, [0, 0, 16, 16])[0].tolist()
    [11.0, 5.0, 2.0]
    """
    hm = to_numpy(heatmaps, "heatmaps", dtype=np.float32)
    if hm.ndim != 3 or hm.shape[0] != 17:
        raise ValueError(f"heatmaps: expected (17, S, S), got shape {shape_str(hm.shape)}")
    x0, y0, x1, y1 = to_numpy(window, "window", dtype=np.float64)
    S_h, S_w = hm.shape[1:]
    flat = hm.reshape(17, -1)
    idx = flat.argmax(axis=1)
    peak = flat[np.arange(17), idx]
    r, c = np.divmod(idx, S_w)
    out = np.zeros((17, 3))
    out[:, 0] = x0 + (c + 0.5) * (x1 - x0) / S_w
    out[:, 1] = y0 + (r + 0.5) * (y1 - y0) / S_h
    out[:, 2] = np.where(peak >= kp_threshold, 2.0, 0.0)
    return out


def predict_instances(net, image: Any, boxes: Any, *, crop_size: int = 321,
                      context: float = 0.15, batch_size: int = 16, kp_threshold: float = 0.1,
                      threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Masks (and keypoints) of the persons at ``boxes`` in one image.

    Parameters
    ----------
    net : p2i_net.models.Pose2SegNet
        In eval mode, on any device.
    image : (H, W, 3) uint8 array
    boxes : (n, 4) float array
        COCO ``(x, y, w, h)`` boxes, one per person.
    crop_size : int
        Crop side (use the training crop size).
    context : float
        Context margin (use the training one).
    batch_size : int
        Crops per forward pass.
    kp_threshold : float
        See :func:`heatmap_keypoints`.
    threshold : float
        Foreground probability threshold of the masks.

    Returns
    -------
    dict
        ``masks`` (n, H, W) bool, ``probs`` (n, H, W) float32 pasted probabilities,
        ``scores`` (n,) float64, ``keypoints`` (n, 17, 3) float64 from the heatmap peaks (all
        ``v = 0`` for the segmentation-only model), ``keypoint_scores`` (n, 17).

    Examples
    --------
    >>> out = predict_instances(net, image, record.boxes, crop_size=64)  # doctest: +SKIP
    >>> out["masks"].shape == (len(record.boxes),) + image.shape[:2]  # doctest: +SKIP
    True
    """
    import torch

    from .data import _check_image, make_crop, paste_mask

    img = _check_image(image)
    b = to_numpy(boxes, "boxes", dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes: expected (n, 4) COCO boxes, got shape {shape_str(b.shape)}")
    crop_size = check_positive_int(crop_size, "crop_size", minimum=8)
    batch_size = check_positive_int(batch_size, "batch_size")
    threshold = check_positive_float(threshold, "threshold")
    if threshold > 1:
        raise ValueError(f"threshold: expected a probability in (0, 1], got {threshold}")
    H, W = img.shape[:2]
    n = b.shape[0]
    probs = np.zeros((n, H, W), np.float32)
    scores = np.zeros(n)
    kps = np.zeros((n, 17, 3))
    kp_scores = np.zeros((n, 17))
    dev = _device(net)
    dummy = np.zeros((17, 3))
    for s in range(0, n, batch_size):
        crops = [make_crop(img, None, dummy, b[i], crop_size=crop_size, context=context)
                 for i in range(s, min(n, s + batch_size))]
        x = torch.from_numpy(np.stack([c["image"] for c in crops])).to(dev)
        with torch.no_grad():
            out = net(x)
        fg = torch.softmax(out["seg"].float(), dim=1)[:, 1].cpu().numpy()
        hm = torch.sigmoid(out["heatmaps"].float()).cpu().numpy() if "heatmaps" in out else None
        for k, c in enumerate(crops):
            i = s + k
            probs[i] = paste_mask(fg[k], c["window"], (H, W))
            inside = fg[k] >= threshold
            scores[i] = float(fg[k][inside].mean()) if inside.any() else float(fg[k].max()) * 0.5
            if hm is not None:
                kps[i] = heatmap_keypoints(hm[k], c["window"], kp_threshold=kp_threshold)
                kp_scores[i] = hm[k].reshape(17, -1).max(axis=1)
    return {"masks": probs >= threshold, "probs": probs, "scores": scores, "keypoints": kps,
            "keypoint_scores": kp_scores}


def person_score(net, image: Any, *, max_side: int | None = 513) -> np.ndarray:
    """Full-image person probability from a (segmentation-only) network.

    The network is fully convolutional: the whole image (downscaled so its longer side is at
    most ``max_side``) goes through it and the foreground probability is resized back.

    Parameters
    ----------
    net : p2i_net.models.Pose2SegNet
        Any of the three models (the segmentation output is used).
    image : (H, W, 3) uint8 array
    max_side : int or None
        Longer side of the network input (None: the image as it is).

    Returns
    -------
    (H, W) float32 ndarray in [0, 1]

    Examples
    --------
    >>> person_score(load_model("seg.pt"), image).shape == image.shape[:2]  # doctest: +SKIP
    True
    """
    import torch
    from torch.nn import functional as F

    from .data import normalize

    img = normalize(image)
    H, W = img.shape[1:]
    x = torch.from_numpy(img)[None].to(_device(net))
    if max_side is not None:
        max_side = check_positive_int(max_side, "max_side", minimum=8)
        f = max_side / max(H, W)
        if f < 1:
            size = (max(8, round(H * f)), max(8, round(W * f)))
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    with torch.no_grad():
        seg = net(x)["seg"].float()
    p = torch.softmax(seg, dim=1)[:, 1:2]
    p = F.interpolate(p, size=(H, W), mode="bilinear", align_corners=False)
    return p[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32)


def pck(pred: np.ndarray, gt: np.ndarray, boxes: np.ndarray, *, alpha: float = 0.2) -> tuple[int, int]:
    """Correct keypoints: the heatmap peak within ``alpha * max(box w, h)`` of a labelled one.

    Every labelled (``v > 0``) ground-truth keypoint counts, and its prediction is the peak
    position whatever its height (the usual PCK: the found/not-found threshold plays no part).

    Parameters
    ----------
    pred, gt : (n, 17, 3) float arrays
    boxes : (n, 4) float array
    alpha : float

    Returns
    -------
    (correct, labelled) : two ints

    Examples
    --------
    >>> g = np.zeros((1, 17, 3)); g[0, 0] = (5, 5, 2); p = g.copy(); p[0, 0, 0] = 6
    >>> pck(p, g, np.array([[0, 0, 10, 10.0]]), alpha=0.2)
    (1, 1)
    """
    lab = gt[..., 2] > 0
    d = np.linalg.norm(pred[..., :2] - gt[..., :2], axis=-1)
    scale = np.maximum(boxes[:, 2], boxes[:, 3])[:, None]
    ok = lab & (d <= alpha * scale)
    return int(ok.sum()), int(lab.sum())


def evaluate_checkpoints(checkpoints: dict[str, str], annotations: Any, images_dir: str | None = None,
                         *, image_ids: Sequence[int] | None = None, crop_size: int | None = None,
                         device: str = "cpu", results_dir: str | None = None,
                         kp_threshold: float = 0.1, progress: bool = False) -> dict:
    """Score each checkpoint's pasted masks with COCOeval segm (the Table 4.2 numbers).

    Parameters
    ----------
    checkpoints : dict of str to str
        Row name to checkpoint path (typically the three models).
    annotations : str, dict or PersonSet
        COCO ground truth (loaded with :func:`p2i_prior.coco.load_persons`).
    images_dir : str, optional
        The image folder (default: ``images/`` beside the annotations).
    image_ids : sequence of int, optional
        Evaluate only these images (e.g. the held-out split).
    crop_size : int, optional
        Crop side (default: each checkpoint's training crop size).
    device : str
        Torch device.
    results_dir : str, optional
        Write ``<name>_segm.json`` (COCO results) and ``<name>_keypoints.json`` (predicted
        keypoints, COCO keypoint-results format) there.
    kp_threshold : float
        Heatmap peak height for a predicted keypoint to count as found (``v = 2``).
    progress : bool
        A tqdm bar over images.

    Returns
    -------
    dict
        ``rows``: name to ``{"model", "ap", "ap50", "ap75", "ap_per_iou", "pck", "parameters",
        "seconds", "n_instances", ...}``; ``n_images``, ``n_instances``; ``machine``.

    Examples
    --------
    >>> table = evaluate_checkpoints({"cascaded": "runs/casc/checkpoint.pt"}, "ann.json")  # doctest: +SKIP
    >>> print(format_table(table))  # doctest: +SKIP
    """
    from tqdm import tqdm

    from p2i_prior.coco import PersonSet, evaluate_segm, load_persons, masks_to_results

    from .train import load_checkpoint, load_model

    if not isinstance(checkpoints, dict) or not checkpoints:
        raise ValueError(f"checkpoints: expected a non-empty dict name -> path, got {checkpoints!r}")
    persons = annotations if isinstance(annotations, PersonSet) else load_persons(annotations, images_dir)
    if image_ids is not None:
        persons = persons.subset([int(i) for i in image_ids])
    if len(persons) == 0:
        raise ValueError("annotations: expected at least one image with an eligible person, got none")
    rows = {}
    images_cache: dict[int, np.ndarray] = {}
    for name, path in checkpoints.items():
        state = load_checkpoint(path)
        net = load_model(state, device=device)
        cs = crop_size or int(state["config"].get("crop_size", 321))
        context = float(state["config"].get("context", 0.15))
        t0 = time.perf_counter()
        results, kp_results = [], []
        correct = labelled = 0
        for rec in tqdm(persons, desc=f"eval {name}", disable=not progress):
            image = images_cache.get(rec.id)
            if image is None:
                image = images_cache[rec.id] = rec.load_image()
            out = predict_instances(net, image, rec.boxes, crop_size=cs, context=context,
                                    kp_threshold=kp_threshold)
            results += masks_to_results(rec.id, out["masks"], out["scores"], category_id=persons.category_id)
            if net.kind != "seg_only":
                c, n_lab = pck(out["keypoints"], rec.keypoints, rec.boxes)
                correct += c
                labelled += n_lab
                for k in range(rec.n):
                    kp_results.append({"image_id": rec.id, "category_id": persons.category_id,
                                       "ann_id": int(rec.ann_ids[k]),
                                       "keypoints": [float(v) for v in out["keypoints"][k].ravel()],
                                       "score": float(out["keypoint_scores"][k].mean())})
        seconds = time.perf_counter() - t0
        stats = evaluate_segm(persons, results)
        thr = np.round(np.arange(0.5, 0.96, 0.05), 2)
        per = {f"ap{int(round(t * 100))}": stats["ap_per_iou"][int(np.argmin(np.abs(thr - t)))]
               for t in TABLE_IOUS}
        rows[name] = {
            "model": net.kind, "checkpoint": os.path.abspath(path), "crop_size": cs,
            "width": state["model_config"]["width"], "train_steps": int(state["step"]),
            "parameters": int(sum(p.numel() for p in net.parameters())),
            **{k: stats[k] for k in ("ap", "ap50", "ap75", "ar", "ap_per_iou", "n_images",
                                     "n_instances", "n_ignore", "n_detections")},
            **per,
            "pck@0.2": (correct / labelled) if labelled else None,
            "seconds": seconds,
        }
        if results_dir:
            os.makedirs(results_dir, exist_ok=True)
            with open(os.path.join(results_dir, f"{name}_segm.json"), "w") as f:
                json.dump(results, f)
            if kp_results:
                with open(os.path.join(results_dir, f"{name}_keypoints.json"), "w") as f:
                    json.dump(kp_results, f)
    return {
        "rows": rows,
        "n_images": len(persons),
        "n_instances": persons.n_instances,
        "image_ids": [im.id for im in persons],
        "machine": machine_info(),
    }


def reference_rows(persons: Any, *, crop_size: int, image_ids: Sequence[int] | None = None) -> dict:
    """Two reference rows that frame the networks' numbers (no learning involved).

    ``oracle box``: each person's mask is its filled oracle box.  ``crop ceiling``: each
    person's ground-truth mask cropped at ``crop_size`` exactly as the networks see it and
    pasted back; the best any network at that crop size can score.

    Parameters
    ----------
    persons : PersonSet
    crop_size : int
    image_ids : sequence of int, optional

    Returns
    -------
    dict
        Row name to the same fields as :func:`evaluate_checkpoints` rows (``model`` is the
        row name; ``parameters`` 0; ``pck@0.2`` None).

    Examples
    --------
    >>> rows = reference_rows(load_persons("ann.json"), crop_size=64)  # doctest: +SKIP
    """
    from p2i_prior.coco import evaluate_segm, masks_to_results

    from .data import make_crop, paste_mask

    if image_ids is not None:
        persons = persons.subset([int(i) for i in image_ids])
    res: dict[str, list] = {"oracle box": [], "crop ceiling": []}
    for rec in persons:
        gt = rec.masks()
        box = np.zeros_like(gt)
        ceil = np.zeros_like(gt)
        image = np.zeros((rec.height, rec.width, 3), np.uint8)  # geometry only
        for k in range(rec.n):
            x, y, w, h = rec.boxes[k]
            box[k, max(0, int(round(y))):int(round(y + h)), max(0, int(round(x))):int(round(x + w))] = True
            c = make_crop(image, gt[k], rec.keypoints[k], rec.boxes[k], crop_size=crop_size)
            ceil[k] = paste_mask(c["mask"].astype(np.float32), c["window"], gt.shape[1:]) >= 0.5
        res["oracle box"] += masks_to_results(rec.id, box, np.ones(rec.n), category_id=persons.category_id)
        res["crop ceiling"] += masks_to_results(rec.id, ceil, np.ones(rec.n), category_id=persons.category_id)
    rows = {}
    thr = np.round(np.arange(0.5, 0.96, 0.05), 2)
    for name, results in res.items():
        stats = evaluate_segm(persons, results)
        rows[name] = {
            "model": name, "crop_size": crop_size if name == "crop ceiling" else None,
            "parameters": 0, "pck@0.2": None,
            **{k: stats[k] for k in ("ap", "ap50", "ap75", "ar", "ap_per_iou", "n_images",
                                     "n_instances", "n_ignore", "n_detections")},
            **{f"ap{int(round(t * 100))}": stats["ap_per_iou"][int(np.argmin(np.abs(thr - t)))]
               for t in TABLE_IOUS},
        }
    return rows


def machine_info() -> dict:
    """Machine and versions for result files."""
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def format_table(table: dict) -> str:
    """Render :func:`evaluate_checkpoints`' result in the Table 4.2 layout (Markdown).

    Rows are the models; columns the mask AP at IoU 0.5, 0.6, 0.7, 0.8, 0.9, COCO's AP over
    .50:.05:.95, and the keypoint PCK@0.2 of the heatmap peaks.

    Examples
    --------
    >>> print(format_table(evaluate_checkpoints(ckpts, "ann.json")))  # doctest: +SKIP
    """
    head = ("| Model | " + " | ".join(f"AP@{t:.1f}" for t in TABLE_IOUS)
            + " | AP@[.5:.95] | PCK@0.2 | params |")
    sep = "|" + " --- |" * (len(TABLE_IOUS) + 4)
    lines = [head, sep]
    for name, r in table["rows"].items():
        label = MODEL_LABELS.get(r["model"], r["model"])
        if name != r["model"]:
            label = f"{label} [{name}]"
        cells = [f"{100 * r[f'ap{int(round(t * 100))}']:.1f}" for t in TABLE_IOUS]
        p = "-" if r["pck@0.2"] is None else f"{100 * r['pck@0.2']:.1f}"
        params = f"{r['parameters']:,}" if r["parameters"] else "-"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {100 * r['ap']:.1f} | {p} | {params} |")
    lines.append("")
    lines.append(f"{table['n_instances']} person instances in {table['n_images']} images; "
                 "masks pasted into the image from oracle boxes, COCOeval segm (p2i_prior.coco).")
    return "\n".join(lines)
