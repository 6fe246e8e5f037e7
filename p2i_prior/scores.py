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
``selfie`` (``selfie:PATH``)
    MediaPipe's pretrained selfie person-segmentation model (``.tflite``, Apache-2.0, shipped in
    this package as ``p2i_prior/data/selfie_segmentation.tflite`` with its licence and notice)
    run offline with ``ai-edge-litert`` (a core dependency).  ``selfie:PATH`` or ``model_path=``
    runs another ``.tflite`` file of the same layout instead.
``none``
    Every pixel a person (all ones): only when asked for by name; the prior alone then decides
    where each person ends.
A path to a ``.npy`` or ``.png`` file (or ``files:FILE``) is one score for one image, read as in
``files:DIR``.
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
    "FileScore",
    "NoneScore",
    "SelfieScore",
    "BUNDLED_SELFIE_MODEL",
    "selfie_score",
    "register_score_source",
    "make_score_source",
    "available_score_sources",
]

#: Factories by name: ``factory(argument: str | None, **options) -> source``.  The built-in
#: sources, those given to :func:`register_score_source`, and the entry points of the
#: ``p2i.score_sources`` group once loaded.
_REGISTRY: dict[str, Callable[..., Any]] = {}

#: The selfie person-segmentation model shipped in this package (Apache-2.0; its licence and
#: notice are beside it in ``p2i_prior/data/``).
BUNDLED_SELFIE_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "selfie_segmentation.tflite")
#: File name endings read as one score file (``--score photo_score.npy``).
SCORE_FILE_TYPES = (".npy", ".png")


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
        return read_score_file(path, record.height, record.width)

    def __repr__(self) -> str:
        return f"FilesScore({self.directory!r})"


def read_score_file(path: str, height: int, width: int) -> np.ndarray:
    """An ``(H, W)`` float32 score in ``[0, 1]`` from a ``.npy`` (float in ``[0, 1]``, bool, or
    uint8 read as ``/255``) or a grey ``.png`` (8 or 16 bits, read as ``/255`` or ``/65535``).

    Examples
    --------
    >>> read_score_file("scores/000000000785.npy", 425, 640).shape  # doctest: +SKIP
    (425, 640)
    """
    if path.lower().endswith(".npy"):
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

        try:
            with Image.open(path) as im:
                arr = np.asarray(im)
        except OSError as exc:  # PIL.UnidentifiedImageError, truncated files
            raise ValueError(f"score file {path}: expected a grey png, could not read it: {exc}") from None
        if arr.ndim != 2:
            raise ValueError(f"score file {path}: expected a single-channel (grey) png, got shape {shape_str(arr.shape)}")
        scale = 255.0 if arr.dtype == np.uint8 else 65535.0
        arr = arr.astype(np.float32) / scale
    return _check_score(arr, height, width, f"score file {path}")


class FileScore:
    """One score file (``.npy`` or ``.png``, read as in :class:`FilesScore`) for any image of
    its size: ``p2i segment IMAGE --score IMAGE_score.npy``.

    Examples
    --------
    >>> FileScore("score.npy")(None, image).shape == image.shape[:2]  # doctest: +SKIP
    True
    """

    name = "file"

    def __init__(self, path: str | os.PathLike):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"score: no such file: {path}")
        if not path.lower().endswith(SCORE_FILE_TYPES):
            raise ValueError(f"score: expected a .npy or .png score file, got {path}")
        self.path = path

    def __call__(self, record: Any, image: Any) -> np.ndarray:
        if record is not None:
            height, width = record.height, record.width
        else:
            height, width = np.shape(image)[:2]
        return read_score_file(self.path, height, width)

    def __repr__(self) -> str:
        return f"FileScore({self.path!r})"


class NoneScore:
    """No person score: every pixel a person (all ones).  Only by name (``--score none``).

    Examples
    --------
    >>> NoneScore()(None, np.zeros((2, 3, 3), np.uint8)).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    name = "none"

    def __call__(self, record: Any, image: Any) -> np.ndarray:
        return np.ones(np.shape(image)[:2], np.float32)

    def __repr__(self) -> str:
        return "NoneScore()"


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
    model_path : str or path, optional
        A ``.tflite`` file of the same layout; default the model shipped in this package,
        :data:`BUNDLED_SELFIE_MODEL`.
    num_threads : int
        Interpreter threads (1 by default: ``p2i eval`` parallelises over images).

    Examples
    --------
    >>> source = SelfieScore()  # doctest: +SKIP
    >>> source(None, image).shape == image.shape[:2]  # doctest: +SKIP
    True
    """

    name = "selfie"

    def __init__(self, model_path: str | os.PathLike | None = None, *, num_threads: int = 1):
        if model_path is None:
            model_path = BUNDLED_SELFIE_MODEL
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
            with _quiet_stderr():  # the runtime's C++ log line "INFO: Created ... XNNPACK delegate"
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
        if self.model_path == BUNDLED_SELFIE_MODEL:
            return "SelfieScore()"
        return f"SelfieScore({self.model_path!r})"


class _quiet_stderr:
    """Silence file descriptor 2 (C/C++ log lines that Python cannot catch); errors still raise."""

    def __enter__(self):
        import sys

        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:  # no real fd 2 (embedded interpreters): leave it
            self._saved = None
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
        return False


def _import_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ImportError(
            "selfie: the selfie person score needs ai-edge-litert, a dependency of pose2instance "
            "that is not installed here; install it with `pip install ai-edge-litert`"
        ) from None
    return Interpreter


def selfie_score(image: Any, model_path: str | os.PathLike | None = None) -> np.ndarray:
    """Run the selfie segmentation model on one image.

    Parameters
    ----------
    image : (H, W, 3) uint8 array
        RGB.
    model_path : str or path, optional
        The ``.tflite`` model; default the one shipped in this package.

    Returns
    -------
    (H, W) float32 ndarray
        Person probability in ``[0, 1]``.

    Examples
    --------
    >>> p = selfie_score(image)  # doctest: +SKIP
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
    """Build a score source from its spec: ``gt[:eligible]``, ``selfie[:PATH]``, ``model:CKPT``,
    ``files:DIR``, a ``.npy``/``.png`` file (or ``files:FILE``), ``none``.

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
    if name not in _REGISTRY and (spec.lower().endswith(SCORE_FILE_TYPES) or os.path.isfile(spec)):
        return FileScore(spec)  # a path (a Windows drive letter is no source name either)
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
    if os.path.isfile(arg):
        return FileScore(arg)
    return FilesScore(arg)


def _selfie_factory(arg: str | None, **options: Any) -> SelfieScore:
    path = arg if arg is not None else options.get("model_path")
    if path is None:
        path = options.get("selfie_model")
    return SelfieScore(path)


def _none_factory(arg: str | None, **options: Any) -> NoneScore:
    if arg is not None:
        raise ValueError(f"score: expected 'none' (every pixel a person), got 'none:{arg}'")
    return NoneScore()


register_score_source("gt", _gt_factory)
register_score_source("files", _files_factory)
register_score_source("selfie", _selfie_factory)
register_score_source("none", _none_factory)
