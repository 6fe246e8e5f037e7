"""GPU benchmark: every CUDA kernel against its CPU twin (and CuPy/cuCIM where they have one).

Run on a machine with a CUDA GPU, CuPy and numba-cuda::

    python -m bench.gpu_bench --out bench/results/gpu_h100.json
    python -m bench.gpu_bench --quick --cases sobel,fw          # a fast subset

Method (``bench/core.py``): warm-up calls first (JIT compilation, module load), then repeats
timed with ``time.perf_counter`` around the call plus ``cuda.synchronize()`` (device work is
asynchronous), implementations interleaved on the same inputs, medians and quartile ranges;
speed-ups are ratios of medians from the same run.  Inputs are seeded synthetic scenes
(``p2i_prior.synthetic``), never zeros.  Floyd–Warshall is also compared with its min-plus
arithmetic floor ``2 n^3 / (SMs * 128 lanes * clock)`` (one add and one min per inner step on
the FP32 pipes), read from the device.  The JSON holds the machine (``machine_info``), the
device name, versions and every measurement.

Targets (issue 4), reported as measured / not measured in the JSON's ``targets``: batched
prior (640x480, ~1000 superpixels, 5 people, B=64) >= 2000 images/s and >= 100x the CPU path;
SLIC >= 10x faster than gSLICr's 4.5 ms per 640x480 image; Floyd–Warshall n=1024 < 1 ms and
n=4096 within 3x of the floor; fast sweeping faster than
``cupyx.scipy.ndimage.distance_transform_edt`` on the same mask.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Sequence

import numpy as np

CASES = ("sobel", "slic", "rag", "sssp", "fw", "sweep", "fusion", "pipeline")


def build_parser() -> argparse.ArgumentParser:
    """The command line (``--help`` explains each option)."""
    p = argparse.ArgumentParser(prog="python -m bench.gpu_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None, help="write the JSON report here (default: print it)")
    p.add_argument("--cases", default=",".join(CASES),
                   help=f"comma-separated subset of {','.join(CASES)}")
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--batch", type=int, default=64, help="images per batch (pipeline, sweep)")
    p.add_argument("--people", type=int, default=5)
    p.add_argument("--segments", type=int, default=1000)
    p.add_argument("--fw-sizes", default="1024,4096", help="Floyd-Warshall node counts")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="small sizes and B=8 (a smoke run)")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the arguments; ``--quick`` shrinks every size."""
    args = build_parser().parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        raise SystemExit(f"--cases: expected a subset of {','.join(CASES)}, got unknown {unknown}")
    args.cases = cases
    args.fw_sizes = [int(s) for s in args.fw_sizes.split(",") if s]
    if args.quick:
        args.height, args.width, args.batch = 120, 160, 8
        args.segments, args.fw_sizes, args.repeat = 200, [256], 3
    for name in ("height", "width", "batch", "people", "segments", "repeat"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name}: expected an integer >= 1, got {getattr(args, name)}")
    return args


def _summary(m: dict) -> dict:
    return {k: v.summary() if hasattr(v, "summary") else v for k, v in m.items()}


def run(args: argparse.Namespace) -> dict:
    """Run the selected cases; return the report (a JSON-able dict)."""
    from numba import cuda

    import p2i_prior as p
    from p2i_prior.synthetic import make_scenes

    from .core import machine_info, measure_group, ratio

    sync = cuda.synchronize
    dev = cuda.get_current_device()
    name = getattr(dev, "name", b"simulator")
    report: dict[str, Any] = {
        "machine": machine_info(),
        "device": {"name": name.decode() if isinstance(name, bytes) else str(name),
                   "cc": list(getattr(dev, "compute_capability", (0, 0))),
                   "sms": int(getattr(dev, "MULTIPROCESSOR_COUNT", 1)),
                   "clock_khz": int(getattr(dev, "CLOCK_RATE", 1))},
        "args": {k: v for k, v in vars(args).items()},
        "cases": {},
        "targets": {},
    }
    try:
        import cupy
    except ImportError:  # the CPU/GPU comparisons still run; the CuPy references do not
        cupy = None
    if cupy is not None:  # the CuPy build actually present, not the one the extra asked for
        report["cupy"] = {"version": cupy.__version__,
                          "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
                          "cuda_driver": cupy.cuda.runtime.driverGetVersion()}
    H, W, B = args.height, args.width, args.batch
    scenes = make_scenes(B, 0, n_people=args.people, height=H, width=W)  # B distinct scenes
    imgs = np.stack([s.image for s in scenes])
    kps = [s.keypoints for s in scenes]
    d_imgs = cuda.to_device(imgs)
    labels = np.stack([np.asarray(p.slic(im, n_segments=args.segments)) for im in imgs])  # one per image
    d_labels = cuda.to_device(labels)

    def group(fns: dict[str, Callable[[], Any]], gpu_sync: bool = True) -> dict:
        return measure_group(fns, repeat=args.repeat, warmup=2, sync=sync if gpu_sync else None)

    if "sobel" in args.cases:
        fns = {"gpu_batch": lambda: p.sobel_batch(d_imgs),
               "cpu_per_image": lambda: [p.sobel(im) for im in imgs]}
        if cupy is not None:
            from cupyx.scipy import ndimage as cnd

            g = cupy.asarray(imgs.astype(np.float32).mean(-1))
            fns["cupyx_ndimage_sobel"] = lambda: cupy.hypot(cnd.sobel(g, axis=1), cnd.sobel(g, axis=2))
        m = group(fns)
        report["cases"]["sobel"] = {"B": B, **_summary(m), "vs_cpu": ratio(m["cpu_per_image"], m["gpu_batch"])}

    if "slic" in args.cases:
        m = group({"gpu_batch": lambda: p.slic_batch(d_imgs, n_segments=args.segments),
                   "cpu_per_image": lambda: [p.slic(im, n_segments=args.segments) for im in imgs]})
        got, _ = p.slic_batch(d_imgs, n_segments=args.segments)
        agree = float((got.copy_to_host() == labels).mean())
        report["cases"]["slic"] = {"B": B, **_summary(m), "vs_cpu": ratio(m["cpu_per_image"], m["gpu_batch"]),
                                   "label_agreement_with_cpu": agree,
                                   "ms_per_image": 1e3 * m["gpu_batch"].median_s / B}
        report["targets"]["slic_ms_per_image"] = {"measured": 1e3 * m["gpu_batch"].median_s / B,
                                                  "target": "< 0.45 (10x gSLICr's 4.5 ms)"}

    if "rag" in args.cases or "sssp" in args.cases:
        edge = p.sobel_batch(d_imgs)
        m = group({"gpu_batch": lambda: p.build_rags(d_labels, edge),
                   "cpu_per_image": lambda: [p.build_rag(labels[b], edge[b].copy_to_host()) for b in range(B)]})
        report["cases"]["rag"] = {"B": B, **_summary(m), "vs_cpu": ratio(m["cpu_per_image"], m["gpu_batch"])}
        graphs = p.build_rags(d_labels, edge)
        K = int(graphs.n_nodes.max())
        seeds = np.zeros((B, args.people, K), bool)
        for b in range(B):
            sb = p.seed_superpixels(labels[b], kps[b])
            seeds[b, : sb.shape[0], : sb.shape[1]] = sb
        d_seeds = cuda.to_device(seeds)
        hosts = [graphs.graph(b) for b in range(B)]
        for solver in ("sssp", "apsp"):
            if solver == "apsp" and "fw" not in args.cases:
                continue
            m = group({"gpu_batch": lambda: p.rag_distances(graphs, d_seeds, solver),
                       "cpu_per_image": lambda: [p.rag_distance(hosts[b], seeds[b, :, : hosts[b].n_nodes], solver)
                                                 for b in range(B)]})
            report["cases"][f"rag_distance_{solver}"] = {"B": B, "K": K, **_summary(m),
                                                         "vs_cpu": ratio(m["cpu_per_image"], m["gpu_batch"])}

    if "fw" in args.cases:
        from p2i_prior.kernels import cuda_shortest_paths as ksp
        from p2i_prior.kernels.cuda_common import LAUNCH

        tile = LAUNCH["tile"]

        rng = np.random.default_rng(0)
        for n in args.fw_sizes:
            a = np.triu(rng.random((n, n)) < 6.0 / n, 1)
            r, c = np.nonzero(a | a.T)
            indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=n))]).astype(np.int64)
            dev_args = [cuda.to_device(x) for x in (indptr, c.astype(np.int32),
                                                    rng.uniform(0.1, 1, r.size).astype(np.float32),
                                                    np.array([0, n], np.int64))]
            m = group({"gpu": lambda: ksp.floyd_warshall_batched(*dev_args, n_pad=-(-n // tile) * tile)})
            floor = 2.0 * n ** 3 / (report["device"]["sms"] * 128 * report["device"]["clock_khz"] * 1e3)
            report["cases"][f"floyd_warshall_{n}"] = {**_summary(m), "floor_s": floor,
                                                      "over_floor": m["gpu"].median_s / floor}
            report["targets"][f"fw_{n}"] = {"median_s": m["gpu"].median_s, "floor_s": floor}

    if "sweep" in args.cases:
        masks = np.stack([p.skeleton_mask(k, (H, W)).any(0) for k in kps])
        d_masks = cuda.to_device(masks)
        fns = {"gpu_batch": lambda: p.sweep_distance(d_masks),
               "cpu": lambda: p.sweep_distance(masks)}
        if cupy is not None:
            from cupyx.scipy import ndimage as cnd

            c_masks = cupy.asarray(~masks)
            fns["cupyx_edt_per_image"] = lambda: [cnd.distance_transform_edt(c_masks[b]) for b in range(B)]
        m = group(fns)
        out = {"B": B, **_summary(m), "vs_cpu": ratio(m["cpu"], m["gpu_batch"])}
        if cupy is not None:
            out["vs_cupyx_edt"] = ratio(m["cupyx_edt_per_image"], m["gpu_batch"])
            report["targets"]["sweep_vs_edt"] = out["vs_cupyx_edt"]
        report["cases"]["sweep"] = out

    if "fusion" in args.cases:
        rng = np.random.default_rng(1)
        d = cuda.to_device(rng.random((B, args.people, labels.max() + 1)).astype(np.float32))
        sc = cuda.to_device(rng.random((B, H, W)).astype(np.float32))
        m = group({"gpu_batch": lambda: p.fuse(d, sc, temperature=0.05, labels=d_labels)})
        report["cases"]["fusion"] = {"B": B, **_summary(m)}

    if "pipeline" in args.cases:
        scores = np.stack([s.score for s in scenes]).astype(np.float32)
        d_scores = cuda.to_device(scores)
        m = group({"gpu_batch": lambda: p.pose_instance_maps(d_imgs, kps, labels=d_labels),
                   "cpu_per_image": lambda: [p.pose_instance_map(imgs[b], kps[b], labels=labels[b])
                                             for b in range(B)]})
        ips = B / m["gpu_batch"].median_s
        report["cases"]["pipeline_labels_given"] = {"B": B, **_summary(m), "images_per_s": ips,
                                                    "vs_cpu": ratio(m["cpu_per_image"], m["gpu_batch"])}
        # from images: SLIC included, with the person score (the labels come back too)
        full = group({"gpu_batch": lambda: p.pose_instance_maps(d_imgs, kps, n_segments=args.segments,
                                                                person_scores=d_scores, device="cuda")})
        maps, _labs = p.pose_instance_maps(d_imgs, kps, labels=d_labels, person_scores=d_scores, device="cuda")
        err = max(float(np.abs(np.asarray(maps[b]) - p.pose_instance_map(imgs[b], kps[b], labels=labels[b])).max())
                  for b in range(B))
        ips_full = B / full["gpu_batch"].median_s
        report["cases"]["pipeline_from_images"] = {"B": B, **_summary(full), "images_per_s": ips_full,
                                                   "max_abs_map_diff_vs_cpu": err}
        report["targets"]["pipeline"] = {"images_per_s": ips_full, "target": ">= 2000 (640x480, 5 people, B=64)",
                                         "note": "SLIC included; labels-given rate in cases"}
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, check for a GPU, run, write JSON."""
    args = parse_args(argv)
    from .core import gpu_present

    if not gpu_present():
        print("gpu_bench: no CUDA GPU visible (or NUMBA_ENABLE_CUDASIM=1); nothing measured",
              file=sys.stderr)
        return 2
    report = run(args)
    text = json.dumps(report, indent=1, default=str)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
