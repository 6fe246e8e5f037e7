"""Tables and report helpers of ``p2i eval`` (:mod:`p2i_prior.evaluate`): the Table 4.1 layout,
machine metadata, predicted keypoints in place of the oracle ones, figure choice."""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

__all__ = ["format_table"]


def _rel(value: float, base: float) -> float | None:
    return None if base <= 0 else 100.0 * (value - base) / base


def format_table(
    methods: dict, *, score: str, roi: str, n_images: int, n_instances: int, note: str = ""
) -> str:
    """The Table 4.1 layout as markdown.

    Parameters
    ----------
    methods : dict
        ``{method: {"ap50": float, "ap": float, "mean_instance_iou": float, ...}}`` in table
        order (a missing ``mean_instance_iou`` prints ``n/a``).
    score, roi : str
        Shown in the caption.
    n_images, n_instances : int
        Shown in the caption.
    note : str
        Appended to the caption (e.g. the prior's options).

    Returns
    -------
    str

    Examples
    --------
    >>> print(format_table({"box": {"ap50": .8, "ap": .5, "mean_instance_iou": .7},
    ...                     "rag": {"ap50": .9, "ap": .6, "mean_instance_iou": .75}},
    ...                    score="gt", roi="none", n_images=2, n_instances=3).splitlines()[-1])
    | rag (keypoints) | 0.900 | +12.5% | 0.600 | +20.0% | 0.750 |
    """
    base = methods.get("box")
    lines = [
        f"AP^r of person instance masks, score `{score}`, roi `{roi}`: {n_images} images, "
        f"{n_instances} persons with keypoints and masks (others ignored)." + (f" {note}" if note else ""),
        "",
        "| method | AP^r@0.5 | vs box | AP^r@[.5:.95] | vs box | mean IoU |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, st in methods.items():
        label = "box (oracle boxes)" if name == "box" else f"{name} (keypoints)"
        cells = [label]
        for key in ("ap50", "ap"):
            cells.append(f"{st[key]:.3f}")
            if base is None or name == "box":
                cells.append("")
            else:
                r = _rel(st[key], base[key])
                cells.append("n/a" if r is None else f"{r:+.1f}%")
        iou = st.get("mean_instance_iou")
        cells.append("n/a" if iou is None else f"{iou:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _machine() -> dict:
    import numba
    import scipy
    import skimage

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-image": skimage.__version__,
        "numba": numba.__version__,
    }


def _with_predicted_keypoints(records: list, path: str | os.PathLike) -> tuple[list, int]:
    """The records with their keypoints replaced by the predictions in ``path``."""
    import dataclasses

    from .checks import read_json

    entries = read_json(path, "keypoints", "a COCO keypoint-results json")
    if not isinstance(entries, list):
        raise ValueError(f"keypoints: expected a list of COCO keypoint results, got {type(entries).__name__}")
    by_ann: dict[int, np.ndarray] = {}
    by_image: dict[int, list] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or "image_id" not in e or "keypoints" not in e:
            raise ValueError(f"keypoints: entry {i} needs 'image_id' and 'keypoints', got {str(e)[:80]}")
        kp = np.asarray(e["keypoints"], dtype=np.float64)
        if kp.size != 51:
            raise ValueError(f"keypoints: entry {i} has {kp.size} values, expected 51 (17 x (x, y, v))")
        kp = kp.reshape(17, 3)
        if "ann_id" in e:
            by_ann[int(e["ann_id"])] = kp
        by_image.setdefault(int(e["image_id"]), []).append(kp)
    out, unmatched = [], 0
    for rec in records:
        pred = np.zeros_like(rec.keypoints)
        if by_ann:
            for k, ann in enumerate(rec.ann_ids):
                if int(ann) in by_ann:
                    pred[k] = by_ann[int(ann)]
                else:
                    unmatched += 1
        else:
            got = by_image.get(rec.id, [])
            if got and len(got) != rec.n:
                raise ValueError(
                    f"keypoints: image {rec.id} has {len(got)} predictions for {rec.n} eligible persons; "
                    "give each entry an 'ann_id' to match them"
                )
            if got:
                pred[:] = np.stack(got)
            else:
                unmatched += rec.n
        out.append(dataclasses.replace(rec, keypoints=pred))
    return out, unmatched


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _figure_ids(per_image: dict, methods: list[str], n: int) -> list[int]:
    """Images for the figures: largest losses and gains of the first keypoint method vs box."""
    ids = [int(i) for i in per_image]
    kp = [m for m in methods if m != "box"]
    if "box" not in methods or not kp:
        return ids[:n]
    delta = {int(i): float(np.mean(v[kp[0]]) - np.mean(v["box"])) for i, v in per_image.items()}
    order = sorted(ids, key=lambda i: delta[i])
    worst = order[: (n + 1) // 2]
    best = [i for i in reversed(order) if i not in worst][: n - len(worst)]
    return worst + best
