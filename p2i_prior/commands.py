"""``p2i demo`` and ``p2i segment``: the pipeline from the command line.

Sizes on the command line are written ``WxH`` (width x height, e.g. ``640x480``) by every
command (``demo --size``, ``bench --sizes``) and in every message.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from .cli import set_threads
from .defaults import DEFAULT_SCORE, DEFAULT_SEGMENT_METHOD, DEFAULT_THRESHOLD, N_SEGMENTS, SEGMENT_METHODS
from .figures import colour_labels, draw_skeletons, instance_colours, instance_legend

_instance_colours = instance_colours  # the old private names
_draw_skeletons = draw_skeletons

METHOD_CHOICES = SEGMENT_METHODS

SEGMENT_DESCRIPTION = f"""\
Segment the people of IMAGE from their COCO keypoints.

--keypoints takes a COCO json: a full annotations file (the image is found by its file name,
or by --image-id; its width and height must be the photo's), or a list of annotations or
results (entries with 'keypoints'; filtered by --image-id when given).

--score is where the person probability comes from (default {DEFAULT_SCORE}):
  selfie        the selfie person-segmentation model shipped in the package (offline)
  selfie:PATH   another .tflite model of the same layout
  gt            the union of the annotations' person masks (an oracle; needs 'segmentation')
  model:CKPT    a person model trained with p2i train (needs the net extra)
  FILE          a .npy (H x W floats in [0, 1]) or grey .png score of this image
  files:DIR     DIR/<image stem>.npy or .png
  none          every pixel a person: the prior alone decides (only when asked for)

--roi auto (default) keeps each person inside its annotation's bbox when every matched
person has one (that is better: mean IoU 0.500 against 0.457 on the four photos of
tests/data/coco with the selfie score), else uses keypoints alone; the output says which ran.

Writes labels.png (0 background, i = person i in json order), overlay.png (masks, skeletons
and a legend of person numbers) and instances.json (COCO results with RLE masks; empty masks
are left out and warned about). Where the annotations carry masks, the IoU of each person's
mask with its annotation is printed. Exit status 2 with one error line for bad input; warnings
(keypoints outside the image, a nearly empty person score, empty masks) go to stderr."""


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline on a built-in synthetic scene and write a figure",
        description=(
            "Make a synthetic scene of several overlapping people (no data needed), run the\n"
            "keypoint prior (SLIC -> Sobel -> RAG -> graph distances -> pose-instance map ->\n"
            "fusion with a person score) and the oracle-box baseline, print per-instance IoU\n"
            "against the ground truth, the compile time of the first calls and the time of each\n"
            "stage after it, and write demo.png (the best keypoint method of the table)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--seed", type=int, default=7, help="scene seed (default 7)")
    demo.add_argument("--people", type=int, default=5, help="number of people (default 5)")
    demo.add_argument("--size", default="640x480", help="WxH of the scene (default 640x480)")
    demo.add_argument("--segments", type=int, default=N_SEGMENTS, help=f"SLIC superpixels (default {N_SEGMENTS})")
    demo.add_argument("--score", choices=("noisy", "exact"), default="noisy",
                      help="person score: the realistic noisy one (default) or the exact union of masks")
    demo.add_argument("--threads", type=int, default=None, help="numba threads (default: all cores)")
    demo.add_argument("--out", default="p2i_out", help="output folder (default ./p2i_out)")
    demo.set_defaults(func=run_demo)

    seg = sub.add_parser(
        "segment",
        help="segment the people of one image from their keypoints",
        description=SEGMENT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    seg.add_argument("image", help="an image file (jpg, png, ...)")
    seg.add_argument("--keypoints", required=True, help="COCO json with the image's keypoints")
    seg.add_argument("--image-id", type=int, default=None, help="which image's keypoints to use")
    seg.add_argument("--score", default=DEFAULT_SCORE,
                     help=f"person score: selfie | gt | model:CKPT | FILE | files:DIR | none (default {DEFAULT_SCORE})")
    seg.add_argument("--roi", choices=("auto", "box", "none"), default="auto",
                     help="keep each person in its annotation's bbox: auto (default: when every "
                          "person has one), box, none")
    seg.add_argument("--method", choices=METHOD_CHOICES, default=DEFAULT_SEGMENT_METHOD,
                     help=f"who owns a person pixel (default {DEFAULT_SEGMENT_METHOD}: geodesic candidates "
                          "re-decided by the learned image-evidence model; rag/sweep/geodesic: the nearest skeleton)")
    seg.add_argument("--solver", choices=("sssp", "apsp"), default="sssp", help="graph solver for rag")
    seg.add_argument("--segments", type=int, default=N_SEGMENTS, help=f"SLIC superpixels (default {N_SEGMENTS})")
    seg.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                     help=f"person-score threshold (default {DEFAULT_THRESHOLD})")
    seg.add_argument("--components", choices=("on", "off"), default="on",
                     help="a person only takes the connected regions of person pixels its skeleton "
                          "touches (default on)")
    seg.add_argument("--extent", type=float, default=None,
                     help="keep each person within EXTENT x its keypoint scale of its skeleton")
    seg.add_argument("--threads", type=int, default=None, help="numba threads (default: all cores)")
    seg.add_argument("--out", required=True, help="output folder")
    seg.set_defaults(func=run_segment)


# ---------------------------------------------------------------------------------------------
# demo


def _parse_size(text: str) -> tuple[int, int]:
    """``"640x480"`` (WxH) -> ``(H, W)``."""
    try:
        w, h = (int(t) for t in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size: expected WxH such as 640x480, got {text!r}") from None
    if w < 1 or h < 1:
        raise ValueError(f"--size: expected WxH with positive sides such as 640x480, got {text!r}")
    return h, w


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _demo_stages(scene, score, segments: int, timed) -> dict:
    """Every stage of the demo on one scene, each through ``timed(name, f, *args)``."""
    import p2i_prior as p
    from p2i_prior.defaults import DEFAULT_TEMPERATURE
    from p2i_prior.fusion import softmax_instances

    out: dict = {"results": {}, "maps": {}}
    labels_sp = timed("slic", p.slic, scene.image, n_segments=segments)
    edge = timed("sobel", p.sobel, scene.image)
    rag = timed("rag", p.build_rag, labels_sp, edge)
    seeds = timed("skeleton seeds", p.seed_superpixels, labels_sp, scene.keypoints)
    dist = timed("rag distance (sssp)", p.rag_distance, rag, seeds)
    spread = lambda d: softmax_instances(d[:, None, :], DEFAULT_TEMPERATURE["rag"])[0][labels_sp]
    out["maps"]["rag"] = timed("softmax per superpixel, spread to pixels", spread, dist)
    out["results"]["rag"] = timed("fusion + argmax", p.segment_instances, out["maps"]["rag"], score)
    dist_apsp = timed("rag distance (apsp, Floyd-Warshall)", p.rag_distance, rag, seeds, "apsp")
    if not np.array_equal(dist_apsp, dist):
        raise RuntimeError("sssp and apsp disagree: please report this")
    for m in ("sweep", "geodesic"):
        out["maps"][m] = timed(f"{m} map", p.pose_instance_map, scene.image, scene.keypoints, method=m)
        out["results"][m] = timed(f"{m} fusion + argmax", p.segment_instances, out["maps"][m], score)
    out["results"]["box"] = timed("box baseline", p.box_instances, score, scene.boxes)
    out.update(labels_sp=labels_sp, edge=edge, rag=rag)
    return out


def run_demo(args: argparse.Namespace) -> int:
    import p2i_prior as p
    from p2i_prior.synthetic import make_scene

    set_threads(args.threads)
    H, W = _parse_size(args.size)
    scene = make_scene(seed=args.seed, height=H, width=W, n_people=args.people)
    score = scene.score if args.score == "noisy" else scene.score_exact
    n = scene.keypoints.shape[0]

    def timer(times: dict):
        def timed(name, f, *a, **k):
            t = time.perf_counter()
            out = f(*a, **k)
            times[name] = times.get(name, 0.0) + time.perf_counter() - t
            return out
        return timed

    # first calls compile the kernels: run every stage once on a tiny scene, timed apart
    compile_times: dict[str, float] = {}
    warm = make_scene(seed=0, height=48, width=64, n_people=2)
    _demo_stages(warm, warm.score, 20, timer(compile_times))
    times: dict[str, float] = {}
    run = _demo_stages(scene, score, args.segments, timer(times))
    results, rag, labels_sp = run["results"], run["rag"], run["labels_sp"]

    print(f"scene: seed {args.seed}, {W}x{H} (WxH), {n} people, {int(labels_sp.max()) + 1} superpixels, "
          f"{rag.n_edges} RAG edges, person score: {args.score}")
    order = ["box", "rag", "sweep", "geodesic"]
    ious = {m: [_iou(mk, gt) for mk, gt in zip(p.masks_from_labels(results[m], n), scene.masks)] for m in order}
    best = max(("rag", "sweep", "geodesic"), key=lambda m: np.mean(ious[m]))
    print("\nper-instance IoU against ground truth")
    print("| person | " + " | ".join(order) + " |")
    print("|---|" + "---|" * len(order))
    for i in range(n):
        print(f"| {i + 1} | " + " | ".join(f"{ious[m][i]:.3f}" for m in order) + " |")
    print("| mean | " + " | ".join(f"{np.mean(ious[m]):.3f}" for m in order) + " |")
    print(f"best keypoint method: {best} (drawn in the figure)")
    print(f"\ncompile time (first calls, on a 64x48 scene): {1000 * sum(compile_times.values()):.0f} ms")
    print("stage times (ms, compiled, this machine's CPU)")
    for name, t in times.items():
        print(f"  {name:<42s} {1000 * t:8.1f}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "demo.png")
    _demo_figure(path, scene, score, run, ious, best)
    print(f"\nwrote {path}")
    return 0


def _demo_figure(path, scene, score, run, ious, best) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from skimage.segmentation import find_boundaries

    labels_sp, edge, rag, results = run["labels_sp"], run["edge"], run["rag"], run["results"]
    pmap = run["maps"][best]
    n = scene.keypoints.shape[0]
    H, W = labels_sp.shape
    fig, axes = plt.subplots(2, 4, figsize=(20, 8.6))
    ax = axes.ravel()
    ax[0].imshow(scene.image)
    draw_skeletons(ax[0], scene.keypoints)
    ax[0].set_title("image + COCO skeletons (hollow: occluded)")
    ax[1].imshow(edge, cmap="magma")
    ax[1].set_title("Sobel edge strength")
    # RAG over superpixels: boundaries, and edges between centroids coloured by weight
    bnd = find_boundaries(labels_sp, mode="inner")
    base = scene.image.astype(float) / 255 * 0.6
    base[bnd] = 1.0
    ax[2].imshow(base)
    K = rag.n_nodes
    cnt = np.maximum(np.bincount(labels_sp.ravel(), minlength=K), 1)
    rr, cc = np.indices((H, W))
    cy = np.bincount(labels_sp.ravel(), rr.ravel(), minlength=K) / cnt
    cx = np.bincount(labels_sp.ravel(), cc.ravel(), minlength=K) / cnt
    a, b, w = rag.edges()
    segs = np.stack([np.stack([cx[a], cy[a]], 1), np.stack([cx[b], cy[b]], 1)], 1)
    lc = LineCollection(segs, array=w, cmap="plasma", linewidths=1.0)
    ax[2].add_collection(lc)
    fig.colorbar(lc, ax=ax[2], fraction=0.035, label="boundary Sobel mean")
    ax[2].set_title(f"superpixels + RAG ({K} nodes, {rag.n_edges} edges)")
    # pose-instance map: colour of the most likely instance, brightness = its probability
    cols = instance_colours(n)
    top = pmap.argmax(-1)
    ax[3].imshow(cols[top] * pmap.max(-1, keepdims=True))
    draw_skeletons(ax[3], scene.keypoints)
    ax[3].set_title(f"pose-instance map ({best}): argmax colour x probability")
    im = ax[4].imshow(score, cmap="gray", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax[4], fraction=0.035, label="person probability")
    ax[4].set_title("person score")
    gt = np.zeros((H, W), np.int32)
    for i, m in enumerate(scene.masks):
        gt[m] = i + 1
    ax[5].imshow(colour_labels(gt, n, scene.image))
    ax[5].set_title("ground truth")
    ax[6].imshow(colour_labels(results["box"], n, scene.image))
    for i, (x, y, bw, bh) in enumerate(scene.boxes):
        ax[6].add_patch(plt.Rectangle((x, y), bw, bh, fill=False, ec=cols[i], lw=1.5))
    ax[6].set_title(f"oracle-box baseline: mean IoU {np.mean(ious['box']):.3f}")
    ax[7].imshow(colour_labels(results[best], n, scene.image))
    draw_skeletons(ax[7], scene.keypoints, lw=1.0)
    ax[7].set_title(f"keypoint prior ({best}, best here): mean IoU {np.mean(ious[best]):.3f}")
    for x in ax:
        x.set_axis_off()
    instance_legend(fig, n, loc="lower center", ncol=min(n, 10), bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("pose2instance: from keypoints to person instances (cf. Pose2Instance, Fig. 3.1)")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# segment



def run_segment(args: argparse.Namespace) -> int:
    """``p2i segment`` (its body lives in :mod:`p2i_prior.segment_cli`)."""
    from .segment_cli import run_segment as run

    return run(args)
