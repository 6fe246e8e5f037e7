"""``p2i demo`` and ``p2i segment``: the pipeline from the command line."""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

METHOD_CHOICES = ("rag", "sweep", "geodesic")


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline on a built-in synthetic scene and write a figure",
        description=(
            "Make a synthetic scene of several overlapping people (no data needed), run the\n"
            "keypoint prior (SLIC -> Sobel -> RAG -> graph distances -> pose-instance map ->\n"
            "fusion with a person score) and the oracle-box baseline, print per-instance IoU\n"
            "against the ground truth and the time of each stage, and write demo.png."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--seed", type=int, default=7, help="scene seed (default 7)")
    demo.add_argument("--people", type=int, default=5, help="number of people (default 5)")
    demo.add_argument("--size", default="480x640", help="HxW of the scene (default 480x640)")
    demo.add_argument("--segments", type=int, default=1000, help="SLIC superpixels (default 1000)")
    demo.add_argument("--score", choices=("noisy", "exact"), default="noisy",
                      help="person score: the realistic noisy one (default) or the exact union of masks")
    demo.add_argument("--out", default="p2i_out", help="output folder (default ./p2i_out)")
    demo.set_defaults(func=run_demo)

    seg = sub.add_parser(
        "segment",
        help="segment the people of one image from their keypoints",
        description=(
            "Segment the people of IMAGE from COCO keypoints.\n\n"
            "--keypoints takes a COCO json: a full annotations file (the image is found by its\n"
            "file name, or by --image-id), or a list of annotations/results (entries with\n"
            "'keypoints'; filtered by --image-id when given). --score takes a person probability\n"
            "map as .npy (H, W floats in [0, 1]) or an image (grey levels / 255); without it\n"
            "every pixel counts as a person. Writes labels.png (0 background, i = person i in\n"
            "json order), overlay.png and instances.json (COCO results with RLE masks)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    seg.add_argument("image", help="an image file (jpg, png, ...)")
    seg.add_argument("--keypoints", required=True, help="COCO json with the image's keypoints")
    seg.add_argument("--image-id", type=int, default=None, help="which image's keypoints to use")
    seg.add_argument("--score", default=None, help="person score (.npy or image); default: all ones")
    seg.add_argument("--method", choices=METHOD_CHOICES, default="rag", help="distance method (default rag)")
    seg.add_argument("--solver", choices=("sssp", "apsp"), default="sssp", help="graph solver for rag")
    seg.add_argument("--segments", type=int, default=1000, help="SLIC superpixels (default 1000)")
    seg.add_argument("--threshold", type=float, default=0.5, help="person-score threshold (default 0.5)")
    seg.add_argument("--extent", type=float, default=None,
                     help="keep each person within EXTENT x its keypoint scale of its skeleton")
    seg.add_argument("--out", required=True, help="output folder")
    seg.set_defaults(func=run_segment)


# ---------------------------------------------------------------------------------------------
# demo


def _parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(t) for t in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size: expected HxW such as 480x640, got {text!r}") from None
    return h, w


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def run_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    import p2i_prior as p
    from p2i_prior.pipeline import DEFAULT_TEMPERATURE, softmax_instances
    from p2i_prior.synthetic import make_scene

    H, W = _parse_size(args.size)
    scene = make_scene(seed=args.seed, height=H, width=W, n_people=args.people)
    score = scene.score if args.score == "noisy" else scene.score_exact
    n = scene.keypoints.shape[0]
    times: dict[str, float] = {}

    def timed(name, f, *a, **k):
        t = time.perf_counter()
        out = f(*a, **k)
        times[name] = times.get(name, 0.0) + time.perf_counter() - t
        return out

    # warm the compiled kernels once so the printed stage times are steady-state
    warm = make_scene(seed=0, height=48, width=64, n_people=2)
    for m in METHOD_CHOICES:
        p.pose_instance_map(warm.image, warm.keypoints, method=m, n_segments=20)

    results: dict[str, np.ndarray] = {}
    bar = tqdm(total=4, desc="p2i demo", unit="method", leave=False)
    # the paper's method, stage by stage
    labels_sp = timed("slic", p.slic, scene.image, n_segments=args.segments)
    edge = timed("sobel", p.sobel, scene.image)
    rag = timed("rag", p.build_rag, labels_sp, edge)
    seeds = timed("skeleton seeds", p.seed_superpixels, labels_sp, scene.keypoints)
    dist = timed("rag distance (sssp)", p.rag_distance, rag, seeds)
    spread = lambda d: softmax_instances(d[:, None, :], DEFAULT_TEMPERATURE["rag"])[0][labels_sp]
    pmap = timed("softmax per superpixel, spread to pixels", spread, dist)
    results["rag"] = timed("fusion + argmax", p.segment_instances, pmap, score)
    bar.update()
    dist_apsp = timed("rag distance (apsp, Floyd-Warshall)", p.rag_distance, rag, seeds, "apsp")
    if not np.array_equal(dist_apsp, dist):
        raise RuntimeError("sssp and apsp disagree: please report this")
    for m in ("sweep", "geodesic"):
        pm = timed(f"{m} map", p.pose_instance_map, scene.image, scene.keypoints, method=m)
        results[m] = p.segment_instances(pm, score)
        bar.update()
    results["box"] = timed("box baseline", p.box_instances, score, scene.boxes)
    bar.update()
    bar.close()

    print(f"scene: seed {args.seed}, {H}x{W}, {n} people, {int(labels_sp.max()) + 1} superpixels, "
          f"{rag.n_edges} RAG edges, person score: {args.score}")
    order = ["box", "rag", "sweep", "geodesic"]
    ious = {m: [_iou(mk, gt) for mk, gt in zip(p.masks_from_labels(results[m], n), scene.masks)] for m in order}
    print("\nper-instance IoU against ground truth")
    print("| person | " + " | ".join(order) + " |")
    print("|---|" + "---|" * len(order))
    for i in range(n):
        print(f"| {i + 1} | " + " | ".join(f"{ious[m][i]:.3f}" for m in order) + " |")
    print("| mean | " + " | ".join(f"{np.mean(ious[m]):.3f}" for m in order) + " |")
    print("\nstage times (ms, after warm-up, this machine's CPU)")
    for name, t in times.items():
        print(f"  {name:<42s} {1000 * t:8.1f}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "demo.png")
    _demo_figure(path, scene, score, labels_sp, edge, rag, pmap, results, ious)
    print(f"\nwrote {path}")
    return 0


def _instance_colours(n: int) -> np.ndarray:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return np.array([cmap(i % cmap.N)[:3] for i in range(n)])


def colour_labels(labels: np.ndarray, n: int, image: np.ndarray | None = None, alpha: float = 0.6) -> np.ndarray:
    """(H, W, 3) float RGB: instance colours over an optional dimmed image; background grey/dim."""
    cols = np.vstack([[0.0, 0.0, 0.0], _instance_colours(max(n, 1))])
    rgb = cols[labels]
    if image is None:
        return np.where(labels[..., None] > 0, rgb, 0.85)
    base = image.astype(np.float64) / 255.0
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=-1)
    return np.where(labels[..., None] > 0, (1 - alpha) * base + alpha * rgb, 0.5 * base)


def _draw_skeletons(ax, keypoints: np.ndarray) -> None:
    from p2i_prior.skeleton import COCO_SKELETON

    cols = _instance_colours(len(keypoints))
    for i, person in enumerate(keypoints):
        for a, b in COCO_SKELETON:
            if person[a, 2] > 0 and person[b, 2] > 0:
                ax.plot([person[a, 0], person[b, 0]], [person[a, 1], person[b, 1]], "-", color=cols[i], lw=2)
        vis = person[:, 2] == 2
        occ = person[:, 2] == 1
        ax.plot(person[vis, 0], person[vis, 1], "o", color=cols[i], mec="white", ms=4)
        ax.plot(person[occ, 0], person[occ, 1], "o", color="white", mec=cols[i], ms=4)


def _demo_figure(path, scene, score, labels_sp, edge, rag, pmap, results, ious) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from skimage.segmentation import find_boundaries

    n = scene.keypoints.shape[0]
    H, W = labels_sp.shape
    fig, axes = plt.subplots(2, 4, figsize=(20, 8.6))
    ax = axes.ravel()
    ax[0].imshow(scene.image)
    _draw_skeletons(ax[0], scene.keypoints)
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
    cols = _instance_colours(n)
    top = pmap.argmax(-1)
    ax[3].imshow(cols[top] * pmap.max(-1, keepdims=True))
    _draw_skeletons(ax[3], scene.keypoints)
    ax[3].set_title("pose-instance map (rag): argmax colour x probability")
    ax[4].imshow(score, cmap="gray", vmin=0, vmax=1)
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
    ax[7].imshow(colour_labels(results["rag"], n, scene.image))
    ax[7].set_title(f"keypoint prior (rag): mean IoU {np.mean(ious['rag']):.3f}")
    for x in ax:
        x.set_axis_off()
    fig.suptitle("pose2instance: from keypoints to person instances (cf. Pose2Instance, Fig. 3.1)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# segment


def _load_image(path: str) -> np.ndarray:
    from PIL import Image

    if not os.path.isfile(path):
        raise FileNotFoundError(f"image: no such file: {path}")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as exc:  # PIL.UnidentifiedImageError, truncated files
        raise ValueError(f"image: cannot read {path} as an image ({exc})") from None


def _keypoints_for_image(path: str, image_path: str, image_id: int | None) -> tuple[np.ndarray, int | None]:
    from p2i_prior.checks import read_json

    data = read_json(path, "--keypoints", "a COCO json with keypoints")
    if isinstance(data, dict):
        if "annotations" not in data:
            raise ValueError(f"--keypoints: expected a COCO dict with 'annotations' or a list, got keys {sorted(data)[:6]}")
        if image_id is None and "images" in data:
            name = os.path.basename(image_path)
            ids = [im["id"] for im in data["images"] if os.path.basename(im.get("file_name", "")) == name]
            if not ids:
                raise ValueError(f"--keypoints: no image named {name!r} in {path}; pass --image-id")
            image_id = ids[0]
        entries = data["annotations"]
    elif isinstance(data, list):
        entries = data
    else:
        raise ValueError(f"--keypoints: expected a COCO json dict or list, got {type(data).__name__}")
    if image_id is not None:
        entries = [e for e in entries if e.get("image_id") == image_id]
    else:
        ids = {e.get("image_id") for e in entries}
        if len(ids) > 1:
            raise ValueError(f"--keypoints: entries for {len(ids)} images in {path}; pass --image-id")
    entries = [e for e in entries if "keypoints" in e and not e.get("iscrowd", 0)]
    kp = np.zeros((len(entries), 17, 3))
    for i, e in enumerate(entries):
        flat = np.asarray(e["keypoints"], dtype=np.float64)
        if flat.size != 51:
            raise ValueError(f"--keypoints: entry {i} has {flat.size} keypoint values, expected 51 (17 x (x, y, v))")
        kp[i] = flat.reshape(17, 3)
    return kp, image_id


def _load_score(path: str | None, shape: tuple[int, int]) -> np.ndarray:
    if path is None:
        return np.ones(shape, np.float32)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--score: no such file: {path}")
    if path.endswith(".npy"):
        try:
            s = np.load(path).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise ValueError(f"--score: cannot read {path} as a .npy float array ({exc})") from None
    else:
        from PIL import Image

        try:
            with Image.open(path) as im:
                s = np.asarray(im.convert("L"), np.float32) / 255.0
        except OSError as exc:
            raise ValueError(f"--score: cannot read {path} as an image ({exc})") from None
    if s.shape != shape:
        raise ValueError(f"--score: expected an (H, W) = {shape} map (the image's size), got {s.shape}")
    return s


def run_segment(args: argparse.Namespace) -> int:
    from PIL import Image

    import p2i_prior as p

    image = _load_image(args.image)
    H, W = image.shape[:2]
    kp, image_id = _keypoints_for_image(args.keypoints, args.image, args.image_id)
    score = _load_score(args.score, (H, W))
    t = time.perf_counter()
    pmap = p.pose_instance_map(image, kp, method=args.method, solver=args.solver,
                               n_segments=args.segments, extent=args.extent)
    labels = p.segment_instances(pmap, score, threshold=args.threshold)
    elapsed = time.perf_counter() - t
    n = kp.shape[0]
    os.makedirs(args.out, exist_ok=True)
    Image.fromarray(labels.astype(np.uint8 if n < 256 else np.uint16)).save(os.path.join(args.out, "labels.png"))
    overlay = (colour_labels(labels, n, image) * 255).astype(np.uint8)
    Image.fromarray(overlay).save(os.path.join(args.out, "overlay.png"))
    masks = p.masks_from_labels(labels, n)
    rles = p.masks_to_rle(masks)
    out = []
    for i, rle in enumerate(rles):
        inside = score[masks[i]]
        out.append({
            "image_id": image_id, "category_id": 1, "segmentation": rle,
            "score": float(inside.mean()) if inside.size else 0.0, "area": int(masks[i].sum()),
        })
    with open(os.path.join(args.out, "instances.json"), "w") as f:
        json.dump(out, f)
    print(f"{n} people, {int((labels > 0).sum())} person pixels, method {args.method}, {1000 * elapsed:.0f} ms; "
          f"wrote labels.png, overlay.png, instances.json to {args.out}")
    return 0
