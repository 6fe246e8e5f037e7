"""COCO persons: loading the eligible instances, writing results, and COCOeval ``segm`` AP.

Which persons are evaluated
---------------------------
The paper's experiment (Table 4.1) measures person instances that have **both** a segmentation
and keypoints.  :func:`load_persons` therefore splits the person annotations of every image in
two groups:

* **eligible** instances: ``iscrowd == 0``, ``num_keypoints > 0`` and a non-empty segmentation.
  They are the instances the methods predict (one per skeleton) and the ground truth that is
  scored;
* **other** persons: crowd regions, persons without keypoints, persons without a segmentation.
  No method can be asked to segment them (there is no skeleton), yet they are real people, so
  a prediction that lands on one must not count as a false positive either.  In the ground truth
  built for COCOeval (:meth:`PersonSet.gt_dict`) they become ``iscrowd = 1`` *ignore regions*:
  COCOeval matches a detection to an ignore region only when it matches no eligible instance,
  and a detection matched to an ignore region is neither a true nor a false positive.  (For a
  crowd region COCOeval's overlap is intersection over the detection's area.)  A person with no
  segmentation at all uses its box as the ignore region.

Images without any eligible instance are skipped (counted in :attr:`PersonSet.counts`).

The AP values are COCOeval's (``iouType="segm"``, the person category only, area ``all``,
at most 100 detections per image): ``ap`` is AP averaged over IoU 0.50:0.05:0.95, ``ap50`` and
``ap75`` at one IoU threshold each.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from .checks import check_ndim, read_json, shape_str, to_numpy

__all__ = [
    "PersonImage",
    "PersonSet",
    "load_persons",
    "decode_segmentation",
    "masks_to_results",
    "evaluate_segm",
]

_N_KEYPOINTS = 17


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """Rasterise one COCO segmentation (polygons, RLE or compressed RLE) to a mask.

    Parameters
    ----------
    segmentation : list of polygons, or dict RLE
        As stored in a COCO annotation's ``segmentation`` field.
    height, width : int
        The image size.

    Returns
    -------
    (height, width) bool ndarray

    Examples
    --------
    >>> bool(decode_segmentation([[1, 1, 5, 1, 5, 4, 1, 4]], 6, 8).any())
    True
    """
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        if len(segmentation) == 0:
            return np.zeros((height, width), dtype=bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation, dict) and "counts" in segmentation:
        if isinstance(segmentation["counts"], list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        else:
            rle = dict(segmentation)
            if isinstance(rle["counts"], str):
                rle["counts"] = rle["counts"].encode("ascii")
    else:
        raise ValueError(
            "segmentation: expected a list of polygons or an RLE dict with 'counts', "
            f"got {type(segmentation).__name__}"
        )
    mask = mask_utils.decode(rle)
    if mask.shape[:2] != (height, width):
        raise ValueError(
            f"segmentation: expected an RLE of size {(height, width)}, got {shape_str(mask.shape[:2])}"
        )
    return mask.astype(bool)


def _box_polygon(box: Sequence[float]) -> list[list[float]]:
    x, y, w, h = (float(v) for v in box)
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


@dataclass
class PersonImage:
    """One image with its eligible person instances (see the module docstring).

    Attributes
    ----------
    id : int
        COCO image id.
    file_name : str
    path : str or None
        ``images_dir/file_name`` (None when no image folder was given).
    height, width : int
    keypoints : (n, 17, 3) float64 ndarray
        ``(x, y, v)`` per keypoint of each eligible instance, in annotation order.
    boxes : (n, 4) float64 ndarray
        COCO ``[x, y, w, h]`` boxes of the eligible instances.
    ann_ids : (n,) int64 ndarray
        Their annotation ids.
    segmentations : list of n COCO segmentations
    other_ann_ids : (m,) int64 ndarray
        The image's other person annotations (crowd, no keypoints, no segmentation).
    other_segmentations : list of m COCO segmentations
        Their ignore regions (the box as a polygon where the annotation had no segmentation).
    other_iscrowd : (m,) bool ndarray
    """

    id: int
    file_name: str
    path: str | None
    height: int
    width: int
    keypoints: np.ndarray
    boxes: np.ndarray
    ann_ids: np.ndarray
    segmentations: list = field(repr=False)
    other_ann_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    other_segmentations: list = field(default_factory=list, repr=False)
    other_iscrowd: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def n(self) -> int:
        """Number of eligible instances."""
        return int(self.keypoints.shape[0])

    def masks(self) -> np.ndarray:
        """Ground-truth masks of the eligible instances, ``(n, H, W)`` bool.

        Examples
        --------
        >>> persons = load_persons("annotations.json", "images")  # doctest: +SKIP
        >>> persons[0].masks().shape  # doctest: +SKIP
        (3, 427, 640)
        """
        return _stack_masks(self.segmentations, self.height, self.width)

    def other_masks(self) -> np.ndarray:
        """Ignore regions of the other persons of the image, ``(m, H, W)`` bool."""
        return _stack_masks(self.other_segmentations, self.height, self.width)

    def person_mask(self) -> np.ndarray:
        """Union of every person of the image (eligible and other), ``(H, W)`` bool."""
        out = np.zeros((self.height, self.width), dtype=bool)
        for seg in list(self.segmentations) + list(self.other_segmentations):
            out |= decode_segmentation(seg, self.height, self.width)
        return out

    def load_image(self) -> np.ndarray:
        """Read the photo as ``(H, W, 3)`` uint8 RGB.

        Raises
        ------
        FileNotFoundError
            If the file is missing (the message names the image id and path).
        ValueError
            If no image folder was given, or the file's size disagrees with the annotations.
        """
        if self.path is None:
            raise ValueError(
                f"images_dir: expected a folder holding {self.file_name!r} (image id {self.id}), got None"
            )
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"image {self.id}: file not found: {self.path}")
        from PIL import Image

        with Image.open(self.path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
        if arr.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"image {self.id} ({self.path}): expected size {(self.height, self.width)} from the "
                f"annotations, got {shape_str(arr.shape[:2])}"
            )
        return arr


def _stack_masks(segmentations: list, height: int, width: int) -> np.ndarray:
    out = np.zeros((len(segmentations), height, width), dtype=bool)
    for i, seg in enumerate(segmentations):
        out[i] = decode_segmentation(seg, height, width)
    return out


@dataclass
class PersonSet:
    """The eligible COCO persons of a set of images (see :func:`load_persons`).

    Indexable and iterable over :class:`PersonImage` records.

    Attributes
    ----------
    images : list of PersonImage
    category_id : int
        The id of the ``person`` category.
    images_dir : str or None
    counts : dict
        ``images_total``, ``images`` (kept), ``instances`` (eligible), ``other_persons``,
        ``crowd``, ``no_keypoints``, ``no_segmentation``, ``skipped_no_eligible``,
        ``skipped_missing_image``.
    dataset : dict
        The parsed annotation json (all of it).
    """

    images: list[PersonImage]
    category_id: int
    images_dir: str | None
    counts: dict
    dataset: dict = field(repr=False)

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[PersonImage]:
        return iter(self.images)

    def __getitem__(self, index: int) -> PersonImage:
        return self.images[index]

    @property
    def n_instances(self) -> int:
        """Total number of eligible instances."""
        return sum(im.n for im in self.images)

    def by_id(self, image_id: int) -> PersonImage:
        """The record of one image id (``KeyError`` if it is not in the set)."""
        for im in self.images:
            if im.id == image_id:
                return im
        raise KeyError(f"image_id: {image_id} is not in this PersonSet")

    def subset(self, image_ids: Sequence[int]) -> "PersonSet":
        """A PersonSet restricted to ``image_ids`` (in the given order)."""
        index = {im.id: im for im in self.images}
        missing = [i for i in image_ids if i not in index]
        if missing:
            raise ValueError(f"image_ids: expected ids of this set, got unknown {missing[:5]}")
        images = [index[i] for i in image_ids]
        counts = dict(self.counts, images=len(images), instances=sum(im.n for im in images))
        return PersonSet(images, self.category_id, self.images_dir, counts, self.dataset)

    def gt_dict(self, image_ids: Sequence[int] | None = None) -> dict:
        """COCO ground truth for COCOeval: eligible persons normal, the others ignore regions.

        Parameters
        ----------
        image_ids : sequence of int, optional
            Restrict to these images (default: every image of the set).

        Returns
        -------
        dict
            A COCO-format dataset (``images``, ``annotations``, ``categories``) in which the
            eligible instances have ``iscrowd = 0`` and every other person annotation of the
            same images has ``iscrowd = 1``.

        Examples
        --------
        >>> gt = persons.gt_dict()  # doctest: +SKIP
        >>> sum(a["iscrowd"] == 0 for a in gt["annotations"]) == persons.n_instances  # doctest: +SKIP
        True
        """
        from pycocotools import mask as mask_utils

        images = self.images if image_ids is None else self.subset(image_ids).images
        out_images, anns = [], []
        for im in images:
            out_images.append(
                {"id": im.id, "file_name": im.file_name, "height": im.height, "width": im.width}
            )
            for k in range(im.n):
                x, y, w, h = (float(v) for v in im.boxes[k])
                anns.append(
                    {
                        "id": int(im.ann_ids[k]),
                        "image_id": im.id,
                        "category_id": self.category_id,
                        "segmentation": im.segmentations[k],
                        "area": float(_seg_area(im.segmentations[k], im.height, im.width)),
                        "bbox": [x, y, w, h],
                        "iscrowd": 0,
                        "num_keypoints": int((im.keypoints[k, :, 2] > 0).sum()),
                        "keypoints": [float(v) for v in im.keypoints[k].ravel()],
                    }
                )
            for k in range(len(im.other_ann_ids)):
                seg = im.other_segmentations[k]
                rle = _to_rle(seg, im.height, im.width)
                anns.append(
                    {
                        "id": int(im.other_ann_ids[k]),
                        "image_id": im.id,
                        "category_id": self.category_id,
                        "segmentation": seg,
                        "area": float(mask_utils.area(rle)),
                        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                        "iscrowd": 1,
                    }
                )
        return {
            "info": {"description": "pose2instance evaluation ground truth (others = ignore)"},
            "images": out_images,
            "annotations": anns,
            "categories": [{"id": self.category_id, "name": "person", "supercategory": "person"}],
        }


def _to_rle(segmentation: Any, height: int, width: int) -> dict:
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation["counts"], list):
        return mask_utils.frPyObjects(segmentation, height, width)
    rle = dict(segmentation)
    if isinstance(rle["counts"], str):
        rle["counts"] = rle["counts"].encode("ascii")
    return rle


def _seg_area(segmentation: Any, height: int, width: int) -> float:
    from pycocotools import mask as mask_utils

    return float(mask_utils.area(_to_rle(segmentation, height, width)))


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------


def _read_dataset(annotations: Any) -> tuple[dict, str | None]:
    """Return the parsed dataset dict and the file it came from (None for dict/COCO input)."""
    if isinstance(annotations, dict):
        return annotations, None
    if hasattr(annotations, "dataset") and isinstance(getattr(annotations, "dataset"), dict):
        return annotations.dataset, None  # a pycocotools COCO object
    if isinstance(annotations, (str, os.PathLike)):
        path = os.fspath(annotations)
        return read_json(path, "annotations", "a COCO json file"), path
    raise TypeError(
        "annotations: expected a path, a COCO-format dict or a pycocotools COCO, "
        f"got {type(annotations).__name__}"
    )


def _check_dataset(data: Any, where: str) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"annotations: expected a COCO json object (dict) in {where}, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise ValueError(
                f"annotations: expected a COCO dataset with keys 'images', 'annotations', "
                f"'categories' in {where}, got keys {sorted(data)}"
            )
        if not isinstance(data[key], list):
            raise ValueError(f"annotations: expected '{key}' to be a list in {where}, got {type(data[key]).__name__}")


def load_persons(
    annotations: Any,
    images_dir: str | os.PathLike | None = None,
    *,
    missing_images: str = "error",
) -> PersonSet:
    """Load the eligible COCO person instances (keypoints and a mask) of every image.

    Parameters
    ----------
    annotations : str, path, dict or pycocotools.coco.COCO
        A COCO keypoints file (e.g. ``person_keypoints_val2017.json``) or its parsed content.
    images_dir : str or path, optional
        The folder holding the images.  Default: ``images/`` beside the annotation file when it
        exists; otherwise no folder (records then have ``path=None``).
    missing_images : {"error", "skip"}
        What to do when ``images_dir`` is known and an image with eligible persons is absent:
        raise ``FileNotFoundError`` (default) or skip the image and count it in
        ``counts["skipped_missing_image"]``.

    Returns
    -------
    PersonSet
        The images with at least one eligible instance, sorted by image id.  Eligible: person
        category, ``iscrowd == 0``, ``num_keypoints > 0`` and a non-empty segmentation; every
        other person annotation of an image is kept as an ignore region (module docstring).

    Raises
    ------
    FileNotFoundError
        The annotation file, or (``missing_images="error"``) an image file, is missing.
    ValueError
        Malformed json; no ``person`` category; no person annotation with keypoints (e.g. an
        ``instances_*.json`` file); keypoints that are not 17 ``(x, y, v)`` triples.

    Examples
    --------
    >>> persons = load_persons("coco_persons/annotations.json")  # doctest: +SKIP
    >>> len(persons), persons.n_instances  # doctest: +SKIP
    (105, 267)
    """
    if missing_images not in ("error", "skip"):
        raise ValueError(f"missing_images: expected 'error' or 'skip', got {missing_images!r}")
    data, path = _read_dataset(annotations)
    where = path or "the given dataset"
    _check_dataset(data, where)

    persons = [c for c in data["categories"] if isinstance(c, dict) and c.get("name") == "person"]
    if not persons:
        names = [c.get("name") for c in data["categories"] if isinstance(c, dict)]
        raise ValueError(f"annotations: expected a 'person' category in {where}, got categories {names[:10]}")
    cat_id = persons[0]["id"]

    if images_dir is None and path is not None:
        guess = os.path.join(os.path.dirname(os.path.abspath(path)), "images")
        images_dir = guess if os.path.isdir(guess) else None
    if images_dir is not None:
        images_dir = os.fspath(images_dir)
        if not os.path.isdir(images_dir):
            raise FileNotFoundError(f"images_dir: folder not found: {images_dir}")

    by_image: dict[int, list[dict]] = {}
    n_person_anns = n_with_kp = 0
    for a in data["annotations"]:
        if not isinstance(a, dict) or a.get("category_id") != cat_id:
            continue
        n_person_anns += 1
        by_image.setdefault(a.get("image_id"), []).append(a)
        if _num_keypoints(a) > 0:
            n_with_kp += 1
    if n_person_anns and n_with_kp == 0:
        raise ValueError(
            f"annotations: expected person annotations with COCO-17 keypoints (a person_keypoints_*.json "
            f"file), got {n_person_anns} person annotations in {where} and none with num_keypoints > 0"
        )

    counts = dict(
        images_total=len(data["images"]), images=0, instances=0, other_persons=0, crowd=0,
        no_keypoints=0, no_segmentation=0, skipped_no_eligible=0, skipped_missing_image=0,
    )
    records = []
    for info in sorted(data["images"], key=lambda d: d["id"]):
        anns = by_image.get(info["id"], [])
        h, w = int(info["height"]), int(info["width"])
        kps, boxes, ids, segs = [], [], [], []
        o_ids, o_segs, o_crowd = [], [], []
        for a in anns:
            seg = a.get("segmentation")
            has_seg = bool(seg) and (isinstance(seg, dict) or any(len(p) >= 6 for p in seg))
            crowd = bool(a.get("iscrowd", 0))
            nkp = _num_keypoints(a)
            if not crowd and nkp > 0 and has_seg:
                kp = np.asarray(a["keypoints"], dtype=np.float64)
                if kp.size != _N_KEYPOINTS * 3:
                    raise ValueError(
                        f"annotations: annotation {a.get('id')} (image {info['id']}): expected 51 keypoint "
                        f"values (17 x, y, v triples), got {kp.size}"
                    )
                kps.append(kp.reshape(_N_KEYPOINTS, 3))
                boxes.append(np.asarray(a["bbox"], dtype=np.float64))
                ids.append(int(a["id"]))
                segs.append(seg if isinstance(seg, dict) else [p for p in seg if len(p) >= 6])
            else:
                counts["crowd"] += crowd
                counts["no_keypoints"] += (not crowd) and nkp == 0
                counts["no_segmentation"] += not has_seg
                o_ids.append(int(a["id"]))
                o_segs.append(seg if has_seg else _box_polygon(a.get("bbox", [0, 0, 0, 0])))
                o_crowd.append(crowd)
        if not kps:
            counts["skipped_no_eligible"] += 1
            continue
        file_path = None
        if images_dir is not None:
            file_path = os.path.join(images_dir, info["file_name"])
            if not os.path.isfile(file_path):
                if missing_images == "error":
                    raise FileNotFoundError(
                        f"image {info['id']}: file not found: {file_path} (pass missing_images='skip' "
                        "to skip such images)"
                    )
                counts["skipped_missing_image"] += 1
                continue
        counts["other_persons"] += len(o_ids)
        records.append(
            PersonImage(
                id=int(info["id"]),
                file_name=str(info["file_name"]),
                path=file_path,
                height=h,
                width=w,
                keypoints=np.stack(kps),
                boxes=np.stack(boxes),
                ann_ids=np.asarray(ids, dtype=np.int64),
                segmentations=segs,
                other_ann_ids=np.asarray(o_ids, dtype=np.int64),
                other_segmentations=o_segs,
                other_iscrowd=np.asarray(o_crowd, dtype=bool),
            )
        )
    counts["images"] = len(records)
    counts["instances"] = sum(r.n for r in records)
    return PersonSet(records, cat_id, images_dir, counts, data)


def _num_keypoints(a: dict) -> int:
    if "num_keypoints" in a:
        return int(a["num_keypoints"])
    kp = a.get("keypoints")
    if not kp:
        return 0
    return int((np.asarray(kp, dtype=np.float64).reshape(-1, 3)[:, 2] > 0).sum())


# --------------------------------------------------------------------------------------------
# results and evaluation
# --------------------------------------------------------------------------------------------


def _rle_encode(masks: np.ndarray) -> list[dict]:
    from .masks import masks_to_rle  # the project's one RLE implementation

    return masks_to_rle(masks)


def masks_to_results(
    image_id: int, masks: Any, scores: Any, *, category_id: int = 1
) -> list[dict]:
    """COCO results entries (RLE segmentations) for the instance masks of one image.

    Parameters
    ----------
    image_id : int
    masks : (n, H, W) bool array
    scores : (n,) float array
        The ranking score of each mask.
    category_id : int
        The person category id (1 in COCO).

    Returns
    -------
    list of n dicts
        ``{"image_id", "category_id", "segmentation": {"size", "counts": str}, "score"}``, ready
        for ``json.dump`` and ``pycocotools.coco.COCO.loadRes``.

    Examples
    --------
    >>> m = np.zeros((1, 4, 5), bool); m[0, 1:3, 1:4] = True
    >>> masks_to_results(7, m, [0.9])[0]["segmentation"]["size"]
    [4, 5]
    """
    m = to_numpy(masks, "masks")
    check_ndim(m, "masks", (3,), "(n, H, W)")
    s = to_numpy(scores, "scores", np.float64).reshape(-1)
    if s.shape[0] != m.shape[0]:
        raise ValueError(f"scores: expected {m.shape[0]} scores (one per mask), got {s.shape[0]}")
    if not np.isfinite(s).all():
        raise ValueError("scores: expected finite values, got NaN/inf")
    rles = _rle_encode(m.astype(bool))
    out = []
    for rle, score in zip(rles, s):
        counts = rle["counts"]
        if isinstance(counts, bytes):
            counts = counts.decode("ascii")
        out.append(
            {
                "image_id": int(image_id),
                "category_id": int(category_id),
                "segmentation": {"size": [int(v) for v in rle["size"]], "counts": counts},
                "score": float(score),
            }
        )
    return out


def _as_coco(gt: Any):
    from pycocotools.coco import COCO

    if isinstance(gt, PersonSet):
        gt = gt.gt_dict()
    if isinstance(gt, COCO):
        return gt
    data, path = _read_dataset(gt)
    _check_dataset(data, path or "gt")
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def evaluate_segm(
    gt: Any,
    results: Any,
    image_ids: Sequence[int] | None = None,
    *,
    verbose: bool = False,
) -> dict:
    """COCOeval instance-segmentation AP (``iouType="segm"``) of person masks.

    Parameters
    ----------
    gt : PersonSet, dict, pycocotools COCO, or path to a json
        The ground truth.  A :class:`PersonSet` is turned into :meth:`PersonSet.gt_dict` (eligible
        persons scored, the others ignore regions); a dict/COCO/file is used as it is, its
        ``iscrowd = 1`` annotations being the ignore regions.
    results : list of dict, or path to a json
        COCO results (:func:`masks_to_results`), ``segmentation`` as RLE.
    image_ids : sequence of int, optional
        Evaluate only these images (default: every image of ``gt``).
    verbose : bool
        Let COCOeval print its progress and summary.

    Returns
    -------
    dict
        ``ap`` (AP at IoU .50:.05:.95), ``ap50``, ``ap75``, ``ar`` (AR at 100 detections),
        ``ap_per_iou`` (10 values), ``n_images``, ``n_instances`` (scored ground truth),
        ``n_ignore`` (ignore regions), ``n_detections``.

    Raises
    ------
    ValueError
        No scored ground-truth instance in the evaluated images; results naming unknown images;
        malformed results.

    Examples
    --------
    >>> stats = evaluate_segm(persons, results)  # doctest: +SKIP
    >>> round(stats["ap50"], 3)  # doctest: +SKIP
    0.846
    """
    from pycocotools.cocoeval import COCOeval

    coco_gt = _as_coco(gt)
    if isinstance(results, (str, os.PathLike)):
        results = read_json(results, "results", "a COCO results json")
    if not isinstance(results, list):
        raise TypeError(f"results: expected a list of COCO result dicts, got {type(results).__name__}")
    cats = [c["id"] for c in coco_gt.dataset["categories"] if c.get("name") == "person"]
    if not cats:
        raise ValueError("gt: expected a 'person' category")
    cat = cats[0]
    known = set(coco_gt.getImgIds())
    if image_ids is None:
        img_ids = sorted(known)
    else:
        img_ids = [int(i) for i in image_ids]
        unknown = [i for i in img_ids if i not in known]
        if unknown:
            raise ValueError(f"image_ids: expected ids present in gt, got unknown {unknown[:5]}")
    for k, r in enumerate(results):
        if not isinstance(r, dict) or not {"image_id", "segmentation", "score"} <= set(r):
            raise ValueError(
                f"results[{k}]: expected a dict with 'image_id', 'segmentation', 'score', got "
                f"{sorted(r) if isinstance(r, dict) else type(r).__name__}"
            )
        if r["image_id"] not in known:
            raise ValueError(f"results[{k}]: image_id {r['image_id']} is not in gt")

    gt_anns = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=img_ids, catIds=[cat]))
    n_instances = sum(1 for a in gt_anns if not a.get("iscrowd", 0) and not a.get("ignore", 0))
    n_ignore = len(gt_anns) - n_instances
    if n_instances == 0:
        raise ValueError("gt: expected at least one scored (non-crowd) person instance in the evaluated images, got 0")
    sel = set(img_ids)
    dets = [dict(r, category_id=r.get("category_id", cat)) for r in results if r["image_id"] in sel]
    out = dict(n_images=len(img_ids), n_instances=n_instances, n_ignore=n_ignore, n_detections=len(dets))
    if not dets:
        return dict(out, ap=0.0, ap50=0.0, ap75=0.0, ar=0.0, ap_per_iou=[0.0] * 10)

    sink = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with sink:
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, iouType="segm")
        ev.params.imgIds = img_ids
        ev.params.catIds = [cat]
        ev.evaluate()
        ev.accumulate()
        if verbose:
            ev.summarize()
    p = ev.params
    a = p.areaRngLbl.index("all")
    m = p.maxDets.index(100) if 100 in p.maxDets else len(p.maxDets) - 1
    prec = ev.eval["precision"][:, :, 0, a, m]  # (T, R)
    per_iou = []
    for t in range(prec.shape[0]):
        v = prec[t][prec[t] > -1]
        per_iou.append(float(v.mean()) if v.size else 0.0)
    rec = ev.eval["recall"][:, 0, a, m]
    rv = rec[rec > -1]
    thr = np.asarray(p.iouThrs)
    i50 = int(np.argmin(np.abs(thr - 0.5)))
    i75 = int(np.argmin(np.abs(thr - 0.75)))
    return dict(
        out,
        ap=float(np.mean(per_iou)),
        ap50=per_iou[i50],
        ap75=per_iou[i75],
        ar=float(rv.mean()) if rv.size else 0.0,
        ap_per_iou=per_iou,
    )
