"""Instance crops for the Pose2Seg networks.

Each training example is one person: its (jittered) box, widened by a context margin, is
resampled to a fixed ``crop_size x crop_size`` square, together with the person's own mask
(other people are background) and 17 Gaussian keypoint heatmaps.  Horizontal flips mirror the
crop and swap the left/right keypoints (:data:`p2i_prior.skeleton.COCO_FLIP_PAIRS`).

Geometry
--------
A *window* ``(x0, y0, x1, y1)`` is a rectangle in continuous image coordinates (pixel
``(r, c)`` covers ``[c, c+1) x [r, r+1)``, the convention of :mod:`p2i_prior.skeleton`).
Crop pixel ``(i, j)`` has its centre at image point
``(x0 + (j + 0.5) * (x1 - x0) / S, y0 + (i + 0.5) * (y1 - y0) / S)``; the same mapping sends
keypoints into the crop and :func:`paste_mask` sends crop probabilities back into the image.

Visibility
----------
A keypoint with ``v > 0`` (labelled, visible or occluded) gets a Gaussian of peak 1 and loss
weight 1 (also when it falls outside the crop: its heatmap is then ~0 and the network learns
that it is absent); an unlabelled keypoint (``v == 0``) gets an all-zero heatmap and loss
weight 0, so the network is not taught that it is absent.

Sources
-------
:class:`CocoSource` (a COCO folder such as ``../shared/data/coco_persons``, through
:func:`p2i_prior.coco.load_persons`) and :class:`SyntheticSource` (the synthetic crowd
generator :func:`p2i_prior.synthetic.make_scene`, unbounded).  :class:`InstanceCrops` turns a
source into a map-style dataset whose items may be keyed by ``(index, augmentation_seed)`` so
the augmentation does not depend on worker processes (see :class:`StepBatchSampler`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
from scipy import ndimage

from p2i_prior.checks import (check_choice, check_ndim, check_positive_float, check_positive_int,
                             shape_str, to_numpy)
from p2i_prior.skeleton import COCO_FLIP_PAIRS, check_keypoints

__all__ = [
    "IMAGE_MEAN", "IMAGE_STD", "normalize", "crop_window", "make_crop", "paste_mask",
    "gaussian_heatmaps", "Person", "CocoSource", "SyntheticSource", "ConcatSource",
    "InstanceCrops", "StepBatchSampler", "make_loader", "split_image_ids",
]

#: ImageNet RGB mean and standard deviation (0-255 scale) used to normalise crops.
IMAGE_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
IMAGE_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)

_FLIP_PERM = np.arange(17)
for _a, _b in COCO_FLIP_PAIRS:
    _FLIP_PERM[_a], _FLIP_PERM[_b] = _b, _a


def normalize(image: Any) -> np.ndarray:
    """Turn an ``(H, W, 3)`` uint8 RGB image into a ``(3, H, W)`` float32 network input.

    Parameters
    ----------
    image : (H, W, 3) uint8 array

    Returns
    -------
    (3, H, W) float32 ndarray
        ``(image - IMAGE_MEAN) / IMAGE_STD``, channels first.

    Examples
    --------
    >>> normalize(np.zeros((4, 5, 3), np.uint8)).shape
    (3, 4, 5)
    """
    img = _check_image(image)
    return np.ascontiguousarray(((img.astype(np.float32) - IMAGE_MEAN) / IMAGE_STD).transpose(2, 0, 1))


def _check_image(image: Any, name: str = "image") -> np.ndarray:
    img = to_numpy(image, name)
    check_ndim(img, name, (3,), "(H, W, 3) uint8 RGB image")
    if img.shape[2] != 3:
        raise ValueError(f"{name}: expected (H, W, 3) uint8 RGB image, got shape {shape_str(img.shape)}")
    if img.dtype != np.uint8:
        raise TypeError(f"{name}: expected dtype uint8, got {img.dtype}")
    return img


def _check_box(box: Any, name: str = "box") -> np.ndarray:
    b = to_numpy(box, name, dtype=np.float64)
    if b.shape != (4,):
        raise ValueError(f"{name}: expected (4,) COCO box (x, y, w, h), got shape {shape_str(b.shape)}")
    if not np.isfinite(b).all() or b[2] <= 0 or b[3] <= 0:
        raise ValueError(f"{name}: expected finite (x, y, w, h) with w > 0 and h > 0, got {b.tolist()}")
    return b


def crop_window(box: Any, *, context: float = 0.15, shift: tuple[float, float] = (0.0, 0.0),
                scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """The crop window of a COCO box: centred on it, widened by ``context`` on each side.

    Parameters
    ----------
    box : (4,) float array
        COCO ``(x, y, w, h)``.
    context : float
        Margin added on each side as a fraction of the box size (0.15: the window is 1.3x the
        box).
    shift : (dx, dy)
        Centre shift as a fraction of the box's width and height (jitter).
    scale : (sx, sy)
        Size multipliers (jitter).

    Returns
    -------
    (4,) float64 ndarray
        ``(x0, y0, x1, y1)``, at least one pixel wide and high.

    Examples
    --------
    >>> crop_window([10, 20, 100, 200], context=0.0).tolist()
    [10.0, 20.0, 110.0, 220.0]
    """
    x, y, w, h = _check_box(box)
    context = check_positive_float(context, "context", allow_zero=True)
    cx = x + w / 2 + shift[0] * w
    cy = y + h / 2 + shift[1] * h
    hw = max(0.5, w * scale[0] * (0.5 + context))
    hh = max(0.5, h * scale[1] * (0.5 + context))
    return np.array([cx - hw, cy - hh, cx + hw, cy + hh], dtype=np.float64)


def _grid(window: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Image row/column *indices* (pixel centres at integers) of the crop pixel centres."""
    x0, y0, x1, y1 = window
    t = (np.arange(size, dtype=np.float64) + 0.5) / size
    cols = x0 + t * (x1 - x0) - 0.5
    rows = y0 + t * (y1 - y0) - 0.5
    return rows, cols


def gaussian_heatmaps(points: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """17 Gaussian heatmaps of peak 1 at crop-space keypoints (zero where ``v == 0``).

    Parameters
    ----------
    points : (17, 3) float array
        ``(x, y, v)`` in crop pixel coordinates (continuous, pixel centres at ``j + 0.5``).
    size : int
        Crop side ``S``.
    sigma : float
        Standard deviation in crop pixels.

    Returns
    -------
    (17, S, S) float32 ndarray

    Examples
    --------
    >>> kp = np.zeros((17, 3)); kp[0] = (2.5, 1.5, 2)
    >>> hm = gaussian_heatmaps(kp, 4, 1.0)
    >>> float(hm[0, 1, 2]), float(hm[1].max())
    (1.0, 0.0)
    """
    c = np.arange(size, dtype=np.float64) + 0.5
    gx = np.exp(-((c[None, :] - points[:, 0:1]) ** 2) / (2 * sigma * sigma))  # (17, S)
    gy = np.exp(-((c[None, :] - points[:, 1:2]) ** 2) / (2 * sigma * sigma))
    hm = gy[:, :, None] * gx[:, None, :]
    hm[points[:, 2] <= 0] = 0.0
    return hm.astype(np.float32)


def make_crop(image: Any, mask: Any, keypoints: Any, box: Any, *, crop_size: int = 321,
              context: float = 0.15, sigma: float | None = None, flip: bool = False,
              shift: tuple[float, float] = (0.0, 0.0),
              scale: tuple[float, float] = (1.0, 1.0)) -> dict[str, np.ndarray]:
    """One instance crop: normalised image, mask, heatmaps, keypoint weights, window.

    Parameters
    ----------
    image : (H, W, 3) uint8 array
    mask : (H, W) bool array or None
        The person's mask (None: an all-background target, for inference).
    keypoints : (17, 3) float array
        The person's COCO keypoints ``(x, y, v)`` in image coordinates.
    box : (4,) float array
        The person's COCO box ``(x, y, w, h)``.
    crop_size : int
        Output side ``S``.
    context, shift, scale : see :func:`crop_window`.
    sigma : float, optional
        Heatmap standard deviation in crop pixels (default ``max(1, S / 32)``).
    flip : bool
        Mirror horizontally and swap left/right keypoints.

    Returns
    -------
    dict
        ``image`` (3, S, S) float32, ``mask`` (S, S) int64 (0/1), ``heatmaps`` (17, S, S)
        float32, ``kp_weight`` (17,) float32, ``window`` (4,) float64 ``(x0, y0, x1, y1)`` and
        ``flipped`` () bool.

    Examples
    --------
    >>> img = np.zeros((50, 40, 3), np.uint8); m = np.zeros((50, 40), bool); m[10:30, 5:25] = 1
    >>> kp = np.zeros((17, 3)); kp[0] = (15, 12, 2)
    >>> c = make_crop(img, m, kp, [5, 10, 20, 20], crop_size=16)
    >>> c["image"].shape, c["mask"].shape, c["heatmaps"].shape
    ((3, 16, 16), (16, 16), (17, 16, 16))
    """
    img = _check_image(image)
    S = check_positive_int(crop_size, "crop_size", minimum=8)
    kp = check_keypoints(np.asarray(keypoints, dtype=np.float64)[None] if np.ndim(keypoints) == 2
                         else keypoints, "keypoints")
    if kp.shape[0] != 1:
        raise ValueError(f"keypoints: expected (17, 3) for one person, got shape {shape_str(kp.shape)}")
    kp = kp[0]
    if sigma is None:
        sigma = max(1.0, S / 32.0)
    sigma = check_positive_float(sigma, "sigma")
    window = crop_window(box, context=context, shift=shift, scale=scale)
    rows, cols = _grid(window, S)
    rr = np.broadcast_to(rows[:, None], (S, S))
    cc = np.broadcast_to(cols[None, :], (S, S))
    coords = np.stack([rr, cc])
    src = img.astype(np.float32) - IMAGE_MEAN  # outside the image: the mean (0 once normalised)
    out = np.empty((3, S, S), np.float32)
    for ch in range(3):
        out[ch] = ndimage.map_coordinates(src[..., ch], coords, order=1, mode="constant", cval=0.0)
    out /= IMAGE_STD[:, None, None]
    if mask is None:
        m = np.zeros((S, S), np.int64)
    else:
        mk = to_numpy(mask, "mask")
        if mk.shape != img.shape[:2]:
            raise ValueError(f"mask: expected shape {shape_str(img.shape[:2])} (the image's), "
                             f"got {shape_str(mk.shape)}")
        m = (ndimage.map_coordinates(mk.astype(np.float32), coords, order=1, mode="constant",
                                     cval=0.0) >= 0.5).astype(np.int64)
    x0, y0, x1, y1 = window
    pts = kp.copy()
    pts[:, 0] = (kp[:, 0] - x0) * S / (x1 - x0)
    pts[:, 1] = (kp[:, 1] - y0) * S / (y1 - y0)
    if flip:
        out = out[:, :, ::-1]
        m = m[:, ::-1]
        pts[:, 0] = S - pts[:, 0]
        pts = pts[_FLIP_PERM]
    weight = (pts[:, 2] > 0).astype(np.float32)
    return {
        "image": np.ascontiguousarray(out),
        "mask": np.ascontiguousarray(m),
        "heatmaps": gaussian_heatmaps(pts, S, sigma),
        "kp_weight": weight,
        "window": window,
        "flipped": np.bool_(flip),
    }


def paste_mask(prob: Any, window: Any, shape: tuple[int, int]) -> np.ndarray:
    """Paste a crop's ``(S, S)`` probability map back into the image frame.

    Parameters
    ----------
    prob : (S, S) float array
        Foreground probability of the (unflipped) crop.
    window : (4,) float array
        The crop's ``(x0, y0, x1, y1)`` window (see :func:`make_crop`).
    shape : (H, W)
        Image size.

    Returns
    -------
    (H, W) float32 ndarray
        Bilinearly resampled probability inside the window, 0 outside.

    Examples
    --------
    >>> p = paste_mask(np.ones((8, 8)), [2, 2, 6, 6], (10, 10))
    >>> int((p > 0.5).sum())
    16
    """
    p = to_numpy(prob, "prob", dtype=np.float32)
    check_ndim(p, "prob", (2,), "(S, S) probability map")
    win = to_numpy(window, "window", dtype=np.float64)
    if win.shape != (4,) or not (win[2] > win[0] and win[3] > win[1]):
        raise ValueError(f"window: expected (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {win.tolist()}")
    H, W = int(shape[0]), int(shape[1])
    x0, y0, x1, y1 = win
    out = np.zeros((H, W), np.float32)
    # image pixels whose centres lie inside the window
    c0, c1 = max(0, math.ceil(x0 - 0.5)), min(W, math.floor(x1 - 0.5) + 1)
    r0, r1 = max(0, math.ceil(y0 - 0.5)), min(H, math.floor(y1 - 0.5) + 1)
    if c1 <= c0 or r1 <= r0:
        return out
    Sh, Sw = p.shape
    u = (np.arange(c0, c1) + 0.5 - x0) * Sw / (x1 - x0) - 0.5
    v = (np.arange(r0, r1) + 0.5 - y0) * Sh / (y1 - y0) - 0.5
    vv, uu = np.meshgrid(v, u, indexing="ij")
    out[r0:r1, c0:c1] = ndimage.map_coordinates(p, np.stack([vv, uu]), order=1, mode="nearest")
    return out


@dataclass
class Person:
    """Where one person of a source lives: ``scene`` index and ``person`` index in it."""

    scene: int
    person: int


class CocoSource:
    """Eligible persons of a COCO folder (keypoints and a mask), via :func:`p2i_prior.coco.load_persons`.

    Parameters
    ----------
    annotations : str, path, dict or PersonSet
        A COCO keypoints json (or a :class:`p2i_prior.coco.PersonSet` already loaded).
    images_dir : str, optional
        Folder of the images (default: ``images/`` beside the json).
    image_ids : sequence of int, optional
        Keep only these images (a split, see :func:`split_image_ids`).
    cache : bool
        Keep decoded images in memory (per process; about 1 MB per 640x480 photo).

    Examples
    --------
    >>> src = CocoSource("coco_persons/annotations.json")  # doctest: +SKIP
    >>> image, mask, keypoints, box = src.person(0)  # doctest: +SKIP
    """

    def __init__(self, annotations: Any, images_dir: str | None = None,
                 image_ids: Sequence[int] | None = None, *, cache: bool = True) -> None:
        from p2i_prior.coco import PersonSet, load_persons

        persons = annotations if isinstance(annotations, PersonSet) else load_persons(annotations, images_dir)
        if image_ids is not None:
            persons = persons.subset([int(i) for i in image_ids if _has(persons, int(i))])
        self.persons_set = persons
        self.images = list(persons)
        self.persons = [Person(s, p) for s, im in enumerate(self.images) for p in range(im.n)]
        self.cache = bool(cache)
        self._images: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.persons)

    def person(self, index: int, union: bool = False):
        """``image (H, W, 3) uint8, mask (H, W) bool, keypoints (17, 3), box (4,)`` of person ``index``.

        With ``union`` the mask is every person of the image (crowds and persons without
        keypoints included) instead of this person's own.
        """
        from p2i_prior.coco import decode_segmentation

        p = self.persons[index]
        im = self.images[p.scene]
        if union:
            mask = im.person_mask()
        else:
            mask = decode_segmentation(im.segmentations[p.person], im.height, im.width)
        image = self._images.get(p.scene)
        if image is None:
            image = im.load_image()
            if self.cache:
                self._images[p.scene] = image
        return image, mask, im.keypoints[p.person], im.boxes[p.person]


def _has(persons: Any, image_id: int) -> bool:
    try:
        persons.by_id(image_id)
    except KeyError:
        return False
    return True


class SyntheticSource:
    """Unbounded synthetic crowds: person ``i`` is one person of scene ``i``.

    Scene ``i`` is ``make_scene(seed=seed * 1_000_003 + i, height, width, n_people)``; the
    person of it is ``i % n_people`` (persons whose box is empty are skipped over).

    Parameters
    ----------
    length : int
        Number of persons the dataset exposes (any size: they are generated on demand).
    seed : int
        Base seed (different seeds give disjoint-in-practice streams: use one for training
        and another for evaluation).
    height, width : int
        Scene size.
    n_people : int
        People per scene.

    Examples
    --------
    >>> src = SyntheticSource(100, seed=0, height=64, width=64, n_people=2)  # doctest: +SKIP
    >>> image, mask, keypoints, box = src.person(3)  # doctest: +SKIP
    """

    def __init__(self, length: int, *, seed: int = 0, height: int = 96, width: int = 96,
                 n_people: int = 3) -> None:
        self.length = check_positive_int(length, "length")
        self.seed = check_positive_int(seed, "seed", minimum=0)
        self.height = check_positive_int(height, "height", minimum=16)
        self.width = check_positive_int(width, "width", minimum=16)
        self.n_people = check_positive_int(n_people, "n_people")

    def __len__(self) -> int:
        return self.length

    def scene(self, index: int):
        from p2i_prior.synthetic import make_scene

        s = make_scene(seed=self.seed * 1_000_003 + int(index), height=self.height,
                       width=self.width, n_people=self.n_people)
        return s.image, s.masks, s.keypoints, np.asarray(s.boxes, dtype=np.float64)

    def person(self, index: int, union: bool = False):
        """``image, mask, keypoints (17, 3), box (4,)`` of person ``index`` (``union``: every person's mask)."""
        image, masks, kps, boxes = self.scene(index)
        n = len(boxes)
        for k in range(n):
            j = (index + k) % n
            if boxes[j][2] > 0 and boxes[j][3] > 0 and masks[j].any():
                return image, (masks.any(axis=0) if union else masks[j]), kps[j], boxes[j]
        raise ValueError(f"synthetic scene {index} has no visible person")


class ConcatSource:
    """Several sources one after the other (e.g. synthetic crowds then COCO persons).

    Examples
    --------
    >>> both = ConcatSource([synthetic, coco])  # doctest: +SKIP
    """

    def __init__(self, sources: Sequence[Any]) -> None:
        self.sources = list(sources)
        self.offsets = np.cumsum([0] + [len(s) for s in self.sources])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def person(self, index: int, union: bool = False):
        k = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.sources[k].person(int(index - self.offsets[k]), union)


class InstanceCrops:
    """A map-style dataset of instance crops over a source (torch ``Dataset`` protocol).

    Parameters
    ----------
    source : CocoSource, SyntheticSource or ConcatSource
        Where the persons come from (anything with ``__len__`` and ``person(i)``).
    crop_size : int
        Crop side ``S``.
    train : bool
        Random jitter and flips (keyed by the item's augmentation seed); without it every
        item is the plain centred crop.
    context : float
        Context margin (see :func:`crop_window`).
    shift_jitter : float
        Centre shift, uniform in ``[-shift_jitter, shift_jitter]`` of the box size.
    scale_jitter : float
        Log-uniform size jitter per axis in ``[exp(-scale_jitter), exp(scale_jitter)]``.
    flip : bool
        Random horizontal flips (probability 1/2) when ``train``.
    sigma : float, optional
        Heatmap standard deviation (see :func:`make_crop`).
    target : {"instance", "person"}
        The mask target: the centred person only (instance segmentation, the default), or
        every person in the crop (semantic person segmentation: trains the full-image person
        score, see :func:`p2i_net.evaluate.person_score`).

    Items are keyed by ``index`` or ``(index, aug_seed)``; an int key uses ``aug_seed =
    index``.  Each item is a dict of numpy arrays (see :func:`make_crop`) plus ``index``.

    Examples
    --------
    >>> ds = InstanceCrops(SyntheticSource(10, height=64, width=64), crop_size=32)  # doctest: +SKIP
    >>> ds[(0, 7)]["image"].shape  # doctest: +SKIP
    (3, 32, 32)
    """

    def __init__(self, source: Any, *, crop_size: int = 321, train: bool = True,
                 context: float = 0.15, shift_jitter: float = 0.1, scale_jitter: float = 0.15,
                 flip: bool = True, sigma: float | None = None, target: str = "instance") -> None:
        self.source = source
        self.target = check_choice(target, "target", ("instance", "person"))
        self.crop_size = check_positive_int(crop_size, "crop_size", minimum=8)
        self.train = bool(train)
        self.context = check_positive_float(context, "context", allow_zero=True)
        self.shift_jitter = check_positive_float(shift_jitter, "shift_jitter", allow_zero=True)
        self.scale_jitter = check_positive_float(scale_jitter, "scale_jitter", allow_zero=True)
        self.flip = bool(flip)
        self.sigma = sigma

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, seed = (key if isinstance(key, tuple) else (key, key))
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index: expected 0 <= index < {len(self)}, got {index}")
        image, mask, kp, box = self.source.person(index, self.target == "person")
        shift, scale, flip = (0.0, 0.0), (1.0, 1.0), False
        if self.train:
            rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(seed) >> 32, 0x9E37])
            shift = tuple(rng.uniform(-self.shift_jitter, self.shift_jitter, 2))
            scale = tuple(np.exp(rng.uniform(-self.scale_jitter, self.scale_jitter, 2)))
            flip = self.flip and bool(rng.integers(2))
        item = make_crop(image, mask, kp, box, crop_size=self.crop_size, context=self.context,
                         sigma=self.sigma, flip=flip, shift=shift, scale=scale)
        item["index"] = np.int64(index)
        return item


class StepBatchSampler:
    """Batches of ``(index, aug_seed)`` keys fixed by the global step (resumable, sharded).

    The sample stream is the concatenation of per-epoch permutations
    ``default_rng([seed, epoch]).permutation(n)``; global step ``s`` takes stream positions
    ``[s * B * world_size, (s + 1) * B * world_size)`` and rank ``r`` the ``r``-th block of
    ``B`` of them.  The augmentation seed of a sample is its stream position mixed with
    ``seed``.  So the batches of step ``s`` do not depend on where a run started (``--resume``
    sees the same data as an uninterrupted run) nor on the number of data-loader workers.

    Parameters
    ----------
    n : int
        Dataset length.
    batch_size : int
        Per-process batch size ``B``.
    steps : int
        Total number of steps of the run.
    start_step : int
        First step to yield (resume).
    seed : int
        Data-order seed.
    rank, world_size : int
        This process's rank and the number of processes.

    Examples
    --------
    >>> s = StepBatchSampler(10, batch_size=4, steps=3, seed=0)
    >>> len(s), len(next(iter(s)))
    (3, 4)
    """

    def __init__(self, n: int, *, batch_size: int, steps: int, start_step: int = 0,
                 seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.n = check_positive_int(n, "n")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.steps = check_positive_int(steps, "steps", minimum=0)
        self.start_step = check_positive_int(start_step, "start_step", minimum=0)
        self.seed = check_positive_int(seed, "seed", minimum=0)
        self.world_size = check_positive_int(world_size, "world_size")
        self.rank = check_positive_int(rank, "rank", minimum=0, maximum=self.world_size - 1)
        self._perm_epoch = -1
        self._perm: np.ndarray | None = None

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step)

    def _at(self, pos: int) -> int:
        epoch, k = divmod(pos, self.n)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._perm_epoch = epoch
        return int(self._perm[k])

    def batch(self, step: int) -> list[tuple[int, int]]:
        """The ``(index, aug_seed)`` keys of this rank at global step ``step``."""
        g = self.batch_size * self.world_size
        first = step * g + self.rank * self.batch_size
        return [(self._at(p), (self.seed << 40) ^ p) for p in range(first, first + self.batch_size)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start_step, self.steps):
            yield self.batch(step)


def make_loader(dataset: InstanceCrops, sampler: StepBatchSampler, *, workers: int = 0,
                pin_memory: bool = False):
    """A ``torch.utils.data.DataLoader`` over ``dataset`` driven by ``sampler``.

    Worker processes (``workers``) and pinned memory (for CUDA) as asked; the loader has its
    own seeded generator so it never consumes the global torch RNG (resume stays exact).

    Examples
    --------
    >>> loader = make_loader(ds, StepBatchSampler(len(ds), batch_size=4, steps=10))  # doctest: +SKIP
    """
    import torch
    from torch.utils.data import DataLoader

    workers = check_positive_int(workers, "workers", minimum=0)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=workers,
                      pin_memory=bool(pin_memory), generator=torch.Generator().manual_seed(0),
                      persistent_workers=False, prefetch_factor=4 if workers else None)


def split_image_ids(image_ids: Sequence[int], *, holdout: float = 0.2, seed: int = 0) -> tuple[list[int], list[int]]:
    """Split image ids into a training and a held-out set, deterministically.

    Parameters
    ----------
    image_ids : sequence of int
        All image ids (order does not matter).
    holdout : float
        Fraction held out, in ``[0, 1)`` (rounded to whole images, at least one when > 0).
    seed : int
        Seed of the shuffle.

    Returns
    -------
    (train_ids, holdout_ids) : two sorted lists of int

    Examples
    --------
    >>> train, val = split_image_ids(range(10), holdout=0.2)
    >>> len(train), len(val), sorted(train + val) == list(range(10))
    (8, 2, True)
    """
    if not isinstance(holdout, (int, float)) or not 0.0 <= float(holdout) < 1.0:
        raise ValueError(f"holdout: expected a fraction in [0, 1), got {holdout!r}")
    ids = sorted({int(i) for i in image_ids})
    n_val = 0 if holdout == 0 else max(1, int(round(len(ids) * float(holdout))))
    order = np.random.default_rng([int(seed), 0x5917]).permutation(len(ids))
    val = sorted(ids[i] for i in order[:n_val])
    train = sorted(ids[i] for i in order[n_val:])
    return train, val
