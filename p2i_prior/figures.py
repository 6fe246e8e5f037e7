"""Figure helpers shared by ``p2i demo``, ``p2i segment`` and ``p2i eval``: instance colours
(distinct for any number of people), label overlays, COCO skeletons and legends."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["instance_colours", "colour_labels", "draw_skeletons", "instance_legend", "eval_figure"]


def instance_colours(n: int) -> np.ndarray:
    """(n, 3) RGB in [0, 1]: 20 distinct colours (tab10, then tab20's light hues), then
    golden-angle hues, so any number of people get distinct colours.

    Examples
    --------
    >>> len({tuple(c) for c in instance_colours(30).round(3)})
    30
    """
    import colorsys

    import matplotlib

    tab = matplotlib.colormaps["tab20"]
    base = [tab(i)[:3] for i in range(0, 20, 2)] + [tab(i)[:3] for i in range(1, 20, 2)]
    out = list(base[: max(n, 0)])
    for k in range(len(out), n):
        out.append(colorsys.hsv_to_rgb((0.11 + 0.618034 * k) % 1.0, 0.75, 0.55 + 0.35 * (k % 2)))
    return np.array(out, dtype=np.float64).reshape(-1, 3)


def colour_labels(labels: np.ndarray, n: int, image: np.ndarray | None = None, alpha: float = 0.6) -> np.ndarray:
    """(H, W, 3) float RGB: instance colours over an optional dimmed image; background grey/dim."""
    cols = np.vstack([[0.0, 0.0, 0.0], instance_colours(max(n, 1))])
    rgb = cols[labels]
    if image is None:
        return np.where(labels[..., None] > 0, rgb, 0.85)
    base = image.astype(np.float64) / 255.0
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=-1)
    return np.where(labels[..., None] > 0, (1 - alpha) * base + alpha * rgb, 0.5 * base)


def draw_skeletons(ax, keypoints: np.ndarray, colours: np.ndarray | None = None, lw: float = 2.0) -> None:
    """COCO skeletons on a matplotlib axis (hollow dots: occluded keypoints)."""
    from .skeleton import COCO_SKELETON

    cols = instance_colours(len(keypoints)) if colours is None else colours
    for i, person in enumerate(keypoints):
        for a, b in COCO_SKELETON:
            if person[a, 2] > 0 and person[b, 2] > 0:
                ax.plot([person[a, 0], person[b, 0]], [person[a, 1], person[b, 1]], "-", color=cols[i], lw=lw)
        vis = person[:, 2] == 2
        occ = person[:, 2] == 1
        ax.plot(person[vis, 0], person[vis, 1], "o", color=cols[i], mec="white", ms=2 * lw)
        ax.plot(person[occ, 0], person[occ, 1], "o", color="white", mec=cols[i], ms=2 * lw)


def instance_legend(target, n: int, names: list[str] | None = None, **kwargs):
    """A legend of coloured patches, ``person 1 .. n`` (or ``names``), on an axis or figure."""
    from matplotlib.patches import Patch

    cols = instance_colours(n)
    names = names or [f"person {i + 1}" for i in range(n)]
    handles = [Patch(facecolor=cols[i], edgecolor="white", label=names[i]) for i in range(n)]
    if not handles:
        return None
    kwargs.setdefault("fontsize", 8)
    kwargs.setdefault("framealpha", 0.8)
    return target.legend(handles=handles, **kwargs)


def _overlay(ax: Any, image: np.ndarray, labels: np.ndarray, title: str, keypoints: np.ndarray | None = None) -> None:
    n = int(labels.max()) if keypoints is None else len(keypoints)
    ax.imshow(colour_labels(labels.astype(np.int64), max(n, int(labels.max())), image, alpha=0.55))
    if keypoints is not None:
        draw_skeletons(ax, keypoints, instance_colours(len(keypoints)) * 0.6, lw=1.0)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def eval_figure(out: dict, record: Any, methods: list[str], out_dir: str) -> str:
    """The ``p2i eval`` figure of one image: person score, ground truth and each method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image, gt = out["image"], out["gt"]
    gt_labels = np.zeros(gt.shape[1:], dtype=np.int32)
    for k in range(len(gt)):
        gt_labels[gt[k]] = k + 1
    panels = [("ground truth", gt_labels, record.keypoints)]
    for m in methods:
        iou = np.mean(out["methods"][m]["iou"])
        panels.append((f"{m}: mean IoU {iou:.2f}", out["methods"][m]["labels"], None if m == "box" else record.keypoints))
    ncol = len(panels) + 1
    h, w = image.shape[:2]
    fig, axes = plt.subplots(1, ncol, figsize=(3.2 * ncol, 3.2 * h / w + 0.5), dpi=110)
    im = axes[0].imshow(out["score"], cmap="gray", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[0], fraction=0.04)
    axes[0].set_title("person score", fontsize=8)
    axes[0].axis("off")
    for ax, (title, labels, kp) in zip(axes[1:], panels):
        _overlay(ax, image, labels, title, kp)
    # ignore regions (persons without keypoints, crowds) outlined on the ground truth
    other = record.other_masks()
    if len(other):
        axes[1].contour(other.any(0), levels=[0.5], colors="white", linewidths=0.8, linestyles="dashed")
    instance_legend(fig, len(record.keypoints), loc="lower center", ncol=min(len(record.keypoints), 10),
                    fontsize=7, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(f"image {record.id} ({record.file_name})", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
    path = os.path.join(out_dir, "figures", f"figure_{record.id}.png")
    fig.savefig(path)
    plt.close(fig)
    return path
