"""``p2i annotate``: a COCO keypoints dataset in, the same dataset with person masks out.

Every person annotation with labelled keypoints (not a crowd) gets a ``segmentation`` (RLE), its
``area`` and a provenance record (:mod:`p2i_prior.provenance`), made by
:func:`p2i_prior.pipeline.segment_people` (the labels-only path: memory is bounded per worker at
any image size and any number of people) with the keyword arguments ``p2i eval`` uses, so the
annotated file scores exactly as ``p2i eval`` does.  Existing segmentations are kept unless
``overwrite``; everything else passes through unchanged.

How the work runs
-----------------
1. The input is read and checked whole before any work (:func:`plan_dataset`): a corrupt or
   non-COCO file is an error; keypoints outside their image are a warning naming the
   annotation ids; with ``missing="error"`` a missing image file is an error listing them.
2. The images with work are cut into shards of ``shard_size`` images, in the input's image
   order.  ``OUT.parts/manifest.json`` fingerprints the run (input bytes, settings, version).
3. Each shard runs as one task (:func:`annotate_shard`) in this process, in ``workers`` local
   processes (spawned, numba threads per worker = cores / workers), or on a Dask cluster
   (``scheduler``, :mod:`p2i_prior.annotate_cluster`).  The driver writes each finished shard
   atomically (temp file, then ``os.replace``) to ``OUT.parts/shard-NNNNN.json``.
4. When every shard is there, the output is assembled from the shards in shard order and
   written atomically; ``OUT.parts`` is removed.

A rerun with the same input and settings after a kill at any moment skips the finished shards
and writes the same bytes as an uninterrupted run, whatever the workers or the scheduler.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["annotate", "annotate_shard", "plan_dataset", "register"]

#: Images per shard (a shard is the unit of work, of resumption and of progress).
DEFAULT_SHARD_SIZE = 16
MANIFEST = "manifest.json"
#: Bump when the shard layout changes: shards of another layout are not reused.
SHARD_FORMAT = 1


# --------------------------------------------------------------------------------------------
# the plan: read and check everything before any work
# --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What a run will do, from the input alone (deterministic: the same input, the same plan)."""

    data: dict  # the parsed input
    tasks: list[dict]  # one per image with work, in the input's image order
    roi: str  # "box" or "none" (auto resolved)
    counts: dict = field(default_factory=dict)
    outside: list = field(default_factory=list)  # annotation ids with keypoints outside their image

    def shards(self, size: int) -> list[list[dict]]:
        return [self.tasks[i:i + size] for i in range(0, len(self.tasks), size)]


def _segmentation(a: dict) -> Any:
    """The annotation's segmentation with polygons of under 3 points dropped (pycocotools would
    read a 4-number polygon as a box), or None when nothing is left; as ``load_persons`` reads it."""
    seg = a.get("segmentation")
    if isinstance(seg, dict):
        return seg
    if isinstance(seg, list):
        polygons = [p for p in seg if isinstance(p, list) and len(p) >= 6]
        return polygons or None
    return None


def _has_segmentation(a: dict) -> bool:
    return _segmentation(a) is not None


def _keypoints(a: dict, where: str) -> np.ndarray:
    """(17, 3) keypoints of an annotation, or an error naming it."""
    try:
        kp = np.asarray(a["keypoints"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: annotation {a.get('id')}: expected 51 numbers in 'keypoints', got "
                         f"{str(a['keypoints'])[:60]}") from None
    if kp.size != 51:
        raise ValueError(f"{where}: annotation {a.get('id')}: expected 51 keypoint values (17 x, y, v), got {kp.size}")
    return kp.reshape(17, 3)


def _image_entry(im: Any, k: int, where: str) -> dict:
    if not isinstance(im, dict) or not {"id", "file_name", "height", "width"} <= set(im):
        raise ValueError(f"{where}: images[{k}]: expected a dict with 'id', 'file_name', 'height', 'width', "
                         f"got {sorted(im) if isinstance(im, dict) else type(im).__name__}")
    if not (isinstance(im["height"], int) and isinstance(im["width"], int) and im["height"] > 0 and im["width"] > 0):
        raise ValueError(f"{where}: image {im['id']}: expected positive integer height and width, "
                         f"got {im['height']!r} x {im['width']!r}")
    return im


def plan_dataset(data: Any, where: str, *, overwrite: bool = False, roi: str = "auto") -> Plan:
    """Check a COCO keypoints dataset and list the people each image needs masks for.

    Parameters
    ----------
    data : dict
        The parsed json.
    where : str
        Its name in error messages.
    overwrite : bool
        Regenerate people that already have a segmentation.
    roi : {"auto", "box", "none"}
        ``auto``: ``box`` when every person to segment has a bbox.

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        Not a COCO dataset; no ``person`` category; an image entry without id/file name/size;
        duplicate ids; an annotation of an unknown image; keypoints that are not 17 triples;
        ``roi="box"`` with a person without a bbox.

    Examples
    --------
    >>> plan = plan_dataset(json.load(open("annotations.json")), "annotations.json")  # doctest: +SKIP
    >>> plan.counts["to_do"]  # doctest: +SKIP
    267
    """
    from .coco import _check_dataset

    _check_dataset(data, where)
    cats = [c.get("id") for c in data["categories"] if isinstance(c, dict) and c.get("name") == "person"]
    if not cats:
        raise ValueError(f"annotations: expected a 'person' category in {where}, got "
                         f"{[c.get('name') for c in data['categories'] if isinstance(c, dict)][:10]}")
    images = {}
    for k, im in enumerate(data["images"]):
        im = _image_entry(im, k, where)
        if im["id"] in images:
            raise ValueError(f"{where}: image id {im['id']} appears twice in 'images'")
        images[im["id"]] = im
    counts = dict(images=len(images), person_annotations=0, to_do=0, kept=0, no_keypoints=0, crowd=0)
    people: dict[Any, list] = {}
    others: dict[Any, list] = {}
    seen: set = set()
    for k, a in enumerate(data["annotations"]):
        if not isinstance(a, dict):
            raise ValueError(f"{where}: annotations[{k}]: expected a dict, got {type(a).__name__}")
        if a.get("category_id") != cats[0]:
            continue
        if "id" not in a or a["id"] in seen:
            raise ValueError(f"{where}: annotations[{k}]: expected a unique 'id', got {a.get('id')!r}")
        seen.add(a["id"])
        if a.get("image_id") not in images:
            raise ValueError(f"{where}: annotation {a['id']}: image_id {a.get('image_id')!r} is not in 'images'")
        counts["person_annotations"] += 1
        labelled = bool(a.get("keypoints")) and bool((_keypoints(a, where)[:, 2] > 0).any())
        if a.get("iscrowd", 0):
            counts["crowd"] += 1
        elif not labelled:
            counts["no_keypoints"] += 1
        elif _has_segmentation(a) and not overwrite:
            counts["kept"] += 1
        else:
            people.setdefault(a["image_id"], []).append(a)
            continue
        if _has_segmentation(a):
            others.setdefault(a["image_id"], []).append(_segmentation(a))
    todo = [a for anns in people.values() for a in anns]
    counts["to_do"] = len(todo)
    no_box = [a["id"] for a in todo if not (isinstance(a.get("bbox"), list) and len(a["bbox"]) == 4)]
    if roi == "box" and no_box:
        from .segment_cli import _ids_text

        raise ValueError(f"--roi box: expected a 'bbox' for every person to segment, got none for annotations "
                         f"{_ids_text(no_box)}")
    roi = "box" if roi == "box" or (roi == "auto" and not no_box) else "none"
    tasks, outside = [], []
    for im in data["images"]:
        anns = people.get(im["id"])
        if not anns:
            continue
        kps = [_keypoints(a, where) for a in anns]
        for a, kp in zip(anns, kps):
            lab = kp[:, 2] > 0
            if (lab & ((kp[:, 0] < 0) | (kp[:, 0] >= im["width"]) | (kp[:, 1] < 0) | (kp[:, 1] >= im["height"]))).any():
                outside.append(a["id"])
        tasks.append({
            "id": im["id"], "file_name": im["file_name"], "height": im["height"], "width": im["width"],
            "ann_ids": [a["id"] for a in anns],
            "keypoints": [kp.ravel().tolist() for kp in kps],
            "boxes": [list(map(float, a["bbox"])) for a in anns] if roi == "box" else None,
            "segmentations": [_segmentation(a) for a in anns if _has_segmentation(a)],
            "other_segmentations": others.get(im["id"], []),
        })
    return Plan(data=data, tasks=tasks, roi=roi, counts=counts, outside=outside)


# --------------------------------------------------------------------------------------------
# one shard (runs in any process: this one, a local worker, a Dask worker)
# --------------------------------------------------------------------------------------------

_SOURCES: dict[str, Any] = {}  # score sources of this process, made once (a model loads once)


def _record(task: dict, images_dir: str) -> Any:
    from .coco import PersonImage

    n = len(task["ann_ids"])
    return PersonImage(
        id=task["id"], file_name=task["file_name"], path=os.path.join(images_dir, task["file_name"]),
        height=task["height"], width=task["width"],
        keypoints=np.asarray(task["keypoints"], dtype=np.float64).reshape(n, 17, 3),
        boxes=np.asarray(task["boxes"], dtype=np.float64) if task["boxes"] is not None else np.zeros((n, 4)),
        ann_ids=np.asarray(task["ann_ids"]), segmentations=task["segmentations"],
        other_segmentations=task["other_segmentations"],
    )


def _image_problem(out: dict, status: str, exc: Exception, config: dict) -> dict:
    if config["missing"] == "error":
        raise type(exc)(f"{exc} (--missing skip skips such images)") from None
    return dict(out, status=status, reason=str(exc))


def _predicted_quality(labels: np.ndarray, keypoints: np.ndarray, score: np.ndarray, threshold: float) -> Any:
    """(n,) predicted IoU of each mask (``p2i eval --rank quality``), or None when this install has
    no quality model."""
    try:
        from .quality import predict_quality
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.quality":
            raise
        return None
    return np.asarray(predict_quality(labels, keypoints, score, threshold=threshold), dtype=np.float64)


def _quality_model_id() -> str | None:
    """sha256 of the installed quality model (None without one): part of a run's fingerprint."""
    try:
        from .quality import MODEL_PATH
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.quality":
            raise
        return None
    return _sha256(MODEL_PATH) if os.path.isfile(MODEL_PATH) else None


def _annotate_image(task: dict, config: dict) -> dict:
    from .evaluate import _people_kwargs  # the keyword arguments p2i eval uses: the same masks
    from .masks import masks_to_rle
    from .pipeline import segment_people
    from .scores import MissingScoreError, make_score_source
    from .segment_cli import score_warning

    t0 = time.perf_counter()
    record = _record(task, config["images_dir"])
    out: dict[str, Any] = {"id": task["id"], "status": "done"}
    try:
        image = record.load_image()
    except FileNotFoundError as exc:
        return _image_problem(out, "missing", exc, config)
    except (OSError, ValueError) as exc:  # not an image, truncated, or not the annotated size
        return _image_problem(out, "unreadable", ValueError(f"image {task['id']}: {exc}"), config)
    spec = config["score"]
    if spec not in _SOURCES:
        _SOURCES[spec] = make_score_source(spec)
    try:
        score = np.asarray(_SOURCES[spec](record, image), dtype=np.float32)
    except MissingScoreError as exc:
        return _image_problem(out, "missing", exc, config)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            labels = np.asarray(segment_people(image, record.keypoints, score,
                                               **_people_kwargs(config, record, config["method"])))
    except (ValueError, TypeError) as exc:
        return dict(out, status="failed", reason=f"image {task['id']}: {exc}")
    notes = [str(w.message) for w in caught]
    quality = _predicted_quality(labels, record.keypoints, score, config["threshold"])
    if score_warning(score, config["threshold"]):
        notes.append("nearly empty person score")
    flat, flat_score = labels.ravel(), score.ravel()
    people = []
    for k, ann in enumerate(task["ann_ids"]):
        mask = flat == k + 1
        area = np.int64(mask.sum())
        if area == 0:
            people.append({"id": ann, "area": 0})
            continue
        # the ranking score p2i eval gives this mask (evaluate.predict_image, rank "score"),
        # computed the same way to the last bit: a float32 sum over the image, / int64 area
        mask_score = float((mask * flat_score).sum() / area)
        rle = masks_to_rle(mask.reshape(1, record.height, record.width))[0]
        people.append({"id": ann, "segmentation": rle, "area": int(area), "mask_score": mask_score})
        if quality is not None:
            people[-1]["quality"] = float(quality[k])
    out["people"] = people
    if notes:
        out["notes"] = notes
    out["seconds"] = round(time.perf_counter() - t0, 4)  # shards only: the output has no timings
    return out


def annotate_shard(tasks: list[dict], config: dict) -> dict:
    """Masks for the people of one shard of images.

    Parameters
    ----------
    tasks : list of dict
        Image tasks of :func:`plan_dataset` (plain data: picklable, small).
    config : dict
        ``method``, ``score``, ``roi``, ``threshold``, ``missing``, ``images_dir``,
        ``numba_threads`` and the pipeline options of ``p2i eval`` (:func:`_shard_config`).

    Returns
    -------
    dict
        ``{"format", "images": [{"id", "status", "people": [{"id", "segmentation", "area",
        "mask_score"}], "notes"}]}``; a missing or unreadable image has ``status`` "missing" or
        "unreadable" and a ``reason`` (with ``missing="error"`` it raises instead).

    Examples
    --------
    >>> shard = annotate_shard(plan.tasks[:4], config)  # doctest: +SKIP
    """
    used = None
    if config.get("numba_threads"):
        import numba

        used = min(int(config["numba_threads"]), int(numba.config.NUMBA_NUM_THREADS))
        numba.set_num_threads(used)
    shard = {"format": SHARD_FORMAT, "images": [_annotate_image(t, config) for t in tasks]}
    if used is not None:
        shard["numba_threads"] = used  # what the worker could give (the caller warns if less)
    return shard


def _init_worker(threads: int) -> None:
    """Local worker initialiser: numba's threads before numba starts its pool."""
    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    import numba

    numba.set_num_threads(min(threads, int(numba.config.NUMBA_NUM_THREADS)))


# --------------------------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------------------------


def _write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that a kill leaves the old file or the new one, never half."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _shard_path(parts: str, k: int) -> str:
    return os.path.join(parts, f"shard-{k:05d}.json")


def _shard_config(settings: dict, images_dir: str, numba_threads: int | None) -> dict:
    from .defaults import COMPACTNESS, N_SEGMENTS

    return dict(settings, images_dir=images_dir, numba_threads=numba_threads, solver="sssp",
                n_segments=N_SEGMENTS, compactness=COMPACTNESS, components=True, options={})


def _prepare_parts(parts: str, manifest: dict, out: str, force: bool) -> None:
    """Create ``OUT.parts`` for this run, or reuse it when it holds this run's shards."""
    path = os.path.join(parts, MANIFEST)
    old = None
    if os.path.isdir(parts):
        try:
            with open(path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        has_shards = any(n.startswith("shard-") and n.endswith(".json") for n in os.listdir(parts))
        if old != manifest and (old is not None or has_shards):
            if not force:
                what = ", ".join(k for k in manifest if old is None or old.get(k) != manifest.get(k))
                raise ValueError(f"--out: {parts} holds the shards of another run (differs in: {what}); "
                                 "pass --force to discard them")
            shutil.rmtree(parts)
            old = None
    if old != manifest and os.path.exists(out) and not force:
        raise ValueError(f"--out: {out} exists; pass --force to overwrite it")
    os.makedirs(parts, exist_ok=True)
    for name in os.listdir(parts):
        if ".tmp-" in name:  # left by a killed run
            os.remove(os.path.join(parts, name))
    if old != manifest:
        _write_atomic(path, json.dumps(manifest, sort_keys=True, indent=1))


def _remove_parts(parts: str) -> None:
    shutil.rmtree(parts, ignore_errors=True)


def _run_local(todo: list, shards: list, config: dict, workers: int, threads: int,
               done: Callable[[int, dict], None]) -> None:
    if workers == 1 or len(todo) == 1:
        for k in todo:
            done(k, annotate_shard(shards[k], config))
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    # spawn: no fork of a process that may hold numba or interpreter threads
    with ProcessPoolExecutor(min(workers, len(todo)), mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(annotate_shard, shards[k], config): k for k in todo}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for fut in sorted(finished, key=futures.get):
                if fut.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise fut.exception()
                done(futures[fut], fut.result())


def _assemble(plan: Plan, parts: str, n_shards: int, settings: dict) -> tuple[str, dict]:
    """The output json text from the input and the shards, and the per-image outcome."""
    from .provenance import PROVENANCE_KEY, mask_provenance

    generated: dict = {}
    outcome = dict(images_done=0, skipped_images=[], failed_images=[], empty=[], notes=[], skipped_people=0,
                   failed_people=0)
    people_of = {t["id"]: len(t["ann_ids"]) for t in plan.tasks}
    for k in range(n_shards):
        with open(_shard_path(parts, k), encoding="utf-8") as f:
            shard = json.load(f)
        for im in shard["images"]:
            if im["status"] in ("missing", "unreadable"):
                outcome["skipped_images"].append((im["id"], im["reason"]))
                outcome["skipped_people"] += people_of[im["id"]]
                continue
            if im["status"] == "failed":
                outcome["failed_images"].append((im["id"], im["reason"]))
                outcome["failed_people"] += people_of[im["id"]]
                continue
            outcome["images_done"] += 1
            outcome["notes"] += [(im["id"], n) for n in im.get("notes", [])]
            for p in im["people"]:
                if p["area"]:
                    generated[p["id"]] = p
                else:
                    outcome["empty"].append(p["id"])
    data = plan.data
    for a in data["annotations"]:
        p = generated.get(a.get("id")) if isinstance(a, dict) else None
        if p is None:
            continue
        a["segmentation"] = p["segmentation"]
        a["area"] = p["area"]
        a[PROVENANCE_KEY] = mask_provenance(settings["method"], settings["score"], settings["roi"],
                                            settings["threshold"], p["mask_score"], p.get("quality"))
    outcome["generated"] = len(generated)
    outcome["failed_people"] += len(outcome["empty"])
    return json.dumps(data, separators=(",", ":")) + "\n", outcome


def annotate(
    annotations: str | os.PathLike,
    out: str | os.PathLike,
    *,
    images_dir: str | os.PathLike | None = None,
    score: str = "selfie",
    method: str = "rag",
    roi: str = "auto",
    threshold: float = 0.5,
    workers: int = 1,
    threads: int | None = None,
    scheduler: str | None = None,
    missing: str = "error",
    overwrite: bool = False,
    force: bool = False,
    shard_size: int = DEFAULT_SHARD_SIZE,
    progress: bool = True,
    warn: Callable[[str], None] | None = None,
) -> dict:
    """Write ``out``: the COCO dataset ``annotations`` with masks for the people with keypoints.

    Parameters
    ----------
    annotations : str or path
        A COCO keypoints json; never modified.
    out : str or path
        The output json; ``OUT.parts/`` holds the shards while the run lasts.
    images_dir : str or path, optional
        The photos (default ``images/`` beside ``annotations``); on a cluster, a path every
        worker can see.
    score : str
        Person-score source (:mod:`p2i_prior.scores`): ``gt``, ``selfie``, ``model:CKPT``,
        ``files:DIR``, ``none``.
    method : {"rag", "sweep", "geodesic"}
    roi : {"auto", "box", "none"}
        Keep each person inside its bbox (``auto``: when every person to segment has one).
    threshold : float
        Person-score threshold.
    workers : int
        Local worker processes (1: this process).
    threads : int, optional
        Numba threads per worker (default: cores / workers locally, 1 on a cluster).
    scheduler : str, optional
        Address of a Dask distributed scheduler to run the shards on (``workers`` unused).
    missing : {"error", "skip"}
        A missing or unreadable image: stop (listed), or skip its people (listed, counted).
    overwrite : bool
        Replace existing segmentations of people with keypoints (default: keep them).
    force : bool
        Overwrite an existing ``out``, and discard the shards of another run in ``OUT.parts``.
    shard_size : int
        Images per shard.
    progress : bool
        A tqdm bar on stderr (images/s, ETA).
    warn : callable, optional
        Receives each warning line (default: printed to stderr).

    Returns
    -------
    dict
        The summary: ``counts`` (people generated, kept, skipped, failed, ...), lists of skipped
        and failed images and empty masks, ``shards``, ``resumed_shards``, ``seconds``,
        ``images_per_second``, ``settings``.

    Examples
    --------
    >>> annotate("kp.json", "kp_masks.json", images_dir="images", score="selfie")  # doctest: +SKIP
    """
    from . import __version__
    from .checks import check_choice, check_positive_float, check_positive_int, read_json
    from .defaults import SEGMENT_METHODS
    from .segment_cli import _ids_text

    warn = warn or (lambda text: print(f"p2i annotate: warning: {text}", file=sys.stderr))
    check_choice(method, "--method", SEGMENT_METHODS)
    check_choice(roi, "--roi", ("auto", "box", "none"))
    check_choice(missing, "--missing", ("error", "skip"))
    check_positive_float(threshold, "--threshold", allow_zero=True)
    workers = check_positive_int(workers, "--workers")
    shard_size = check_positive_int(shard_size, "--shard-size")
    if threads is not None:
        threads = check_positive_int(threads, "--threads")
    src, out = os.fspath(annotations), os.fspath(out)
    if os.path.exists(out) and os.path.exists(src) and os.path.samefile(src, out):
        raise ValueError(f"--out: {out} is the input; the input is never modified in place (choose another --out)")
    data = read_json(src, "ANNOTATIONS", "a COCO keypoints json")
    plan = plan_dataset(data, src, overwrite=overwrite, roi=roi)
    if images_dir is None:
        images_dir = os.path.join(os.path.dirname(os.path.abspath(src)), "images")
    images_dir = os.path.abspath(os.fspath(images_dir))
    if plan.tasks and not os.path.isdir(images_dir):
        raise FileNotFoundError(f"--images: folder not found: {images_dir}")
    from .scores import make_score_source

    make_score_source(score)  # a bad --score fails here, before any work
    absent = [t for t in plan.tasks if not os.path.isfile(os.path.join(images_dir, t["file_name"]))]
    if absent:
        listed = ", ".join(f"{t['file_name']} (image {t['id']})" for t in absent[:10])
        more = f" and {len(absent) - 10} more" if len(absent) > 10 else ""
        text = f"{len(absent)} images not found in {images_dir}: {listed}{more}"
        if missing == "error":
            raise FileNotFoundError(f"--missing error: {text}; pass --missing skip to skip their people")
        warn(f"{text}; their people are skipped")
    if plan.outside:
        warn(f"labelled keypoints outside the image for {len(plan.outside)} annotations: ids "
             f"{_ids_text(plan.outside)} (wrong image or keypoints?)")

    settings = dict(method=method, score=score, roi=plan.roi, threshold=float(threshold), missing=missing)
    shards = plan.shards(shard_size)
    parts = out + ".parts"
    manifest = dict(format=SHARD_FORMAT, version=__version__, input_sha256=_sha256(src), overwrite=bool(overwrite),
                    shard_size=shard_size, shards=len(shards), images=len(plan.tasks), quality_model=_quality_model_id(),
                    **settings)
    _prepare_parts(parts, manifest, out, force)
    todo = [k for k in range(len(shards)) if not os.path.isfile(_shard_path(parts, k))]
    resumed = len(shards) - len(todo)

    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    initial = sum(len(shards[k]) for k in set(range(len(shards))) - set(todo))
    bar = tqdm(total=len(plan.tasks), initial=initial, desc="p2i annotate", unit="img", file=sys.stderr,
               disable=not progress, smoothing=0.1)

    compute = [0.0]

    capped: set = set()

    def done(k: int, shard: dict) -> None:
        used = shard.get("numba_threads")
        if threads is not None and used is not None and used < threads and used not in capped:
            capped.add(used)
            warn(f"--threads: asked for {threads} numba threads per worker, a worker has {used} "
                 f"(its NUMBA_NUM_THREADS); it ran with {used}")
        _write_atomic(_shard_path(parts, k), json.dumps(shard, separators=(",", ":")))
        compute[0] += sum(im.get("seconds", 0.0) for im in shard["images"])
        bar.update(len(shards[k]))

    try:
        if todo and scheduler is not None:
            from .annotate_cluster import run_on_cluster

            run_on_cluster(scheduler, annotate_shard, {k: shards[k] for k in todo},
                           _shard_config(settings, images_dir, threads or 1), done)
        elif todo:
            per_worker = threads or max(1, (os.cpu_count() or 1) // workers)
            _run_local(todo, shards, _shard_config(settings, images_dir, per_worker), workers, per_worker, done)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0

    text, outcome = _assemble(plan, parts, len(shards), settings)
    _write_atomic(out, text)
    _remove_parts(parts)

    c = plan.counts
    counts = dict(people_with_keypoints=c["to_do"] + c["kept"], generated=outcome["generated"], kept=c["kept"],
                  skipped=outcome["skipped_people"], failed=outcome["failed_people"],
                  no_keypoints=c["no_keypoints"], crowd=c["crowd"], images=c["images"],
                  images_with_work=len(plan.tasks), images_done=outcome["images_done"])
    computed = sum(len(shards[k]) for k in todo)
    return dict(counts=counts, skipped_images=outcome["skipped_images"], failed_images=outcome["failed_images"],
                empty=outcome["empty"], notes=outcome["notes"], outside=plan.outside, shards=len(shards),
                resumed_shards=resumed, seconds=seconds, images_computed=computed,
                compute_seconds_per_image=compute[0] / computed if computed else None,
                images_per_second=computed / seconds if computed and seconds > 0 else None,
                settings=dict(settings, workers=workers, scheduler=scheduler, shard_size=shard_size), out=out)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _print_summary(s: dict, warn: Callable[[str], None]) -> None:
    from .segment_cli import _ids_text

    c, st = s["counts"], s["settings"]
    where = f"scheduler {st['scheduler']}" if st["scheduler"] else f"{st['workers']} worker(s)"
    print(f"settings: method {st['method']}, score {st['score']}, roi {st['roi']}, threshold {st['threshold']:g}; "
          f"{s['shards']} shards of up to {st['shard_size']} images ({s['resumed_shards']} finished before, "
          f"skipped); {where}")
    rate = f"{s['images_per_second']:.2f} images/s" if s["images_per_second"] else "nothing left to compute"
    per = f"; {s['compute_seconds_per_image']:.3f} s per image in the workers" if s["images_computed"] else ""
    print(f"{c['images_with_work']} of {c['images']} images had people to segment; {s['images_computed']} "
          f"computed in {s['seconds']:.1f} s ({rate}{per})")
    print(f"people with keypoints: {c['people_with_keypoints']}: {c['generated']} masks generated, {c['kept']} kept "
          f"(existing segmentation), {c['skipped']} skipped, {c['failed']} failed; passed through unchanged: "
          f"{c['no_keypoints']} without keypoints, {c['crowd']} crowd regions")
    print(f"wrote {s['out']}", flush=True)
    for image_id, reason in s["skipped_images"][:10]:
        warn(f"skipped image {image_id}: {reason}")
    if len(s["skipped_images"]) > 10:
        warn(f"... and {len(s['skipped_images']) - 10} more skipped images")
    for image_id, reason in s["failed_images"][:10]:
        warn(f"failed image {image_id}: {reason}")
    if s["empty"]:
        warn(f"empty masks (no person pixel assigned; no segmentation written): annotations {_ids_text(s['empty'])}")
    empty_score = sorted({i for i, n in s["notes"] if n == "nearly empty person score"})
    if empty_score:
        warn(f"person score nearly empty (under 0.1% of the pixels reach the threshold) in images {_ids_text(empty_score)}")
    other = [(i, n) for i, n in s["notes"] if n != "nearly empty person score"]
    for image_id, note in other[:5]:
        warn(f"image {image_id}: {note}")


def _cmd_annotate(args: argparse.Namespace) -> int:
    warn = lambda text: print(f"p2i annotate: warning: {text}", file=sys.stderr)  # noqa: E731
    summary = annotate(
        args.annotations, args.out, images_dir=args.images, score=args.score, method=args.method, roi=args.roi,
        threshold=args.threshold, workers=args.workers, threads=args.threads, scheduler=args.scheduler,
        missing=args.missing, overwrite=args.overwrite, force=args.force, shard_size=args.shard_size,
        progress=not args.quiet, warn=warn,
    )
    _print_summary(summary, warn)
    return 0


ANNOTATE_DESCRIPTION = """\
Turn a COCO keypoints dataset into a masks dataset: every person annotation with labelled
keypoints (not a crowd) gets a 'segmentation' (RLE), its 'area' and a 'p2i_mask' field with
its provenance (method, score source, version, mask score). Existing segmentations are kept
unless --overwrite; other annotations pass through unchanged. The input is never modified.

Work runs in shards of images; each finished shard is written atomically under OUT.parts/.
A rerun after an interruption (even a kill) skips the finished shards and writes the same
bytes as an uninterrupted run. --workers N runs N local processes; --scheduler ADDRESS runs
the shards on a Dask distributed cluster (pip install 'pose2instance[cluster]'; the images
must be at a path every worker can see).

Score the result against real masks with: p2i eval --coco REFERENCE.json --results OUT.json"""


def register(subparsers: Any) -> None:
    """Add the ``annotate`` subcommand (cheap: heavy imports happen when it runs)."""
    from .defaults import DEFAULT_METHOD, DEFAULT_THRESHOLD, SEGMENT_METHODS

    p = subparsers.add_parser("annotate", help="add person masks to a COCO keypoints dataset (resumable, "
                              "local workers or a Dask cluster)", description=ANNOTATE_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("annotations", metavar="ANNOTATIONS.json", help="COCO json with person keypoints")
    p.add_argument("--images", default=None, metavar="DIR", help="image folder (default: images/ beside the json)")
    p.add_argument("--out", required=True, metavar="OUT.json", help="the annotated json (shards go to OUT.json.parts/)")
    p.add_argument("--score", default="selfie",
                   help="person score: selfie (default, shipped) | gt | model:CKPT | files:DIR | none")
    p.add_argument("--method", choices=SEGMENT_METHODS, default=DEFAULT_METHOD,
                   help=f"who owns a person pixel (default {DEFAULT_METHOD}, for throughput: 20x faster than "
                        "affinity, the most accurate and p2i segment's default)")
    p.add_argument("--roi", choices=("auto", "box", "none"), default="auto",
                   help="keep each person in its bbox: auto (default: when every person to segment has one), box, none")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"person-score threshold (default {DEFAULT_THRESHOLD})")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="numba threads per worker (default: cores / workers; 1 per task on a cluster)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the shards on this Dask distributed scheduler (tcp://host:8786)")
    p.add_argument("--missing", choices=("error", "skip"), default="error",
                   help="a missing or unreadable image: stop (default) or skip its people, listed")
    p.add_argument("--overwrite", action="store_true", help="regenerate existing segmentations too")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE,
                   help=f"images per shard (default {DEFAULT_SHARD_SIZE})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_annotate)
