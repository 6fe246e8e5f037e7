"""Property-based fuzzing of the public API of p2i_prior and of ``p2i segment`` (issue 8).

Every property feeds random, often hostile, inputs to one public function and accepts exactly
two outcomes:

* a valid result: the documented shape and dtype, finite where documented, rows of the
  pose-instance map summing to 1 or all zero, labels in range; or
* a ``ValueError`` / ``TypeError`` whose message starts with the name of one of the function's
  arguments (``"image: expected ..."``), as the house style requires.

Where the generated inputs are all valid (known from how they were drawn), an exception is a
failure too: rejecting good input is a bug.  Anything else (``IndexError``, ``ZeroDivisionError``,
a numba error, NaN in a result, a label out of range) fails the property.

The normal suite runs the ``ci`` profile (15 to 50 examples per property, images up to 64 px
a side, derandomised so CI never flakes; about 20-30 s on 2 cores); ``scripts/fuzz_long.py``
runs the same properties with about 18,700 random examples and images up to 256 px.
``P2I_FUZZ_PROFILE=long pytest tests/test_fuzz.py`` works too.

Bugs the fuzzing found are pinned by plain regression tests near the end of the file.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import p2i_prior as p  # noqa: E402
from p2i_prior.rag import RAG  # noqa: E402

# ----------------------------------------------------------------------------------------------
# Profiles and bookkeeping
# ----------------------------------------------------------------------------------------------

_COMMON = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("ci", max_examples=30, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=500, **_COMMON)
PROFILE = os.environ.get("P2I_FUZZ_PROFILE", "ci")
#: Multiplies every property's example count in the long profile (scripts/fuzz_long.py).
SCALE = float(os.environ.get("P2I_FUZZ_SCALE", "1"))

#: Largest image side drawn: small in CI (SLIC and numba cost per example adds up), larger in
#: the long run (``P2I_FUZZ_MAX_SIDE``).
MAX_SIDE = int(os.environ.get("P2I_FUZZ_MAX_SIDE", "200" if PROFILE == "long" else "64"))
#: Largest side for the whole-pipeline properties (SLIC + distances per example).
PIPE_SIDE = int(os.environ.get("P2I_FUZZ_PIPE_SIDE", "96" if PROFILE == "long" else "48"))

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def fuzz(ci: int = 30, long: int = 500):
    """The settings of one property: ``ci`` examples in the CI profile, ``long * SCALE`` in the
    long one (cheap properties get more, the whole pipeline fewer)."""
    n = ci if PROFILE == "ci" else max(1, round(long * SCALE))
    return settings(settings.get_profile(PROFILE), max_examples=n)


#: examples run and failing examples per property (read by scripts/fuzz_long.py).
STATS: dict[str, list[int]] = {}


def counted(fn: Callable) -> Callable:
    """Count the examples a property runs and the ones that fail (for the long run's report)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        entry = STATS.setdefault(fn.__name__, [0, 0])
        entry[0] += 1
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not type(exc).__module__.startswith("hypothesis"):  # not its control flow
                entry[1] += 1
            raise

    return wrapper


ARG_ERROR = re.compile(r"^(?P<name>[A-Za-z_][\w\-]*)(\.\w+)?(\[[^\]]*\])?: ")


def outcome(fn: Callable, args: tuple, kwargs: dict, names: tuple[str, ...], valid: bool):
    """Call ``fn``; return its result, or None after a documented error naming an argument.

    ``names`` are the argument names an error message may start with; with ``valid`` the
    inputs are known to be good and any exception fails.
    """
    try:
        with warnings.catch_warnings():
            # numpy overflow warnings (e.g. the area of a 1e308-wide box) are harmless when the
            # result is valid, and non-convergence with max_sweeps=1 is documented: the result
            # checks below catch what matters (NaN, ranges)
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        m = ARG_ERROR.match(msg)
        assert m is not None, f"{type(exc).__name__} does not name its argument: {msg!r}"
        assert m.group("name") in names, f"error names {m.group('name')!r}, not one of {names}: {msg!r}"
        assert "\n" not in msg.strip(), f"multi-line error message: {msg!r}"
        assert not valid, f"valid input rejected: {type(exc).__name__}: {msg}"
        return None


# ----------------------------------------------------------------------------------------------
# Strategies
# ----------------------------------------------------------------------------------------------

GOOD_DTYPES = ("uint8", "uint16", "int16", "float32", "float64", "bool", "float16", "int8")
BAD_DTYPES = ("int64", "complex128", "object", "uint32")


@dataclass
class Image:
    array: Any
    valid: bool  # a good image for every method (sobel and slic)
    constant: bool = False
    notes: list = field(default_factory=list)

    def __repr__(self) -> str:
        a = self.array
        return f"Image(shape={getattr(a, 'shape', None)}, dtype={getattr(a, 'dtype', None)}, valid={self.valid}, {self.notes})"


def _side(draw, max_side: int) -> int:
    return draw(st.one_of(st.integers(1, 4), st.integers(1, max_side)))


@st.composite
def images(draw, max_side: int | None = None, bad: bool = True) -> Image:
    """Images of random size, dtype, channel count and content (constant, NaN, inf, ...)."""
    max_side = MAX_SIDE if max_side is None else max_side
    H, W = _side(draw, max_side), _side(draw, max_side)
    dtype = draw(st.sampled_from(GOOD_DTYPES + BAD_DTYPES if bad else GOOD_DTYPES))
    channels = draw(st.sampled_from((3, 3, 3, None, None, 1, 2, 4, 5) if bad else (3, 3, None)))
    content = draw(st.sampled_from(("random", "random", "blocks", "constant", "nonfinite", "range")
                                   if bad else ("random", "random", "blocks", "constant")))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (H, W) if channels is None else (H, W, channels)
    notes = [content]
    if content == "constant":
        base = np.full(shape, rng.random())
    elif content == "blocks":  # strong edges: a few flat rectangles
        base = np.zeros(shape)
        for _ in range(3):
            r0, c0 = rng.integers(0, H), rng.integers(0, W)
            base[r0:r0 + rng.integers(1, H + 1), c0:c0 + rng.integers(1, W + 1)] = rng.random()
    else:
        base = rng.random(shape)
    valid = dtype in GOOD_DTYPES and channels in (3, None)
    if dtype == "object":
        arr = base.astype(object)
    elif dtype == "bool":
        arr = base > 0.5
    elif dtype.startswith(("float", "complex")):
        arr = base.astype(dtype)
        if content == "nonfinite":
            k = rng.integers(0, base.size)
            arr.flat[k] = rng.choice([np.nan, np.inf, -np.inf])
            valid = False
        elif content == "range":  # outside [0, 1]: fine for sobel, refused by slic
            arr = (arr * 300 - 20).astype(dtype)
            valid = False
    else:
        info = np.iinfo(dtype)
        hi = min(info.max, 60000)
        arr = (base * hi).astype(dtype)
        if content == "range" and info.min < 0:
            arr.flat[rng.integers(0, base.size)] = -5  # negative intensities are refused
            valid = False
    return Image(arr, valid, constant=content == "constant" or H * W == 1, notes=notes)


COORD_KINDS = ("inside", "inside", "inside", "inside", "negative", "outside", "huge", "nonfinite", "edge")


@dataclass
class Keypoints:
    array: np.ndarray
    valid: bool
    notes: list = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Keypoints(shape={self.array.shape}, valid={self.valid}, {self.notes}, array={self.array.tolist()!r})"


@st.composite
def keypoint_arrays(draw, H: int, W: int, max_people: int = 4, bad: bool = True) -> Keypoints:
    """COCO (n, 17, 3) keypoints: in and out of the image, huge, NaN/inf, odd visibilities,
    zero people, people with no labelled keypoint, duplicated people."""
    n = draw(st.integers(0, max_people))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kinds = COORD_KINDS if bad else ("inside", "inside", "inside", "negative", "outside", "huge", "edge")
    kp = np.zeros((n, 17, 3))
    valid = True
    notes: list = [f"n={n}"]
    for i in range(n):
        mode = draw(st.sampled_from(("person", "person", "person", "none", "one", "duplicate")))
        if mode == "duplicate" and i > 0:
            kp[i] = kp[rng.integers(0, i)]
            notes.append(f"{i}:dup")
            continue
        kind = draw(st.sampled_from(kinds))
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        spread = max(H, W) * rng.uniform(0.05, 0.6)
        xy = np.stack([cx + rng.normal(0, spread, 17), cy + rng.normal(0, spread, 17)], -1)
        if kind == "negative":
            xy -= rng.uniform(0, 3 * max(H, W))
        elif kind == "outside":
            xy += rng.choice([-1, 1], size=2) * rng.uniform(1, 4) * np.array([W, H])
        elif kind == "huge":
            xy[rng.integers(0, 17, size=4)] = rng.choice([1e9, -1e9, 1e15, -1e300, 1e300, 1.7e308, -1.7e308], size=(4, 2))
        elif kind == "edge":
            xy = rng.choice([0.0, W - 1e-9, float(W), -1e-9], size=(17, 1)) * np.array([1, 0]) + \
                rng.choice([0.0, H - 1e-9, float(H), -1e-9], size=(17, 1)) * np.array([0, 1])
        v = rng.choice([0, 1, 2, 2], size=17).astype(np.float64)
        if mode == "none":
            v[:] = 0
        elif mode == "one":
            v[:] = 0
            v[rng.integers(0, 17)] = rng.choice([1, 2])
        if kind == "nonfinite":
            j = rng.integers(0, 17)
            xy[j, rng.integers(0, 2)] = rng.choice([np.nan, np.inf, -np.inf])
            if v[j] > 0:
                valid = False
        if v.max() == 0:
            xy[rng.random(17) < 0.3] = np.nan  # COCO junk under v == 0: must be ignored
        if bad and draw(st.integers(0, 9)) == 0:
            v[rng.integers(0, 17)] = rng.choice([-1.0, 3.0, 0.5, np.nan, 1e9])
            valid = False
        kp[i, :, :2] = xy
        kp[i, :, 2] = v
        notes.append(f"{i}:{mode}/{kind}")
    dtype = draw(st.sampled_from(("float64",) * 6 + ("float32", "int32", "int64", "uint16")))
    if dtype != "float64":  # what pose estimators and json loaders hand over
        finite = np.abs(kp[np.isfinite(kp)]).max(initial=0)
        if (dtype == "float32" and finite < 1e38) or (np.isfinite(kp).all() and finite < 30000):
            kp = np.abs(kp).astype(dtype) if dtype == "uint16" else kp.astype(dtype)
            notes.append(dtype)
    if bad and draw(st.integers(0, 14)) == 0:
        kp = kp.reshape(n, 51) if draw(st.booleans()) else kp[:, :16]
        valid = False
        notes.append("bad shape")
    return Keypoints(kp, valid, notes)


def _host(x: Any) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        return x.numpy()
    return np.asarray(x)


try:
    import torch
except ImportError:  # torch is optional (the `net` extra)
    torch = None

FORMS = ("numpy", "numpy", "numpy", "numpy", "fortran", "strided", "bigendian", "readonly", "torch", "list")


@st.composite
def forms(draw, allow_list: bool = False) -> str:
    """How an array reaches the API: layouts, byte orders and array kinds."""
    form = draw(st.sampled_from(FORMS))
    if (form == "torch" and torch is None) or (form == "list" and not allow_list):
        form = "numpy"
    return form


def as_form(arr: np.ndarray, form: str) -> Any:
    """``arr`` (same values) as a Fortran-ordered copy, a strided view, big-endian, read-only,
    a torch tensor or a nested list."""
    arr = np.asarray(arr)
    if form == "fortran":
        return np.asfortranarray(arr)
    if form == "strided":  # every other element of an array twice as large along axis 0
        if arr.ndim == 0 or arr.dtype == object:
            return arr
        big = np.zeros((2 * arr.shape[0],) + arr.shape[1:], arr.dtype)
        big[::2] = arr
        return big[::2]
    if form == "bigendian" and arr.dtype.kind in "iufc" and arr.dtype.itemsize > 1:
        return arr.astype(arr.dtype.newbyteorder(">"))
    if form == "readonly":
        out = arr.copy()
        out.flags.writeable = False
        return out
    if form == "torch" and arr.dtype.kind in "biuf" and arr.dtype != np.uint32 and arr.dtype != np.uint16:
        return torch.from_numpy(np.ascontiguousarray(arr))
    if form == "list" and arr.dtype != object and (arr.size or arr.shape[1:] in ((17, 3), (4,))):
        return arr.tolist()  # (an empty array of another shape would become ``[]``: n = 0)
    return arr


def same_kind(out: Any, reference: Any) -> None:
    """Outputs follow the input's array kind: torch in, torch out; numpy otherwise."""
    if type(reference).__module__.startswith("torch"):
        assert type(out).__module__.startswith("torch"), type(out)
    else:
        assert isinstance(out, np.ndarray), type(out)


# ----------------------------------------------------------------------------------------------
# Checks of valid results
# ----------------------------------------------------------------------------------------------


def check_pose_map(m: Any, H: int, W: int, n: int) -> None:
    m = _host(m)
    assert m.shape == (H, W, n), m.shape
    assert m.dtype == np.float32
    assert np.isfinite(m).all(), "NaN/inf in the pose-instance map"
    assert (m >= 0).all() and (m <= 1 + 1e-6).all()
    s = m.sum(axis=-1, dtype=np.float64)
    ok = (np.abs(s - 1) < 1e-4) | (s == 0)
    assert ok.all(), f"rows sum to {np.unique(s[~ok])[:5]}"


def check_labels(lab: Any, H: int, W: int, n: int) -> np.ndarray:
    lab = _host(lab)
    assert lab.shape == (H, W), lab.shape
    assert lab.dtype == np.int32, lab.dtype
    assert lab.min(initial=0) >= 0 and lab.max(initial=0) <= n, (lab.min(), lab.max(), n)
    return lab


def labelled(kp: np.ndarray) -> np.ndarray:
    """(n,) bool: instances with at least one labelled keypoint (v > 0)."""
    return (kp[..., 2] > 0).any(axis=-1) if kp.ndim == 3 and kp.shape[1:] == (17, 3) else np.zeros(0, bool)


# ----------------------------------------------------------------------------------------------
# Primitives
# ----------------------------------------------------------------------------------------------


@fuzz(50, 1500)
@given(img=images(), data=st.data())
@counted
def test_sobel(img, data):
    x = as_form(img.array, data.draw(forms(), label="form"))
    out = outcome(p.sobel, (x,), {}, ("image",), img.valid or _sobel_ok(img))
    if out is not None:
        same_kind(out, x)
        out = _host(out)
        assert out.shape == img.array.shape[:2] and out.dtype == np.float32
        assert np.isfinite(out).all() and (out >= 0).all()
        if img.constant:
            assert (out == 0).all()


def _sobel_ok(img: Image) -> bool:
    """sobel also accepts float images outside [0, 1] (it has no range), and int8."""
    a = img.array
    return (
        isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.dtype.itemsize >= 2
        and np.isfinite(a).all() and (a.ndim == 2 or a.shape[2] == 3)
    )


@fuzz(30, 800)
@given(img=images(), data=st.data())
@counted
def test_slic(img, data):
    H, W = img.array.shape[:2]
    n_segments = data.draw(st.one_of(st.integers(1, 64), st.integers(1, H * W + 5), st.sampled_from([0, -3, 2.5, True, "8"])),
                           label="n_segments")
    compactness = data.draw(st.sampled_from([10.0, 10.0, 0.1, 1e-6, 1e6, 0.0, -1.0, float("nan")]), label="compactness")
    max_num_iter = data.draw(st.sampled_from([10, 10, 0, 1, 3, -1]), label="max_num_iter")
    connectivity = data.draw(st.sampled_from([True, True, False]), label="enforce_connectivity")
    factors = data.draw(st.sampled_from([(0.5, 3.0), (0.5, 3.0), (0.0, 1e-9), (0.0, 100.0), (0.9, 1.0), (2.0, 1.0),
                                         (-1.0, 3.0), (0.5, float("inf"))]), label="size factors")
    good_params = (
        isinstance(n_segments, int) and not isinstance(n_segments, bool) and 1 <= n_segments <= H * W
        and compactness > 0 and max_num_iter >= 0
        and 0 <= factors[0] < factors[1] < float("inf")
    )
    x = as_form(img.array, data.draw(forms(), label="form"))
    lab = outcome(p.slic, (x, n_segments, compactness, max_num_iter, connectivity),
                  dict(min_size_factor=factors[0], max_size_factor=factors[1]),
                  ("image", "n_segments", "compactness", "max_num_iter", "min_size_factor", "max_size_factor"),
                  img.valid and good_params)
    if lab is None:
        return
    same_kind(lab, x)
    lab = _host(lab)
    assert lab.shape == (H, W) and lab.dtype == np.int32
    K = int(lab.max()) + 1
    assert lab.min() == 0 and np.unique(lab).size == K, "labels are not 0..K-1 with every value used"
    assert K <= H * W
    if connectivity:
        from scipy import ndimage

        n_regions = sum(ndimage.label(lab == k)[1] for k in range(K)) if K <= 64 else K
        assert n_regions == K, "a superpixel is not one 4-connected region"


@st.composite
def label_images(draw, max_side: int | None = None):
    """Integer label images, often with missing values (disconnected RAGs, isolated nodes)."""
    max_side = MAX_SIDE if max_side is None else max_side
    H, W = _side(draw, max_side), _side(draw, max_side)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(("blocks", "noise", "constant", "gaps", "stripes")))
    if kind == "constant":
        lab = np.full((H, W), draw(st.integers(0, 5)))
    elif kind == "noise":
        lab = rng.integers(0, draw(st.integers(1, 20)), (H, W))
    elif kind == "stripes":  # separated by a label that then is removed: disconnected graph
        lab = (np.arange(W)[None, :] // max(1, W // 4) * 2 + 0 * np.arange(H)[:, None])
    else:
        by, bx = rng.integers(1, max(2, H // 2 + 1)), rng.integers(1, max(2, W // 2 + 1))
        lab = (np.arange(H)[:, None] // by) * (W // bx + 1) + np.arange(W)[None, :] // bx
        if kind == "gaps":
            lab = lab * draw(st.integers(2, 5)) + draw(st.integers(0, 7))  # unused values
    dtype = draw(st.sampled_from(("int32", "int64", "int32", "uint8", "uint16", "int16")))
    if dtype in ("uint8", "int16"):
        lab = lab % 100
    return lab.astype(dtype)


@st.composite
def edge_maps(draw, shape: tuple[int, int]):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(("random", "random", "zero", "huge", "nonfinite", "negative", "int", "shape")))
    e = rng.random(shape)
    if kind == "zero":
        e[:] = 0
    elif kind == "huge":
        e *= 1e38
    elif kind == "nonfinite":
        e.flat[rng.integers(0, e.size)] = np.nan
    elif kind == "negative":
        e.flat[rng.integers(0, e.size)] = -1
    elif kind == "int":
        e = (e * 10).astype(np.uint8)
    elif kind == "shape":
        e = e[:, :-1] if shape[1] > 1 else np.zeros((shape[0] + 1, shape[1]))
    valid = kind in ("random", "zero", "int", "huge")
    return e, valid


def check_rag(g: RAG, lab: np.ndarray) -> None:
    K = int(lab.max()) + 1
    assert g.n_nodes == K and g.indptr.shape == (K + 1,)
    assert g.indptr[0] == 0 and g.indptr[-1] == g.indices.size == g.weights.size
    assert (np.diff(g.indptr) >= 0).all()
    assert g.indices.size == 0 or (g.indices.min() >= 0 and g.indices.max() < K)
    assert np.isfinite(g.weights).all() and (g.weights >= 0).all(), "non-finite or negative RAG weight"
    S = g.to_scipy()
    assert (S != S.T).nnz == 0, "RAG not symmetric"
    # adjacency is exactly the 4-neighbour pairs of different labels
    pairs = set()
    for a, b in ((lab[:, 1:], lab[:, :-1]), (lab[1:, :], lab[:-1, :])):
        d = a != b
        pairs.update(zip(np.minimum(a, b)[d].tolist(), np.maximum(a, b)[d].tolist()))
    ea, eb, _ = g.edges()
    assert set(zip(ea.tolist(), eb.tolist())) == pairs


@fuzz(50, 1500)
@given(lab=label_images(), data=st.data())
@counted
def test_build_rag(lab, data):
    edge, valid = data.draw(edge_maps(lab.shape), label="edge_map")
    args = (as_form(lab, data.draw(forms(True), label="labels form")),
            as_form(edge, data.draw(forms(True), label="edge_map form")))
    g = outcome(p.build_rag, args, {}, ("labels", "edge_map", "weights"), valid)
    if g is None:
        return
    check_rag(g, lab.astype(np.int64))
    if np.all(edge == 0):
        assert (g.weights == 0).all()


@st.composite
def seed_rows(draw, K: int):
    n = draw(st.integers(0, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    s = rng.random((n, K)) < draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    form = draw(st.sampled_from(("bool", "bool", "int01", "float01", "int2", "wrongK", "1d")))
    if form == "int01":
        return s.astype(np.int64), True
    if form == "float01":
        return s.astype(np.float32), True
    if form == "int2":
        return s.astype(np.int64) * 2 + (n * K == 0), n * K == 0
    if form == "wrongK":
        return s[:, :-1] if K > 1 else np.zeros((n, K + 1), bool), False
    if form == "1d":
        return s.ravel(), False
    return s, True


@fuzz(50, 1200)
@given(lab=label_images(max_side=24 if PROFILE == "ci" else 64), data=st.data())
@counted
def test_rag_distance(lab, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    scale = data.draw(st.sampled_from([1.0, 0.0, 1e-30, 1e30, 3e38]), label="scale")
    g = p.build_rag(lab, rng.random(lab.shape) * scale)
    seeds, valid = data.draw(seed_rows(g.n_nodes), label="seeds")
    solver = data.draw(st.sampled_from(("sssp", "apsp", "sssp", "dijkstra")), label="solver")
    valid = valid and solver in ("sssp", "apsp")
    valid = valid and float(g.weights.max(initial=0)) * max(g.n_nodes - 1, 1) <= float(np.finfo(np.float32).max)
    x = as_form(seeds, data.draw(forms(), label="seeds form"))
    d = outcome(p.rag_distance, (g, x, solver), {}, ("seeds", "solver", "rag"), valid)
    if d is None:
        return
    same_kind(d, x)
    d = _host(d)
    s = np.asarray(seeds).astype(bool)
    assert d.shape == s.shape and d.dtype == np.float32
    assert not np.isnan(d).any(), "NaN distance"
    assert (d >= 0).all()
    assert (d[s] == 0).all(), "seed superpixels not at distance 0"
    assert np.isinf(d[~s.any(axis=1)]).all(), "an instance without seeds is reachable"
    # reference: scipy's dijkstra from every seed set
    if s.shape[0] and g.n_nodes <= 400:
        from scipy.sparse.csgraph import dijkstra

        ref = np.full(s.shape, np.inf)
        for i in range(s.shape[0]):
            if s[i].any():
                ref[i] = dijkstra(g.to_scipy(), directed=False, indices=np.flatnonzero(s[i]), min_only=True)
        fin = np.isfinite(ref)
        assert (np.isfinite(d) == fin).all(), "reachability differs from scipy"
        np.testing.assert_allclose(d[fin & np.isfinite(d)], ref[fin & np.isfinite(d)], rtol=1e-5, atol=1e-6)
    other = p.rag_distance(g, seeds, "apsp" if solver == "sssp" else "sssp")
    np.testing.assert_array_equal(_host(other), d, err_msg="sssp and apsp disagree")


@fuzz(30, 800)
@given(data=st.data())
@counted
def test_rag_distance_handmade_graphs(data):
    """A RAG built by hand with inconsistent CSR arrays must raise, never read out of bounds."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    K = data.draw(st.integers(0, 12), label="K")
    lab = rng.integers(0, max(K, 1), (4, 5))
    lab.flat[0] = max(K, 1) - 1
    g = p.build_rag(lab, rng.random((4, 5)))
    indptr, indices, weights, n_nodes = g.indptr.copy(), g.indices.copy(), g.weights.copy(), g.n_nodes
    flaw = data.draw(st.sampled_from(("none", "indptr_len", "indptr_order", "index_high", "index_neg",
                                      "weights_len", "weights_nan", "weights_neg", "n_nodes", "index_dtype")),
                     label="flaw")
    if flaw == "indptr_len":
        indptr = indptr[:-1]
    elif flaw == "indptr_order" and indptr.size > 2:
        indptr[1] = indptr[-1] + 3
    elif flaw == "index_high" and indices.size:
        indices[rng.integers(0, indices.size)] = n_nodes + rng.integers(0, 1000)
    elif flaw == "index_neg" and indices.size:
        indices[rng.integers(0, indices.size)] = -1
    elif flaw == "weights_len":
        weights = np.append(weights, 1.0).astype(np.float32)
    elif flaw == "weights_nan" and weights.size:
        weights[0] = np.nan
    elif flaw == "weights_neg" and weights.size:
        weights[0] = -1
    elif flaw == "n_nodes":
        n_nodes += 5
    elif flaw == "index_dtype":
        indices = indices.astype(np.int64)
    changed = not (np.array_equal(indptr, g.indptr) and np.array_equal(indices, g.indices)
                   and np.array_equal(weights, g.weights, equal_nan=True) and n_nodes == g.n_nodes)
    rag = RAG(indptr, indices, weights, n_nodes)
    seeds = rng.random((2, n_nodes)) < 0.3
    solver = data.draw(st.sampled_from(("sssp", "apsp")), label="solver")
    valid = not changed or flaw == "index_dtype"
    d = outcome(p.rag_distance, (rag, seeds, solver), {}, ("rag", "seeds"), valid)
    if d is not None:
        assert d.shape == (2, n_nodes) and not np.isnan(d).any()


@st.composite
def seed_masks(draw, max_side: int | None = None):
    max_side = MAX_SIDE if max_side is None else max_side
    H, W = _side(draw, max_side), _side(draw, max_side)
    n = draw(st.sampled_from((None, None, 0, 1, 2, 3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (H, W) if n is None else (n, H, W)
    m = rng.random(shape) < draw(st.sampled_from([0.0, 0.002, 0.02, 0.3, 1.0]))
    form = draw(st.sampled_from(("bool", "bool", "bool", "uint8", "float", "two", "complex")))
    if form == "uint8":
        return m.astype(np.uint8), True
    if form == "float":
        return m.astype(np.float64), True
    if form == "two":
        return m.astype(np.int16) * 2, not m.any()
    if form == "complex":
        return m.astype(np.complex64), False
    return m, True


@fuzz(50, 1200)
@given(seeds=seed_masks(), data=st.data())
@counted
def test_sweep_distance(seeds, data):
    seeds, valid = seeds
    H, W = seeds.shape[-2:]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    speed_kind = data.draw(st.sampled_from(("none", "none", "random", "tiny", "huge", "zero", "nan", "bool", "shape")),
                           label="speed")
    speed = {
        "none": None,
        "random": rng.uniform(0.05, 2.0, (H, W)),
        "tiny": np.full((H, W), 1e-300),
        "huge": np.full((H, W), 1e300),
        "zero": np.zeros((H, W)),
        "nan": np.full((H, W), np.nan),
        "bool": np.ones((H, W), bool),
        "shape": np.ones((H + 1, W)),
    }[speed_kind]
    valid = valid and speed_kind in ("none", "random")
    max_sweeps = data.draw(st.sampled_from([400, 400, 1, 4, 0]), label="max_sweeps")
    valid = valid and max_sweeps >= 1
    x = as_form(seeds, data.draw(forms(), label="seeds form"))
    if speed is not None:
        speed = as_form(speed, data.draw(forms(), label="speed form"))
    tol = data.draw(st.sampled_from([0.0, 0.0, 1e-3, 10.0, 1e300, -1.0, float("nan")]), label="tol")
    valid = valid and tol >= 0 and np.isfinite(tol)
    u = outcome(p.sweep_distance, (x,), dict(speed=speed, max_sweeps=max_sweeps, tol=tol),
                ("seeds_mask", "speed", "max_sweeps", "tol"), valid)
    if u is None:
        return
    same_kind(u, x)
    u = _host(u)
    m = np.asarray(seeds) != 0
    assert u.shape == m.shape and u.dtype == np.float32
    assert not np.isnan(u).any()
    assert (u[m] == 0).all() and (u[~m] > 0).all()
    stack_u, stack_m = u.reshape(-1, H, W), m.reshape(-1, H, W)
    for ui, mi in zip(stack_u, stack_m):
        if mi.any():
            if max_sweeps >= 4:
                assert np.isfinite(ui).all(), "unreachable pixel with a seed present"
            if speed is None and max_sweeps == 400 and tol == 0:
                from scipy import ndimage

                e = ndimage.distance_transform_edt(~mi)
                l1 = ndimage.distance_transform_cdt(~mi, metric="taxicab")
                assert (ui >= e - 0.5).all() and (ui <= l1 + 1e-3).all()
        else:
            assert np.isposinf(ui).all(), "an instance without seeds got finite distances"


@fuzz(50, 1500)
@given(lab=label_images(), data=st.data())
@counted
def test_seed_superpixels(lab, data):
    H, W = lab.shape
    kp = data.draw(keypoint_arrays(H, W), label="keypoints")
    args = (as_form(lab, data.draw(forms(True), label="labels form")),
            as_form(kp.array, data.draw(forms(True), label="keypoints form")))
    seeds = outcome(p.seed_superpixels, args, {}, ("labels", "keypoints"), kp.valid)
    if seeds is None:
        return
    K = int(lab.max()) + 1
    assert seeds.shape == (kp.array.shape[0], K) and seeds.dtype == np.bool_
    has = labelled(kp.array)
    assert not seeds[~has].any(), "an instance without labelled keypoints has seeds"
    # every seed superpixel occurs in the image; the skeleton mask agrees
    mask = p.skeleton_mask(kp.array, (H, W))
    for i in range(seeds.shape[0]):
        assert set(np.flatnonzero(seeds[i]).tolist()) == set(np.unique(lab[mask[i]]).tolist())
        # every labelled keypoint inside the image is on the skeleton
        for x, y, v in kp.array[i]:
            if v > 0 and 0 <= x < W and 0 <= y < H:
                assert mask[i, int(np.floor(y)), int(np.floor(x))]


@st.composite
def label_maps(draw, max_side: int | None = None):
    """Instance label maps (0 background, 1..n) with a stated n, sometimes wrong."""
    max_side = MAX_SIDE if max_side is None else max_side
    H, W = _side(draw, max_side), _side(draw, max_side)
    top = draw(st.integers(0, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lab = rng.integers(0, top + 1, (H, W)).astype(draw(st.sampled_from(("int32", "int64", "uint8"))))
    n = draw(st.sampled_from((None, "top", "more", "less", "negative", "float")))
    n = {"top": top, "more": top + 3, "less": top - 1, "negative": -1, "float": float(top)}.get(n, n)
    valid = n is None or (isinstance(n, int) and n >= int(lab.max()))
    return lab, n, valid


@fuzz(50, 1200)
@given(case=label_maps(), data=st.data())
@counted
def test_masks_from_labels_and_rle(case, data):
    from p2i_prior.masks import rle_to_masks

    lab, n, valid = case
    x = as_form(lab, data.draw(forms(True), label="labels form"))
    masks = outcome(p.masks_from_labels, (x,), {} if n is None else {"n": n}, ("labels", "n"), valid)
    if masks is None:
        return
    H, W = lab.shape
    k = int(lab.max()) if n is None else n
    assert masks.shape == (k, H, W) and masks.dtype == np.bool_
    for i in range(k):
        assert (masks[i] == (lab == i + 1)).all()
    rles = p.masks_to_rle(as_form(masks, data.draw(forms(), label="masks form")))
    assert len(rles) == k
    assert json.loads(json.dumps(rles)) == rles
    if k:
        assert (rle_to_masks(rles) == masks).all()


@fuzz(20, 600)
@given(data=st.data())
@counted
def test_masks_to_rle_bad(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    shape = data.draw(st.sampled_from([(2, 3, 4), (0, 3, 4), (1, 0, 4), (3, 4), (1, 1, 1), (2, 1, 2, 2)]))
    kind = data.draw(st.sampled_from(("bool", "int01", "int2", "float", "complex")))
    m = rng.random(shape) < 0.5
    arr = {"bool": m, "int01": m.astype(np.uint8), "int2": m.astype(np.int32) * 2 + 1,
           "float": m.astype(np.float32), "complex": m.astype(np.complex64)}[kind]
    valid = len(shape) == 3 and kind in ("bool", "int01") and (shape[0] == 0 or min(shape[1:]) > 0)
    rles = outcome(p.masks_to_rle, (as_form(arr, data.draw(forms(), label="form")),), {}, ("masks",), valid)
    if rles is not None:
        assert len(rles) == shape[0]


JUNK = (None, 3, 2.5, "image.png", b"\x00", [[1, 2], [3]], [], [[]], {"a": 1}, object(), np.float64(1.0),
        np.array(5), np.zeros((0, 0)), np.zeros((2, 0, 3)), np.zeros((1, 1, 1, 1)), np.array(["a", "b"]),
        np.zeros((3, 3), "datetime64[s]"), np.zeros((3, 3), np.complex64), np.zeros((3, 3), object))


def _good_args(rng) -> dict[str, tuple[Callable, list, tuple[str, ...]]]:
    """Each public function with good arguments (by position) and its argument names."""
    img = (rng.random((6, 7, 3)) * 255).astype(np.uint8)
    lab = np.arange(42).reshape(6, 7) // 9
    kp = np.zeros((1, 17, 3))
    kp[0, 0] = (3, 2, 2)
    score = rng.random((6, 7))
    g = p.build_rag(lab, rng.random((6, 7)))
    return {
        "sobel": (p.sobel, [img], ("image",)),
        "slic": (p.slic, [img, 5], ("image", "n_segments")),
        "build_rag": (p.build_rag, [lab, rng.random((6, 7))], ("labels", "edge_map")),
        "seed_superpixels": (p.seed_superpixels, [lab, kp], ("labels", "keypoints")),
        "rag_distance": (p.rag_distance, [g, np.ones((1, g.n_nodes), bool), "sssp"], ("rag", "seeds", "solver")),
        "sweep_distance": (p.sweep_distance, [kp[0, :6, :2] > 2], ("seeds_mask",)),
        "skeleton_mask": (p.skeleton_mask, [kp, (6, 7)], ("keypoints", "shape")),
        "pose_instance_map": (lambda i, k: p.pose_instance_map(i, k, n_segments=5), [img, kp], ("image", "keypoints")),
        "segment_instances": (p.segment_instances, [rng.random((6, 7, 1)), score], ("pose_map", "person_score")),
        "segment_people": (p.segment_people, [img, kp, score], ("image", "keypoints", "person_score")),
        "box_instances": (p.box_instances, [score, np.array([[0, 0, 3, 3]])], ("person_score", "boxes")),
        "masks_from_labels": (p.masks_from_labels, [lab], ("labels",)),
        "masks_to_rle": (p.masks_to_rle, [np.ones((1, 6, 7), bool)], ("masks",)),
        "instance_scales": (p.instance_scales, [kp], ("keypoints",)),
        "component_gate": (p.component_gate, [kp, score], ("keypoints", "person_score")),
    }


@fuzz(40, 1500)
@given(data=st.data())
@counted
def test_junk_arguments(data):
    """Every public function, one argument replaced by something that is not a valid array
    (None, strings, ragged lists, 0-d, empty, 4-d, datetime, complex, object): a ValueError or
    TypeError naming an argument, or (for a junk value that happens to be usable) a result."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    table = _good_args(rng)
    name = data.draw(st.sampled_from(sorted(table)), label="function")
    fn, args, names = table[name]
    i = data.draw(st.integers(0, len(args) - 1), label="argument")
    args = list(args)
    args[i] = data.draw(st.sampled_from(JUNK), label="junk")
    out = outcome(fn, tuple(args), {}, names + ("shape", "n"), False)
    if out is not None and isinstance(out, np.ndarray):
        assert not (out.dtype.kind == "f" and np.isnan(out).any())


@fuzz(30, 800)
@given(lab=label_images(), data=st.data())
@counted
def test_skeletons_scales_and_gates(lab, data):
    """skeleton_pixels, instance_scales and component_gate on hostile keypoints."""
    H, W = lab.shape
    kp = data.draw(keypoint_arrays(H, W), label="keypoints")
    k = as_form(kp.array, data.draw(forms(True), label="keypoints form"))
    res = outcome(p.skeleton_pixels, (k, (H, W)), {}, ("keypoints", "shape"), kp.valid)
    if res is None:
        return
    offsets, rows, cols = res
    n = kp.array.shape[0]
    assert offsets.shape == (n + 1,) and offsets[0] == 0 and (np.diff(offsets) >= 0).all()
    assert offsets[-1] == rows.size == cols.size
    assert rows.size == 0 or (rows.min() >= 0 and rows.max() < H and cols.min() >= 0 and cols.max() < W)
    has = labelled(kp.array)
    assert (np.diff(offsets)[~has] == 0).all()
    scales = p.instance_scales(k)
    assert scales.shape == (n,)
    assert np.isnan(scales[~has]).all() and (scales[has] >= 16).all()
    assert not np.isinf(scales).any() or kp.notes and any("huge" in t for t in kp.notes)
    score = (lab % 3 == 0).astype(np.float64)
    gate = p.component_gate(k, score)
    assert gate.shape == (n, H, W) and gate.dtype == np.bool_
    assert not gate[:, score < 0.5].any()
    assert not gate[~has].any()


@fuzz(30, 800)
@given(a=label_images(), data=st.data())
@counted
def test_quality_measures(a, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    b = rng.integers(0, data.draw(st.integers(1, 6), label="k"), a.shape)
    tol = data.draw(st.sampled_from([0, 1, 2, 50, -1, 1.5]), label="tolerance")
    r = outcome(p.boundary_recall, (a, b), {"tolerance": tol}, ("labels", "ground_truth", "tolerance"),
                isinstance(tol, int) and tol >= 0)
    assert r is None or 0.0 <= r <= 1.0
    u = p.undersegmentation_error(a, b)
    assert 0.0 <= u <= 1.0
    assert p.undersegmentation_error(a, a) == 0.0 and p.boundary_recall(a, a, 0) == 1.0


@fuzz(20, 300)
@given(data=st.data())
@counted
def test_make_scene(data):
    """The synthetic generator: any seed, size and crowd gives a consistent scene."""
    from p2i_prior.synthetic import make_scene

    kwargs = dict(
        seed=data.draw(st.integers(0, 2**31), label="seed"),
        height=data.draw(st.sampled_from([16, 17, 40, 64, 15, 0]), label="height"),
        width=data.draw(st.sampled_from([16, 33, 64, 90, 4097]), label="width"),
        n_people=data.draw(st.sampled_from([0, 1, 2, 5, 9, -1, 65]), label="n_people"),
        overlap=data.draw(st.sampled_from([0.0, 0.5, 1.0, 1.5]), label="overlap"),
        score_noise=data.draw(st.sampled_from([0.0, 1.0, 2.0, -0.1]), label="score_noise"),
        background=data.draw(st.sampled_from(["textured", "plain", "sky"]), label="background"),
    )
    valid = (16 <= kwargs["height"] <= 4096 and 16 <= kwargs["width"] <= 4096 and 0 <= kwargs["n_people"] <= 64
             and 0 <= kwargs["overlap"] <= 1 and 0 <= kwargs["score_noise"] <= 2
             and kwargs["background"] in ("textured", "plain"))
    scene = outcome(make_scene, (), kwargs, tuple(kwargs), valid)
    if scene is None:
        return
    H, W, n = kwargs["height"], kwargs["width"], kwargs["n_people"]
    assert scene.image.shape == (H, W, 3) and scene.image.dtype == np.uint8
    assert scene.masks.shape == (n, H, W) and scene.keypoints.shape == (n, 17, 3) and scene.boxes.shape == (n, 4)
    assert (scene.masks.sum(axis=0) <= 1).all(), "masks overlap"
    p.check_keypoints(scene.keypoints)
    assert np.isfinite(scene.boxes).all() and (scene.boxes[:, 2:] >= 0).all()
    for s in (scene.score, scene.score_exact):
        assert s.shape == (H, W) and np.isfinite(s).all() and s.min() >= 0 and s.max() <= 1
    np.testing.assert_array_equal(scene.score_exact, scene.masks.any(axis=0))


# ----------------------------------------------------------------------------------------------
# Pipeline
# ----------------------------------------------------------------------------------------------


def _n_segments(data, H: int, W: int):
    return data.draw(st.one_of(st.integers(1, 40), st.sampled_from([1, H * W, H * W + 1, 4 * H * W])),
                     label="n_segments")


@fuzz(30, 800)
@given(img=images(max_side=PIPE_SIDE), data=st.data())
@counted
def test_pose_instance_map(img, data):
    H, W = img.array.shape[:2]
    kp = data.draw(keypoint_arrays(H, W), label="keypoints")
    method = data.draw(st.sampled_from(("rag", "sweep", "geodesic")), label="method")
    kwargs: dict = {"method": method}
    valid = kp.valid and (img.valid or (method != "rag" and _sobel_ok(img)))
    if method == "rag":
        kwargs["n_segments"] = ns = _n_segments(data, H, W)
        kwargs["solver"] = data.draw(st.sampled_from(("sssp", "apsp")), label="solver")
        valid = valid and ns <= H * W
    if data.draw(st.booleans(), label="gates"):
        n = kp.array.shape[0]
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
        boxes = np.concatenate([rng.uniform(-W, W, (n, 1)), rng.uniform(-H, H, (n, 1)),
                                rng.uniform(0, 2 * W, (n, 1)), rng.uniform(0, 2 * H, (n, 1))], 1)
        kwargs["boxes"] = boxes
        kwargs["extent"] = data.draw(st.sampled_from([None, 0.5, 3.0, 1e300]), label="extent")
    kwargs["temperature"] = data.draw(st.sampled_from([None, None, 1e-6, 1e6, 0.0]), label="temperature")
    valid = valid and kwargs["temperature"] != 0.0
    names = ("image", "keypoints", "n_segments", "temperature", "boxes", "extent", "solver")
    x = as_form(img.array, data.draw(forms(), label="image form"))
    k = as_form(kp.array, data.draw(forms(True), label="keypoints form"))
    m = outcome(p.pose_instance_map, (x, k), kwargs, names, valid)
    if m is None:
        return
    same_kind(m, x)
    n = kp.array.shape[0]
    check_pose_map(m, H, W, n)
    m = _host(m)
    has = labelled(kp.array)
    assert (m[:, :, ~has] == 0).all(), "an instance without labelled keypoints has probability"
    # an instance with a skeleton pixel in the image is reachable somewhere (no gates)
    if "boxes" not in kwargs:
        on_image = p.skeleton_mask(kp.array, (H, W)).any(axis=(1, 2))
        assert (m.sum(axis=(0, 1))[on_image] > 0).all() or n == 0
        if on_image.any():
            assert (m.sum(-1) > 0.99).all(), "a pixel unreachable though a skeleton lies in the image"


ODD_NUMBERS = (0, -1, 2.5, float("nan"), float("inf"), True, "3", None, np.int64(7), np.float32(0.5), 1e300)


@fuzz(30, 800)
@given(lab=label_images(max_side=PIPE_SIDE), data=st.data())
@counted
def test_pose_instance_map_options(lab, data):
    """User superpixels (gaps: isolated RAG nodes), a user speed, hop lengths, odd option values."""
    H, W = lab.shape
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    image = rng.random((H, W, 3))
    kp = data.draw(keypoint_arrays(H, W, bad=False), label="keypoints")
    method = data.draw(st.sampled_from(("rag", "sweep", "geodesic", "RAG", "")), label="method")
    kwargs: dict = {"method": method}
    valid = method in ("rag", "sweep", "geodesic")
    option = data.draw(st.sampled_from(("labels", "labels", "speed", "length_weight", "edge_weight",
                                        "temperature", "n_segments", "compactness", "solver", "extent")),
                       label="option")
    if option == "labels":
        form = data.draw(st.sampled_from(("ok", "ok", "shape", "float", "negative")), label="labels kind")
        kwargs["labels"] = {"ok": lab, "shape": lab[:, :-1] if W > 1 else lab[None], "float": lab.astype(float),
                            "negative": lab - 1}[form]
        # labels only matter for "rag" (ignored, unchecked, by the sweeps)
        valid = valid and (form == "ok" or method != "rag")
        if form == "negative" and lab.min() > 0:
            valid = valid or method == "rag"
    elif option == "speed":
        kind = data.draw(st.sampled_from(("ok", "zero", "nan", "shape")), label="speed kind")
        kwargs["speed"] = {"ok": rng.uniform(0.1, 3, (H, W)), "zero": np.zeros((H, W)),
                           "nan": np.full((H, W), np.nan), "shape": np.ones((H + 1, W))}[kind]
        valid = valid and method == "geodesic" and kind == "ok"
    else:
        value = data.draw(st.sampled_from(ODD_NUMBERS + (0.5, 3.0)), label=option)
        kwargs[option] = value
        if option == "solver":
            kwargs[option] = data.draw(st.sampled_from(("sssp", "apsp", "bfs", None)), label="solver value")
        if option == "n_segments":
            kwargs["n_segments"] = value = data.draw(st.sampled_from(ODD_NUMBERS + (1, 5, H * W)), label="n")
        ok_number = (not isinstance(value, (bool, str)) and value is not None and np.isfinite(float(value)))
        ok = {
            "length_weight": ok_number and 0 <= value <= 1e30,
            "edge_weight": ok_number and 0 <= value <= 1e30,
            "temperature": value is None or (ok_number and value > 0),
            "compactness": ok_number and 0 < value <= 1e18,
            "extent": value is None or (ok_number and value > 0),
            "n_segments": value is None or (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                                            and 1 <= value <= H * W),
            "solver": kwargs.get("solver") in ("sssp", "apsp"),
        }[option]
        # options of the other methods are ignored (not validated) by design
        # (n_segments and compactness only reach SLIC; the other options are validated for
        # every method)
        relevant = {"n_segments": ("rag",), "compactness": ("rag",)}.get(option, METHODS)
        valid = valid and (ok or method not in relevant)
    if method == "rag" and "labels" not in kwargs and "n_segments" not in kwargs:
        kwargs["n_segments"] = min(H * W, 30)
    names = ("image", "keypoints", "method", "labels", "speed", "length_weight", "edge_weight", "temperature",
             "n_segments", "compactness", "solver", "extent", "rag")
    m = outcome(p.pose_instance_map, (image, kp.array), kwargs, names, valid)
    if m is None:
        return
    check_pose_map(m, H, W, kp.array.shape[0])
    assert (m[:, :, ~labelled(kp.array)] == 0).all()


METHODS = ("rag", "sweep", "geodesic")


@fuzz(20, 300)
@given(data=st.data())
@counted
def test_pose_instance_maps_batch(data):
    """The batch call: images of different sizes, one keypoint array each (or a wrong count)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    B = data.draw(st.integers(0, 3), label="B")
    shapes = [(int(rng.integers(1, 24)), int(rng.integers(1, 24))) for _ in range(B)]
    images = [rng.random(s + (3,)) for s in shapes]
    kps = [data.draw(keypoint_arrays(*s, max_people=3, bad=False), label=f"keypoints {i}").array
           for i, s in enumerate(shapes)]
    method = data.draw(st.sampled_from(("sweep", "geodesic", "rag")), label="method")
    drop = data.draw(st.booleans(), label="drop one keypoint array") and B > 0
    if drop:
        kps = kps[:-1]
    kwargs = {"method": method}
    if method == "rag":
        kwargs["n_segments"] = 1
    maps = outcome(p.pose_instance_maps, (images, kps), kwargs, ("keypoints_list", "images", "boxes"), not drop)
    if maps is None:
        return
    assert len(maps) == B
    for m, s, k in zip(maps, shapes, kps):
        check_pose_map(m, s[0], s[1], k.shape[0])


@st.composite
def scores(draw, H: int, W: int):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(("random", "random", "ones", "zeros", "nan", "range", "shape", "bool", "int")))
    s = rng.random((H, W))
    if kind == "ones":
        s[:] = 1
    elif kind == "zeros":
        s[:] = 0
    elif kind == "nan":
        s.flat[rng.integers(0, s.size)] = np.nan
    elif kind == "range":
        s.flat[rng.integers(0, s.size)] = 1.5
    elif kind == "shape":
        s = s[:, :-1] if W > 1 else s[None]
    elif kind == "bool":
        s = s > 0.5
    elif kind == "int":
        s = (s > 0.5).astype(np.uint8)
    return s, kind in ("random", "ones", "zeros", "bool", "int"), kind


@fuzz(50, 1000)
@given(data=st.data())
@counted
def test_segment_instances(data):
    H, W = _side(data.draw, 48), _side(data.draw, 48)
    n = data.draw(st.integers(0, 5), label="n")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    kind = data.draw(st.sampled_from(("softmax", "softmax", "zeros", "nan", "ndim", "negative")), label="map")
    pm = rng.random((H, W, n)).astype(np.float32)
    pm /= np.maximum(pm.sum(-1, keepdims=True), 1e-12)
    pm[rng.random((H, W)) < 0.2] = 0
    valid_map = True
    if kind == "zeros":
        pm[:] = 0
    elif kind == "nan" and pm.size:
        pm.flat[rng.integers(0, pm.size)] = np.nan
        valid_map = False
    elif kind == "ndim":
        pm = pm[..., 0] if n else np.zeros((H, W), np.float32)
        valid_map = False
    elif kind == "negative":  # not a softmax: still a valid heat map (argmax of map x score)
        pm = (pm - 0.5).astype(np.float32)
    score, valid_score, _ = data.draw(scores(H, W), label="person_score")
    threshold = data.draw(st.sampled_from([0.5, 0.5, 0.0, 1.0, -0.1, 2.0, float("nan")]), label="threshold")
    valid = valid_map and valid_score and 0 <= threshold <= 1
    x = as_form(pm, data.draw(forms(), label="pose_map form"))
    lab = outcome(p.segment_instances, (x, as_form(score, data.draw(forms(), label="score form"))),
                  {"threshold": threshold}, ("pose_map", "person_score", "threshold"), valid)
    if lab is None:
        return
    same_kind(lab, x)
    lab = check_labels(lab, H, W, n)
    s = np.asarray(score, np.float32)
    assert (lab[s < threshold] == 0).all()
    assert (lab[pm.max(-1, initial=0) <= 0] == 0).all()


@fuzz(30, 600)
@given(img=images(max_side=PIPE_SIDE), data=st.data())
@counted
def test_segment_people(img, data):
    H, W = img.array.shape[:2]
    kp = data.draw(keypoint_arrays(H, W), label="keypoints")
    score, valid_score, _ = data.draw(scores(H, W), label="person_score")
    method = data.draw(st.sampled_from(("rag", "sweep", "geodesic")), label="method")
    components = data.draw(st.booleans(), label="components")
    kwargs = dict(method=method, components=components)
    valid = kp.valid and valid_score and (img.valid or (method != "rag" and _sobel_ok(img)))
    if method == "rag":
        kwargs["n_segments"] = ns = _n_segments(data, H, W)
        valid = valid and ns <= H * W
    if data.draw(st.booleans(), label="gates"):
        n = kp.array.shape[0]
        boxes, valid_boxes = data.draw(box_arrays(H, W, n), label="boxes")
        kwargs["boxes"] = boxes
        kwargs["extent"] = data.draw(st.sampled_from([None, 0.5, 3.0, 1e300, 0.0]), label="extent")
        kwargs["threshold"] = data.draw(st.sampled_from([0.5, 0.0, 1.0]), label="threshold")
        valid = valid and valid_boxes and kwargs["extent"] != 0.0
    names = ("image", "keypoints", "person_score", "n_segments", "threshold", "boxes", "extent")
    x = as_form(img.array, data.draw(forms(), label="image form"))
    args = (x, as_form(kp.array, data.draw(forms(True), label="keypoints form")),
            as_form(score, data.draw(forms(), label="score form")))
    lab = outcome(p.segment_people, args, kwargs, names, valid)
    if lab is None:
        return
    same_kind(lab, x)
    n = kp.array.shape[0]
    lab = check_labels(lab, H, W, n)
    has = labelled(kp.array)
    present = np.unique(lab[lab > 0]) - 1
    assert has[present].all() if present.size else True, "a person without keypoints got pixels"
    assert (lab[np.asarray(score, np.float32) < kwargs.get("threshold", 0.5)] == 0).all()
    if kwargs.get("boxes") is not None and lab.any():
        from p2i_prior.pipeline import _box_masks

        inside = _box_masks(np.asarray(kwargs["boxes"], np.float64), H, W)
        r, c = np.nonzero(lab)
        assert inside[lab[r, c] - 1, r, c].all(), "a pixel outside its instance's box"


@st.composite
def box_arrays(draw, H: int, W: int, n: int | None = None):
    n = draw(st.integers(0, 5)) if n is None else n
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    b = np.concatenate([rng.uniform(-W, 2 * W, (n, 1)), rng.uniform(-H, 2 * H, (n, 1)),
                        rng.uniform(0, 2 * W, (n, 1)), rng.uniform(0, 2 * H, (n, 1))], 1)
    kind = draw(st.sampled_from(("ok", "ok", "zero", "huge", "nan", "negative", "shape", "dup")))
    valid = True
    if kind == "zero":
        b[:, 2:] = 0
    elif kind == "huge":
        b[:, :2] = -1e300
        b[:, 2:] = 1e308
    elif kind == "nan" and n:
        b[0, 1] = np.nan
        valid = False
    elif kind == "negative" and n:
        b[0, 2] = -1
        valid = False
    elif kind == "shape":
        b = b[:, :3]
        valid = False
    elif kind == "dup" and n:
        b[-1] = b[0]
    return b, valid


@fuzz(50, 1000)
@given(data=st.data())
@counted
def test_box_instances(data):
    H, W = _side(data.draw, 64), _side(data.draw, 64)
    score, valid_score, kind = data.draw(scores(H, W), label="person_score")
    boxes, valid_boxes = data.draw(box_arrays(H, W), label="boxes")
    valid_score = valid_score or (kind == "shape" and np.ndim(score) == 2)  # any (H, W) is fine here
    x = as_form(score, data.draw(forms(), label="score form"))
    bform = data.draw(forms(True), label="boxes form")
    b = as_form(boxes, bform)
    # ``[]`` for no boxes has no (0, 4) shape: p2i_prior.pipeline._check_boxes may refuse it
    valid_boxes = valid_boxes and not (bform == "list" and boxes.size == 0)
    lab = outcome(p.box_instances, (x, b), {}, ("person_score", "boxes", "threshold"), valid_score and valid_boxes)
    if lab is None:
        return
    same_kind(lab, x)
    n = boxes.shape[0]
    lab = check_labels(lab, *np.shape(score), n)
    assert (lab[np.asarray(score, np.float32) < 0.5] == 0).all()


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


@fuzz(15, 250)
@given(img=images(max_side=PIPE_SIDE, bad=False), data=st.data())
@counted
def test_cli_segment(img, data, tmp_path_factory):
    """``p2i segment`` with random and broken files: exit 0, or 2 with a one-line error."""
    import contextlib
    import io

    from PIL import Image as PILImage

    from p2i_prior.cli import main

    tmp = tmp_path_factory.mktemp("seg")
    H, W = img.array.shape[:2]
    arr = np.asarray(img.array)
    arr = (arr * 255 if arr.dtype.kind in "fb" else arr // (257 if arr.dtype == np.uint16 else 1)).clip(0, 255).astype(np.uint8)
    image_path = tmp / "im.png"
    image_kind = data.draw(st.sampled_from(("png", "png", "png", "missing", "garbage")), label="image file")
    if image_kind == "png":
        PILImage.fromarray(arr).save(image_path)
    elif image_kind == "garbage":
        image_path.write_bytes(b"not an image at all")
    kp = data.draw(keypoint_arrays(H, W, bad=True), label="keypoints")
    json_kind = data.draw(st.sampled_from(("list", "coco", "coco", "garbage", "wrong", "short", "missing", "empty")),
                          label="json")
    ann_path = tmp / "kp.json"
    entries = [{"image_id": 1, "category_id": 1, "keypoints": [None if not np.isfinite(v) else float(v)
                                                               for v in k.ravel().tolist()]}
               for k in kp.array]
    if json_kind == "list":
        ann_path.write_text(json.dumps(entries))
    elif json_kind == "coco":
        ann_path.write_text(json.dumps({"images": [{"id": 1, "file_name": "im.png"}], "annotations": entries}))
    elif json_kind == "garbage":
        ann_path.write_text("{not json")
    elif json_kind == "wrong":
        ann_path.write_text(json.dumps({"foo": 1}))
    elif json_kind == "short":
        ann_path.write_text(json.dumps([{"image_id": 1, "keypoints": [1, 2]}]))
    elif json_kind == "empty":
        ann_path.write_text("[]")
    score_kind = data.draw(st.sampled_from(("none", "npy", "bad_npy", "png", "shape")), label="score")
    args = ["segment", str(image_path), "--keypoints", str(ann_path), "--out", str(tmp / "out")]
    if score_kind != "none":
        sp = tmp / ("s.npy" if score_kind != "png" else "s.png")
        if score_kind == "npy":
            np.save(sp, np.random.default_rng(0).random((H, W)).astype(np.float32))
        elif score_kind == "bad_npy":
            np.save(sp, np.full((H, W), np.nan))
        elif score_kind == "shape":
            np.save(sp, np.ones((H + 1, W)))
        else:
            PILImage.fromarray(np.full((H, W), 200, np.uint8)).save(sp)
        args += ["--score", str(sp)]
    method = data.draw(st.sampled_from(("rag", "sweep", "geodesic")), label="method")
    segments = data.draw(st.sampled_from(("20", "1", str(H * W), str(H * W + 1), "0", "-4")), label="segments")
    args += ["--method", method, "--segments", segments]
    extra = data.draw(st.sampled_from((None, None, "--threshold", "--extent", "--solver", "--image-id")), label="option")
    extra_ok = True
    if extra is not None:
        value = data.draw(st.sampled_from({
            "--threshold": ("0", "1", "0.3", "1.5", "-1", "nan", "x"),
            "--extent": ("0.5", "3", "0", "-2", "inf", "x"),
            "--solver": ("sssp", "apsp", "fw"),
            "--image-id": ("1", "2", "x"),
        }[extra]), label="value")
        args += [extra, value]
        extra_ok = {
            "--threshold": value in ("0", "1", "0.3"),
            "--extent": value in ("0.5", "3"),
            "--solver": value in ("sssp", "apsp"),
            "--image-id": value == "1",
        }[extra]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    msg = err.getvalue().strip()
    assert code in (0, 2), f"exit code {code}: {msg}"
    assert "Traceback" not in msg
    if code == 2:
        # one error line; argparse puts its usage block (a few lines) above its own errors
        lines = msg.splitlines()
        assert lines and lines[-1].startswith(("p2i segment: error: ", "p2i: error: ")), msg
        assert len(lines) == 1 or lines[0].startswith("usage: "), msg
    else:
        with PILImage.open(tmp / "out" / "labels.png") as im:
            lab = np.asarray(im)
        assert lab.shape == (H, W) and int(lab.max()) <= max(kp.array.shape[0], 0)
    # no person matched (an empty file, or no entries) is an error since issue 14
    good = (image_kind == "png" and json_kind in ("list", "coco") and kp.array.shape[0] > 0 and kp.valid
            and score_kind in ("none", "npy", "png") and extra_ok
            and (method != "rag" or 1 <= int(segments) <= H * W))
    if good:
        assert code == 0, msg


# ----------------------------------------------------------------------------------------------
# Regressions: the bugs the fuzzing found, as plain tests
# ----------------------------------------------------------------------------------------------


def test_float16_images_work_like_float32():
    """sobel on a float16 RGB image crashed in numba typing (NotImplementedError: float16)."""
    img = np.random.default_rng(1).random((9, 11, 3))
    for fn in (p.sobel, lambda a: p.slic(a, 6)):
        np.testing.assert_array_equal(fn(img.astype(np.float16)), fn(img.astype(np.float16).astype(np.float32)))


def test_big_endian_arrays_are_accepted_everywhere():
    """Non-native byte order (numpy files written on another machine, '>f8') crashed every
    numba kernel with a TypingError; now it is byte-swapped on the way in."""
    rng = np.random.default_rng(2)
    img = rng.random((12, 15, 3))
    kp = np.zeros((2, 17, 3))
    kp[0, 0], kp[0, 5], kp[1, 11] = (2, 3, 2), (6, 8, 1), (13, 10, 2)
    be = lambda a: a.astype(a.dtype.newbyteorder(">"))  # noqa: E731
    np.testing.assert_array_equal(p.sobel(be(img)), p.sobel(img))
    lab = p.slic(img, 8)
    np.testing.assert_array_equal(p.slic(be(img), 8), lab)
    g, g_be = p.build_rag(lab, p.sobel(img)), p.build_rag(be(lab), be(p.sobel(img)))
    np.testing.assert_array_equal(g.weights, g_be.weights)
    seeds = p.seed_superpixels(lab, kp)
    np.testing.assert_array_equal(p.seed_superpixels(be(lab), be(kp)), seeds)
    np.testing.assert_array_equal(p.rag_distance(g, be(seeds.astype(np.int64))), p.rag_distance(g, seeds))
    mask = p.skeleton_mask(kp, (12, 15))
    speed = rng.random((12, 15)) + 0.5
    np.testing.assert_array_equal(p.sweep_distance(be(mask.astype(np.float32)), be(speed)),
                                  p.sweep_distance(mask, speed))
    for method in ("rag", "sweep", "geodesic"):
        np.testing.assert_array_equal(p.pose_instance_map(be(img), be(kp), method=method, n_segments=8),
                                      p.pose_instance_map(img, kp, method=method, n_segments=8))


def test_complex_keypoints_are_refused_not_truncated():
    """A complex array cast to float64 silently dropped its imaginary part."""
    kp = np.zeros((1, 17, 3), complex)
    with pytest.raises(TypeError, match=r"keypoints: expected a real-valued array, got dtype complex128"):
        p.seed_superpixels(np.zeros((4, 4), int), kp)


def test_empty_list_means_no_people():
    """``keypoints=[]`` (no detections) was refused: shape (0,) is not (n, 17, 3)."""
    img = np.zeros((5, 6))
    assert p.pose_instance_map(img, [], method="sweep").shape == (5, 6, 0)
    assert (p.segment_people(img, [], np.ones((5, 6))) == 0).all()
    assert p.seed_superpixels(np.zeros((5, 6), int), []).shape == (0, 1)
    with pytest.raises(ValueError, match=r"keypoints: expected \(n, 17, 3\) array of \(x, y, v\).*got shape \(2,\)"):
        p.seed_superpixels(np.zeros((5, 6), int), [1.0, 2.0])


def test_limbs_spanning_the_whole_float_range():
    """A limb from x = -1.7e308 to x = +1.7e308: the clipping's x1 - x0 overflowed to inf, the
    clipped ends became NaN and rasterising raised numpy's 'negative dimensions not allowed'."""
    kp = np.zeros((1, 17, 3))
    kp[0, 5], kp[0, 6] = (-1.7e308, 5.5, 2), (1.7e308, 5.5, 2)
    m = p.skeleton_mask(kp, (10, 10))[0]
    assert m[5].all() and m.sum() == 10
    kp[0, 5], kp[0, 6] = (-1.7e308, -1.7e308, 2), (1.7e308, 1.7e308, 2)
    m = p.skeleton_mask(kp, (10, 10))[0]
    assert m[np.arange(10), np.arange(10)].all()


def test_array_valued_arguments_give_one_line_messages():
    with pytest.raises(TypeError, match=r"^shape: expected \(H, W\), got array\(\[\[.*\.\.\.$"):
        p.skeleton_mask(np.zeros((0, 17, 3)), np.zeros((30, 30), "datetime64[s]"))


def test_compactness_beyond_float32_is_refused():
    """slic(compactness=1e300) raised OverflowError from (compactness / S) ** 2."""
    with pytest.raises(ValueError, match=r"^compactness: expected a number <= 1e\+18 \(the spatial term is float32\), got 1e\+300"):
        p.slic(np.zeros((4, 4)), 2, compactness=1e300)
    assert p.slic(np.random.default_rng(0).random((8, 8)), 4, compactness=1e18).max() == 3


def test_choice_arguments_given_an_array():
    """check_choice compared an array with the choices elementwise: numpy's 'truth value of an
    empty array is ambiguous' instead of an error naming the argument."""
    g = p.build_rag(np.array([[0, 1]]), np.ones((1, 2)))
    for bad in (np.zeros((0, 0)), np.array(["sssp", "apsp"]), ["sssp"]):
        with pytest.raises(ValueError, match=r"^solver: expected one of 'sssp', 'apsp', got "):
            p.rag_distance(g, np.ones((1, 2), bool), bad)


def test_edge_maps_beyond_float32_are_refused():
    """build_rag stored the mean of 1e300 edges as float32 inf weights (a 'finite' RAG with
    inf weights, every path then reported as 'no path')."""
    with pytest.raises(ValueError, match=r"edge_map: expected edge strengths <= 3.403e\+38 \(weights are float32\)"):
        p.build_rag(np.array([[0, 1]]), np.array([[1e300, 1e300]]))


def test_rag_distance_refuses_paths_that_overflow_float32():
    g = p.build_rag(np.array([[0, 1, 2]]), np.full((1, 3), 3e38))
    with pytest.raises(ValueError, match=r"rag: expected edge weights whose path sums fit float32"):
        p.rag_distance(g, np.array([[True, False, False]]))


def test_handmade_rag_out_of_range_index_is_refused():
    """numba does no bounds checks: a neighbour id >= K read (and wrote) outside the arrays."""
    bad = RAG(np.array([0, 1, 2]), np.array([5, 0], np.int32), np.ones(2, np.float32), 2)
    for solver in ("sssp", "apsp"):
        with pytest.raises(ValueError, match=r"rag: expected indices in 0..n_nodes-1 = 0..1, got 0 .. 5"):
            p.rag_distance(bad, np.ones((1, 2), bool), solver)


def test_label_values_beyond_int32_node_ids_are_refused():
    with pytest.raises(ValueError, match=r"labels: expected values < 2\*\*31 - 1 \(node ids are int32\)"):
        p.build_rag(np.array([[0, 2**40]]), np.ones((1, 2)))


def test_apsp_memory_limit(monkeypatch):
    import p2i_prior.graph_distance as gd

    g = p.build_rag(np.arange(10)[None], np.ones((1, 10)))
    monkeypatch.setattr(gd, "APSP_MAX_BYTES", 8 * 99)
    with pytest.raises(ValueError, match=r"solver: 'apsp' \(Floyd–Warshall\) needs a \(K, K\) float64 matrix.*K = rag.n_nodes = 10.*use solver='sssp'"):
        p.rag_distance(g, np.ones((1, 10), bool), "apsp")
    monkeypatch.setattr(gd, "APSP_MAX_BYTES", 8 * 100)
    np.testing.assert_array_equal(p.rag_distance(g, np.ones((1, 10), bool), "apsp"), np.zeros((1, 10)))


# ----------------------------------------------------------------------------------------------
# Bugs the fuzz found outside this file's owner's modules, fixed since: regression tests
# ----------------------------------------------------------------------------------------------


def test_cli_unreadable_image(tmp_path, capsys):
    from p2i_prior.cli import main

    (tmp_path / "im.png").write_bytes(b"not an image at all")
    (tmp_path / "kp.json").write_text("[]")
    code = main(["segment", str(tmp_path / "im.png"), "--keypoints", str(tmp_path / "kp.json"),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert capsys.readouterr().err.startswith("p2i segment: error: image: ")


@pytest.mark.parametrize("which", ["image", "keypoints"])
def test_pose_instance_map_ragged_list(which):
    kp = np.zeros((1, 17, 3))
    kp[0, 0] = (1, 1, 2)
    args = {"image": np.zeros((4, 4)), "keypoints": kp}
    args[which] = [[1, 2], [3]]
    try:
        p.pose_instance_map(args["image"], args["keypoints"], method="sweep")
    except (ValueError, TypeError) as exc:
        assert str(exc).startswith(f"{which}: "), str(exc)


@pytest.mark.parametrize("option", ["length_weight", "edge_weight"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_pipeline_weights_overflow(option):
    img = np.random.default_rng(0).random((1, 2, 3))
    kp = np.zeros((1, 17, 3))
    kp[0, 0] = (0.5, 0.5, 2)
    kwargs = {"method": "rag", "labels": np.array([[0, 1]])} if option == "length_weight" else {"method": "geodesic"}
    try:
        m = p.pose_instance_map(img, kp, **kwargs, **{option: 1e300})
    except ValueError as exc:
        assert str(exc).startswith(f"{option}: "), str(exc)
    else:  # a valid map is a fix too
        check_pose_map(m, 1, 2, 1)
