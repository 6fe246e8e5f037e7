"""Person-score sources: where the ``(H, W)`` person probability fused with the prior comes from.

A source is a picklable callable ``source(record, image) -> (H, W) float32`` in ``[0, 1]``, where
``record`` is a :class:`p2i_prior.coco.PersonImage` and ``image`` its ``(H, W, 3)`` uint8 photo.
Sources are named by a spec string, ``NAME`` or ``NAME:ARGUMENT``:

``gt``
    The union of every ground-truth person mask of the image, crowd regions and persons without
    keypoints included: the assignment-only upper bound (a perfect person/background score).
``gt:eligible``
    The union of the eligible instances only (persons with keypoints and a mask): a diagnostic
    that removes the people no skeleton accounts for, to measure how much they cost the prior.
``files:DIR``
    One file per image in ``DIR``: ``<file stem>.npy`` (``(H, W)`` float in ``[0, 1]``, bool, or
    uint8 read as ``/255``) or ``<file stem>.png`` (8- or 16-bit grey, read as ``/255`` or
    ``/65535``).  A missing file raises :class:`MissingScoreError`; ``p2i eval`` then skips the
    image for every method (``--missing-score skip``) and counts it, or stops (``error``).
``selfie``
    MediaPipe's pretrained selfie person-segmentation model (``.tflite``) run offline with
    ``ai-edge-litert`` (the optional ``selfie`` extra).  The model is never vendored: pass its
    path as ``selfie:PATH`` or ``model_path=`` (``p2i eval --selfie-model PATH``).
Other packages add sources through the ``p2i.score_sources`` entry-point group
(:mod:`p2i_prior.plugins`), loaded when their name is first asked for; this distribution's
learned person score, ``model:CHECKPOINT``, is one.  :func:`register_score_source` adds one at
run time.

Examples
--------
>>> source = make_score_source("gt")
>>> score = source(record, image)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from .checks import check_ndim, shape_str, to_numpy

__all__ = [
    "MissingScoreError",
    "GTScore",
    "FilesScore",
    "SelfieScore",
    "selfie_score",
    "register_score_source",
    "make_score_source",
    "available_score_sources",
]

#: Factories by name: ``factory(argument: str | None, **options) -> source``.  The built-in
#: sources, those given to :func:`register_score_source`, and the entry points of the
#: ``p2i.score_sources`` group once loaded.
_REGISTRY: dict[str, Callable[..., Any]] = {}


class MissingScoreError(FileNotFoundError):
    """A score source has nothing for this image (e.g. no file in ``files:DIR``)."""


def _check_score(score: np.ndarray, height: int, width: int, what: str) -> np.ndarray:
    check_ndim(score, what, (2,), "(H, W)")
    if score.shape != (height, width):
        raise ValueError(f"{what}: expected shape {(height, width)}, got {shape_str(score.shape)}")
    if not np.isfinite(score).all():
        raise ValueError(f"{what}: expected finite values, got NaN/inf")
    lo, hi = float(score.min()), float(score.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{what}: expected values in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
    return score.astype(np.float32, copy=False)


class GTScore:
    """The union of the image's ground-truth person masks (crowd and no-keypoint persons too).

    Parameters
    ----------
    eligible_only : bool
        Only the eligible instances (``gt:eligible``), leaving out the ignore-region persons.

    Examples
    --------
    >>> GTScore()(record, image).dtype  # doctest: +SKIP
    dtype('float32')
    """

    name = "gt"

    def __init__(self, eligible_only: bool = False):
        self.eligible_only = bool(eligible_only)

    def __call__(self, record: Any, image: Any = None) -> np.ndarray:
        if self.eligible_only:
            return record.masks().any(0).astype(np.float32)
        return record.person_mask().astype(np.float32)

    def __repr__(self) -> str:
        return "GTScore(eligible_only=True)" if self.eligible_only else "GTScore()"


class FilesScore:
    """Person scores read from ``directory/<file stem>.npy`` or ``.png``.

    Parameters
    ----------
    directory : str or path
        The folder; must exist.

    Examples
    --------
    >>> source = FilesScore("scores/")  # doctest: +SKIP
    >>> source(record).shape == (record.height, record.width)  # doctest: +SKIP
    True
    """

    name = "files"

    def __init__(self, directory: str | os.PathLike):
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"files: score folder not found: {directory}")
        self.directory = directory

    def path_for(self, file_name: str) -> str | None:
        """The score file for an image file name, or None when there is none."""
        stem = os.path.splitext(os.path.basename(file_name))[0]
        for ext in (".npy", ".png"):
            p = os.path.join(self.directory, stem + ext)
            if os.path.isfile(p):
                return p
        return None

    def __call__(self, record: Any, image: Any = None) -> np.ndarray:
        path = self.path_for(record.file_name)
        if path is None:
            stem = os.path.splitext(os.path.basename(record.file_name))[0]
            raise MissingScoreError(
                f"image {record.id}: no score file {stem}.npy or {stem}.png in {self.directory}"
            )
        if path.endswith(".npy"):
            try:
                arr = np.load(path, allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise ValueError(f"score file {path}: expected a .npy array, could not read it: {exc}") from None
            if arr.dtype == np.uint8:
                arr = arr.astype(np.float32) / 255.0
            elif arr.dtype == np.bool_:
                arr = arr.astype(np.float32)
            else:
                arr = to_numpy(arr, f"score file {path}", np.float32)
        else:
            from PIL import Image

            with Image.open(path) as im:
                arr = np.asarray(im)
            if arr.ndim != 2:
                raise ValueError(f"score file {path}: expected a single-channel (grey) png, got shape {shape_str(arr.shape)}")
            scale = 255.0 if arr.dtype == np.uint8 else 65535.0
            arr = arr.astype(np.float32) / scale
        return _check_score(arr, record.height, record.width, f"score file {path}")

    def __repr__(self) -> str:
        return f"FilesScore({self.directory!r})"


def _resize(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of an (h, w) or (h, w, c) float32 array (PIL, per channel)."""
    from PIL import Image

    if arr.ndim == 2:
        return np.asarray(Image.fromarray(arr, mode="F").resize((width, height), Image.BILINEAR))
    return np.stack([_resize(arr[..., c], height, width) for c in range(arr.shape[2])], axis=-1)


class SelfieScore:
    """MediaPipe selfie person segmentation (``.tflite``) through ``ai-edge-litert``.

    The image is resized (bilinear, aspect not kept) to the model's input (256x256 for the
    general model, 144x256 for the landscape one), scaled to ``[0, 1]`` RGB float32, and the
    ``(h, w, 1)`` person probability is resized back to the image.

    Parameters
    ----------
    model_path : str or path
        The ``selfie_segmentation.tflite`` file (never shipped with this package).
    num_threads : int
        Interpreter threads (1 by default: ``p2i eval`` parallelises over images).

    Examples
    --------
    >>> source = SelfieScore("selfie_segmentation.tflite")  # doctest: +SKIP
    >>> source(None, image).shape == image.shape[:2]  # doctest: +SKIP
    True
    """

    name = "selfie"

    def __init__(self, model_path: str | os.PathLike | None, *, num_threads: int = 1):
        if model_path is None:
            raise ValueError(
                "selfie: expected the path of selfie_segmentation.tflite (selfie:PATH or --selfie-model PATH), got None"
            )
        model_path = os.fspath(model_path)
        if not os.path.isfile(model_path):
            raise FileNotFoundError(f"selfie: model file not found: {model_path}")
        _import_interpreter()  # fail early with the install hint
        self.model_path = model_path
        self.num_threads = int(num_threads)
        self._interpreter = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_interpreter"] = None  # rebuilt in each worker process
        return state

    def _load(self):
        if self._interpreter is None:
            Interpreter = _import_interpreter()
            it = Interpreter(model_path=self.model_path, num_threads=self.num_threads)
            it.allocate_tensors()
            inp, out = it.get_input_details()[0], it.get_output_details()[0]
            self._io = (inp["index"], tuple(int(s) for s in inp["shape"]), out["index"])
            self._interpreter = it
        return self._interpreter

    def predict(self, image: Any) -> np.ndarray:
        """``(H, W)`` float32 person probability of an ``(H, W, 3)`` uint8 RGB image."""
        img = to_numpy(image, "image")
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"image: expected (H, W, 3), got shape {shape_str(img.shape)}")
        if img.dtype != np.uint8:
            raise TypeError(f"image: expected uint8 RGB, got dtype {img.dtype}")
        it = self._load()
        in_idx, in_shape, out_idx = self._io
        h_in, w_in = in_shape[1], in_shape[2]
        x = _resize(img.astype(np.float32) / 255.0, h_in, w_in)[None]
        it.set_tensor(in_idx, np.ascontiguousarray(x, dtype=np.float32))
        it.invoke()
        prob = np.asarray(it.get_tensor(out_idx), dtype=np.float32)[0, :, :, 0]
        up = _resize(prob, img.shape[0], img.shape[1])
        return np.clip(up, 0.0, 1.0).astype(np.float32)  # bilinear overshoot only

    def __call__(self, record: Any, image: Any) -> np.ndarray:
        return self.predict(image)

    def __repr__(self) -> str:
        return f"SelfieScore({self.model_path!r})"


def _import_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ImportError(
            "selfie: the selfie person score needs ai-edge-litert; install it with "
            "`pip install 'pose2instance[selfie]'` (or `pip install ai-edge-litert`)"
        ) from None
    return Interpreter


def selfie_score(image: Any, model_path: str | os.PathLike) -> np.ndarray:
    """Run the selfie segmentation model on one image.

    Parameters
    ----------
    image : (H, W, 3) uint8 array
        RGB.
    model_path : str or path
        The ``.tflite`` model.

    Returns
    -------
    (H, W) float32 ndarray
        Person probability in ``[0, 1]``.

    Examples
    --------
    >>> p = selfie_score(image, "selfie_segmentation.tflite")  # doctest: +SKIP
    >>> p.shape == image.shape[:2]  # doctest: +SKIP
    True
    """
    return SelfieScore(model_path).predict(image)


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------


def register_score_source(name: str, factory: Callable[..., Any]) -> None:
    """Make ``name[:ARGUMENT]`` a score-source spec.

    Parameters
    ----------
    name : str
        Lower-case identifier without ``:``.
    factory : callable
        ``factory(argument: str | None, **options) -> source``; ``options`` are the keyword
        arguments given to :func:`make_score_source` (ignore the ones you do not use).  The
        source must be picklable (``p2i eval --workers``) and map ``(record, image)`` to an
        ``(H, W)`` float32 array in ``[0, 1]``.

    Examples
    --------
    >>> register_score_source("ones", lambda arg, **o: (lambda rec, img: np.ones(img.shape[:2], np.float32)))
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"name: expected a non-empty identifier without ':', got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory: expected a callable, got {type(factory).__name__}")
    _REGISTRY[name] = factory


def available_score_sources() -> list[str]:
    """Names of the score sources: the registered ones and those of the ``p2i.score_sources``
    entry points (listed without being loaded)."""
    from . import plugins

    return sorted(set(_REGISTRY) | {ep.name for ep in plugins.entry_points(plugins.SCORE_SOURCES)})


def _plugin_factory(name: str) -> Callable[..., Any] | None:
    """Load the ``p2i.score_sources`` entry point ``name`` and register it; None if there is none.

    Raises ``ValueError`` naming the entry point when it cannot be loaded (an optional part
    missing, or a broken plugin: the cause is in the message, and chained).
    """
    from . import plugins

    for ep in plugins.entry_points(plugins.SCORE_SOURCES):
        if ep.name != name:
            continue
        try:
            factory = ep.load()
        except ImportError as exc:
            raise ValueError(f"score: {name!r} needs {ep.module}, which failed to import: {exc}") from exc
        register_score_source(name, factory)
        return factory
    return None


def make_score_source(spec: str, **options: Any) -> Any:
    """Build a score source from its spec: ``gt[:eligible]``, ``files:DIR``, ``selfie[:PATH]``, ``model:CKPT``.

    Parameters
    ----------
    spec : str
    **options
        Passed to the factory, e.g. ``model_path`` for ``selfie``.

    Returns
    -------
    callable
        ``source(record, image) -> (H, W) float32``.

    Examples
    --------
    >>> make_score_source("gt")
    GTScore()
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"score: expected a spec such as 'gt', 'files:DIR' or 'selfie', got {spec!r}")
    name, _, arg = spec.partition(":")
    arg = arg or None
    factory = _REGISTRY.get(name) or _plugin_factory(name)
    if factory is None:
        raise ValueError(
            f"score: expected one of {', '.join(available_score_sources())} "
            f"(optionally NAME:ARGUMENT), got {spec!r}"
        )
    return factory(arg, **options)


def _gt_factory(arg: str | None, **options: Any) -> GTScore:
    if arg not in (None, "eligible"):
        raise ValueError(f"score: expected 'gt' or 'gt:eligible', got 'gt:{arg}'")
    return GTScore(eligible_only=arg == "eligible")


def _files_factory(arg: str | None, **options: Any) -> FilesScore:
    if arg is None:
        raise ValueError("score: expected files:DIR (a folder of <image stem>.npy/.png), got 'files'")
    return FilesScore(arg)


def _selfie_factory(arg: str | None, **options: Any) -> SelfieScore:
    path = arg if arg is not None else options.get("model_path")
    if path is None:
        path = options.get("selfie_model")
    return SelfieScore(path)


register_score_source("gt", _gt_factory)
register_score_source("files", _files_factory)
register_score_source("selfie", _selfie_factory)
