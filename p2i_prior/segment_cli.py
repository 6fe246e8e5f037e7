"""``p2i segment``: one photo and its COCO keypoints to person masks.

Reads the photo and the people of its keypoints file (:func:`read_people`), a person score from
any source of :mod:`p2i_prior.scores`, runs :func:`p2i_prior.pipeline.segment_people` (the same
call ``p2i eval`` makes) and writes labels, an overlay and COCO results.  What the user got wrong
is an error (exit 2, one line); what may be wrong is a warning on stderr, printed once the run
has succeeded: keypoints outside the image, a nearly empty person score, empty masks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: A person score is "nearly empty" when fewer than this fraction of the pixels reach the threshold.
NEARLY_EMPTY_FRACTION = 1e-3


@dataclass
class People:
    """The people of one image, as read from a keypoints file."""

    keypoints: np.ndarray  # (n, 17, 3)
    boxes: np.ndarray | None  # (n, 4) COCO [x, y, w, h] when every person has a bbox
    names: list[str]  # "person 1 (ann 123)"
    segmentations: list  # per person: a COCO segmentation or None
    other_segmentations: list = field(default_factory=list)  # persons without keypoints, crowds
    image_id: int | None = None
    file_name: str = ""
    size: tuple[int, int] | None = None  # (width, height) from the annotations' image entry

    @property
    def n(self) -> int:
        return int(self.keypoints.shape[0])


def _ids_text(ids: list) -> str:
    # numbers in numeric order (10 after 9, not after 1), then any non-numeric ids as text
    ids = sorted({i for i in ids if i is not None},
                 key=lambda i: (0, i, "") if isinstance(i, (int, float)) and not isinstance(i, bool)
                 else (1, 0, str(i)))
    more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
    return ", ".join(map(str, ids[:10])) + more if ids else "none"


def read_people(path: str, image_path: str, image_id: int | None) -> People:
    """The people of ``image_path`` in the COCO json ``path`` (``--keypoints``); errors name
    ``--keypoints`` and say what the file holds."""
    from .checks import read_json

    data = read_json(path, "--keypoints", "a COCO json with keypoints")
    images: dict = {}
    if isinstance(data, dict):
        if "annotations" not in data:
            raise ValueError(f"--keypoints: expected a COCO dict with 'annotations' or a list, got keys {sorted(data)[:6]}")
        images = {im.get("id"): im for im in data.get("images", []) if isinstance(im, dict)}
        if image_id is None and "images" in data:
            name = os.path.basename(image_path)
            ids = [i for i, im in images.items() if os.path.basename(str(im.get("file_name", ""))) == name]
            if not ids:
                raise ValueError(f"--keypoints: no image named {name!r} in {path} (it lists "
                                 f"{len(images)} images); pass --image-id")
            image_id = ids[0]
        entries = data["annotations"]
    elif isinstance(data, list):
        entries = data
    else:
        raise ValueError(f"--keypoints: expected a COCO json dict or list, got {type(data).__name__}")
    if not isinstance(entries, list):
        raise ValueError(f"--keypoints: expected 'annotations' to be a list, got {type(entries).__name__}")
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ValueError(
                f"--keypoints: expected COCO annotation dicts with 'keypoints' (51 numbers: x, y, v of 17 "
                f"keypoints), got entry {i} as a {type(e).__name__}; a json of bare (17, 3) lists is no "
                'COCO file: write each person as {"image_id": ID, "keypoints": [x1, y1, v1, ...]}'
            )
    if not entries:
        raise ValueError(f"--keypoints: no person matched: {path} holds no annotations")
    all_ids = [e.get("image_id") for e in entries]
    if image_id is not None:
        entries = [e for e in entries if e.get("image_id") == image_id]
        if not entries:
            raise ValueError(f"--keypoints: no person matched image id {image_id}: {path} has annotations "
                             f"for image ids {_ids_text(all_ids)}")
    else:
        ids = set(all_ids)
        if len(ids) > 1:
            raise ValueError(f"--keypoints: entries for {len(ids)} images in {path} "
                             f"(ids {_ids_text(all_ids)}); pass --image-id")
        image_id = next(iter(ids))
    people = [e for e in entries if "keypoints" in e and not e.get("iscrowd", 0)]
    others = [e for e in entries if e not in people]
    if not people:
        crowds = sum(bool(e.get("iscrowd", 0)) for e in entries)
        raise ValueError(
            f"--keypoints: no person matched: image id {image_id} has {len(entries)} annotations in {path}, "
            f"none with 'keypoints' ({crowds} crowd regions)"
        )
    kp = np.zeros((len(people), 17, 3))
    for i, e in enumerate(people):
        try:
            flat = np.asarray(e["keypoints"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"--keypoints: entry {i} has keypoints that are not numbers: {str(e['keypoints'])[:60]}") from None
        if flat.size != 51:
            raise ValueError(f"--keypoints: entry {i} has {flat.size} keypoint values, expected 51 (17 x (x, y, v))")
        kp[i] = flat.reshape(17, 3)
    boxes = None
    if all(isinstance(e.get("bbox"), (list, tuple)) and len(e["bbox"]) == 4 for e in people):
        boxes = np.asarray([e["bbox"] for e in people], dtype=np.float64)
    names = [f"person {i + 1}" + (f" (ann {e['id']})" if "id" in e else "") for i, e in enumerate(people)]
    entry = images.get(image_id, {})
    size = None
    if "width" in entry and "height" in entry:
        size = (int(entry["width"]), int(entry["height"]))
    return People(
        keypoints=kp, boxes=boxes, names=names,
        segmentations=[e.get("segmentation") for e in people],
        other_segmentations=[e["segmentation"] for e in others if e.get("segmentation")],
        image_id=image_id, file_name=str(entry.get("file_name", os.path.basename(path))), size=size,
    )


def load_image(path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file; ``image:`` errors."""
    from PIL import Image

    if not os.path.isfile(path):
        raise FileNotFoundError(f"image: no such file: {path}")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as exc:  # PIL.UnidentifiedImageError, truncated files
        raise ValueError(f"image: cannot read {path} as an image ({exc})") from None


def _record(people: People, image_path: str, H: int, W: int) -> Any:
    """A :class:`p2i_prior.coco.PersonImage` of the people, for the score sources (``gt``)."""
    from .coco import PersonImage

    segs = [s for s in people.segmentations if s]
    return PersonImage(
        id=people.image_id if people.image_id is not None else 0, file_name=os.path.basename(image_path),
        path=image_path, height=H, width=W, keypoints=people.keypoints,
        boxes=people.boxes if people.boxes is not None else np.zeros((people.n, 4)),
        ann_ids=np.zeros(people.n, np.int64), segmentations=segs,
        other_segmentations=people.other_segmentations,
    )


def person_score(spec: str, people: People, image: np.ndarray, image_path: str) -> np.ndarray:
    """The ``(H, W)`` person score of ``--score spec``; errors name ``--score``."""
    from .scores import GTScore, make_score_source

    H, W = image.shape[:2]
    try:
        source = make_score_source(spec)
        if isinstance(source, GTScore) and not any(people.segmentations) and not people.other_segmentations:
            raise ValueError(f"gt: the annotations of image {people.image_id} in --keypoints carry no 'segmentation'")
        score = np.asarray(source(_record(people, image_path, H, W), image), dtype=np.float32)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        text = str(exc)
        raise type(exc)(text if text.startswith("--score") else f"--score: {text}") from None
    if score.shape != (H, W):
        raise ValueError(f"--score: expected an (H, W) = ({H}, {W}) map (the image's size), got {score.shape}")
    return score


def describe_score(spec: str) -> str:
    from .scores import BUNDLED_SELFIE_MODEL

    if spec == "selfie":
        return f"selfie (the model shipped in the package, {os.path.basename(BUNDLED_SELFIE_MODEL)})"
    if spec == "none":
        return "none (every pixel a person: the prior alone decides)"
    if spec.startswith("gt"):
        return f"{spec} (the annotations' person masks: an oracle)"
    return spec


def outside_warning(kp: np.ndarray, names: list[str], H: int, W: int) -> str | None:
    """A warning naming the people with labelled keypoints outside the W x H image."""
    lab = kp[:, :, 2] > 0
    out = lab & ((kp[:, :, 0] < 0) | (kp[:, :, 0] >= W) | (kp[:, :, 1] < 0) | (kp[:, :, 1] >= H))
    who = [f"{names[i]}: {int(out[i].sum())} of {int(lab[i].sum())}" for i in range(len(kp)) if out[i].any()]
    if not who:
        return None
    return f"labelled keypoints outside the {W}x{H} image (WxH): " + "; ".join(who) + " (wrong image or keypoints?)"


def score_warning(score: np.ndarray, threshold: float) -> str | None:
    """A warning when fewer than NEARLY_EMPTY_FRACTION of the pixels reach the threshold."""
    passing = int((score >= threshold).sum())
    if passing >= NEARLY_EMPTY_FRACTION * score.size:
        return None
    return (f"person score nearly empty: {passing} of {score.size} pixels ({100 * passing / score.size:.3g}%) "
            f"reach the threshold {threshold:g}; its range is [{float(score.min()):.3g}, {float(score.max()):.3g}] "
            "(try another --score or a lower --threshold)")


def gt_ious(people: People, masks: np.ndarray, H: int, W: int) -> dict[int, float]:
    """IoU of each person's mask with its annotation's mask (people with labelled keypoints and
    a segmentation)."""
    from .coco import decode_segmentation

    out = {}
    for i, seg in enumerate(people.segmentations):
        if not seg or not (people.keypoints[i, :, 2] > 0).any():
            continue
        g = decode_segmentation(seg, H, W)
        union = (g | masks[i]).sum()
        out[i] = float((g & masks[i]).sum() / union) if union else 0.0
    return out


def run_segment(args: argparse.Namespace) -> int:
    from PIL import Image

    import p2i_prior as p

    from .cli import set_threads

    set_threads(args.threads)
    image = load_image(args.image)
    H, W = image.shape[:2]
    people = read_people(args.keypoints, args.image, args.image_id)
    if people.size is not None and people.size != (W, H):
        raise ValueError(
            f"image: {args.image} is {W}x{H} (WxH), but --keypoints says image {people.image_id} "
            f"({people.file_name}) is {people.size[0]}x{people.size[1]}: the keypoints belong to another "
            "image (check the file or --image-id)"
        )
    if args.roi == "box" and people.boxes is None:
        raise ValueError("--roi box: expected a 'bbox' in every matched annotation, got one or more without")
    roi = "box" if args.roi == "box" or (args.roi == "auto" and people.boxes is not None) else "none"
    notes: list[str] = []
    t0 = time.perf_counter()
    score = person_score(args.score, people, image, args.image)
    t_score = time.perf_counter() - t0
    kp = people.keypoints
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t1 = time.perf_counter()
        labels = np.asarray(p.segment_people(
            image, kp, score, method=args.method, threshold=args.threshold,
            components=args.components == "on", boxes=people.boxes if roi == "box" else None,
            extent=args.extent, solver=args.solver, n_segments=args.segments,
        ))
        elapsed = time.perf_counter() - t1
    notes += [str(w.message) for w in caught]
    n = people.n
    masks = np.asarray(p.masks_from_labels(labels, n), dtype=bool)
    area = masks.reshape(n, -1).sum(1)
    notes += [w for w in (outside_warning(kp, people.names, H, W), score_warning(score, args.threshold)) if w]
    no_kp = [people.names[i] for i in range(n) if not (kp[i, :, 2] > 0).any()]
    empty = [people.names[i] for i in range(n) if area[i] == 0 and people.names[i] not in no_kp]
    if no_kp:
        notes.append(f"no labelled keypoints, so no mask: {', '.join(no_kp)}")
    if empty:
        notes.append(f"empty masks (no person pixel assigned; left out of instances.json): {', '.join(empty)}")

    os.makedirs(args.out, exist_ok=True)
    Image.fromarray(labels.astype(np.uint8 if n < 256 else np.uint16)).save(os.path.join(args.out, "labels.png"))
    ious = gt_ious(people, masks, H, W)
    _overlay(os.path.join(args.out, "overlay.png"), image, labels, kp, people.names,
             f"{os.path.basename(args.image)}: {args.method}, roi {roi}, score {args.score}")
    rles = p.masks_to_rle(masks)
    out = []
    for i, rle in enumerate(rles):
        if area[i] == 0:
            continue  # never an area-0 detection
        entry = {"image_id": people.image_id, "category_id": 1, "segmentation": rle,
                 "score": float(score[masks[i]].mean()), "area": int(area[i]), "person": i + 1}
        if i in ious:
            entry["iou_with_annotation"] = round(ious[i], 4)
        out.append(entry)
    with open(os.path.join(args.out, "instances.json"), "w") as f:
        json.dump(out, f)

    print(f"image {os.path.basename(args.image)}: {W}x{H} (WxH), {n} people from {args.keypoints}"
          + (f" (image id {people.image_id})" if people.image_id is not None else ""))
    solver = f", solver {args.solver}, {args.segments} superpixels" if args.method == "rag" else ""
    print(f"settings: score {describe_score(args.score)}; method {args.method}{solver}; roi {roi}"
          + (" (the annotations' bbox)" if roi == "box" else " (keypoints alone)")
          + f"; components {args.components}; threshold {args.threshold:g}"
          + (f"; extent {args.extent:g}" if args.extent is not None else ""))
    print(f"{len(out)} masks, {int((labels > 0).sum())} person pixels, {1000 * elapsed:.0f} ms "
          f"(person score {1000 * t_score:.0f} ms)")
    if ious:
        per = ", ".join(f"{i + 1}: {v:.3f}" for i, v in ious.items())
        print(f"IoU with the annotations' masks (person: IoU): {per}; mean {np.mean(list(ious.values())):.3f} "
              f"over {len(ious)} people")
    print(f"wrote labels.png, overlay.png, instances.json to {args.out}", flush=True)
    for note in notes:
        print(f"p2i segment: warning: {note}", file=sys.stderr)
    return 0


def _overlay(path: str, image: np.ndarray, labels: np.ndarray, keypoints: np.ndarray, names: list[str],
             title: str) -> None:
    """overlay.png: the photo with coloured masks, skeletons and a legend of person numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import colour_labels, draw_skeletons, instance_legend

    n = len(keypoints)
    H, W = labels.shape
    scale = max(1.0, 640 / W)
    fig = plt.figure(figsize=(W * scale / 100, H * scale / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(colour_labels(labels, n, image))
    draw_skeletons(ax, keypoints, lw=1.2)
    for i in range(n):  # the person's number at its first labelled keypoint
        lab = np.flatnonzero(keypoints[i, :, 2] > 0)
        if len(lab):
            x, y = keypoints[i, lab[0], :2]
            ax.text(x, y - 4, str(i + 1), color="white", fontsize=8, ha="center", va="bottom",
                    bbox=dict(boxstyle="round,pad=0.1", fc="black", alpha=0.5, lw=0))
    instance_legend(ax, n, names, loc="upper right", fontsize=7, title=title, title_fontsize=7)
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)
    ax.set_axis_off()
    fig.savefig(path)
    plt.close(fig)
