"""One-shot GPU check: correctness, stream safety, throughput and where the time goes.

The first thing a session with a lent GPU runs (through ``scripts/gpu_check.sh``, which installs
the project and writes everything under ``$OUT``)::

    python scripts/gpu_check.py --out "$OUT"          # 640x480, B=8 checks, B=64/256 timings
    python scripts/gpu_check.py --tiny                 # 80x60 (WxH), everything small

Sections, each recorded in ``gpu_check.json`` and summarised in a table printed last:

1. correctness on fresh seeded scenes (the seed is printed): GPU vs CPU maps and labels for
   ``rag`` (on the CPU's superpixels, so both sides see the same graph), ``sweep`` and
   ``geodesic``; GPU SLIC label agreement with the CPU; two GPU runs bit-identical; the same run
   with every device allocation pre-filled with garbage (0xFF bytes: NaN floats, -1 ints) bit-
   identical too (a kernel that reads memory nothing wrote shows up here);
2. the same call inside a non-blocking CuPy stream and a non-blocking torch stream (inputs on
   the device), compared with the reference (skipped where CuPy / torch CUDA is absent);
3. images/s of the whole batched pipeline from images (SLIC included), with and without a person
   score, at each ``--batches`` size, timed with device synchronisation around the call;
4. a per-stage breakdown (Sobel, SLIC, RAG, distances, fusion) and the launches and host reads
   of one pipeline call (``p2i_prior._device.LaunchCounter``);
5. a ``compute-sanitizer --tool memcheck`` pass over ``--tiny`` correctness where that tool
   exists (not under the simulator).

Exit status 0 when every correctness check passes, 1 otherwise.  Under Numba's simulator
(``NUMBA_ENABLE_CUDASIM=1``; the test suite runs ``--tiny`` there) the launch table is shrunk
to tiny blocks, as the tests do, and timings mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np

SIM_LAUNCH = dict(block=(4, 4), threads=8, scan=4, bf=8, sweep=4, tile=4, rows=2, fuse=8,
                  stats_threads=8, stats_blocks=2, update=8)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="scripts/gpu_check.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="80x60 images, B=2, batches 2,4, one repeat")
    ap.add_argument("--size", default=None, help="WxH of the images (default 640x480; --tiny 80x60)")
    ap.add_argument("--batch", type=int, default=None, help="images of the correctness checks (8)")
    ap.add_argument("--batches", default=None, help="comma-separated batch sizes to time (64,256)")
    ap.add_argument("--people", type=int, default=None, help="people per scene (5; --tiny 2)")
    ap.add_argument("--segments", type=int, default=None, help="SLIC superpixels (1000; --tiny 40)")
    ap.add_argument("--repeat", type=int, default=None, help="timed repeats (5; --tiny 1)")
    ap.add_argument("--seed", type=int, default=None, help="scene seed (default: from the clock)")
    ap.add_argument("--only", choices=("correctness",), default=None, help="run one section")
    ap.add_argument("--no-sanitizer", action="store_true", help="skip the compute-sanitizer pass")
    ap.add_argument("--out", default=os.environ.get("OUT") or os.path.join("p2i_out", "gpu_check"),
                    help="folder for gpu_check.json (default $OUT, else p2i_out/gpu_check)")
    a = ap.parse_args(argv)
    tiny = a.tiny
    size = a.size or ("80x60" if tiny else "640x480")
    try:
        a.width, a.height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        ap.error(f"--size: expected WxH such as 640x480, got {size!r}")
    if a.width < 16 or a.height < 16:
        ap.error(f"--size: expected W and H >= 16 (synthetic scenes), got {size!r}")
    a.batch = a.batch or (2 if tiny else 8)
    a.batches = [int(b) for b in (a.batches or ("2,4" if tiny else "64,256")).split(",") if b]
    a.people = a.people or (2 if tiny else 5)
    a.segments = a.segments or (40 if tiny else 1000)
    a.repeat = a.repeat or (1 if tiny else 5)
    a.seed = int(time.time()) % 100000 if a.seed is None else a.seed
    for name in ("batch", "people", "segments", "repeat"):
        if getattr(a, name) < 1:
            ap.error(f"--{name}: expected an integer >= 1, got {getattr(a, name)}")
    return a


# ----------------------------------------------------------------------------------------------
# Environment
# ----------------------------------------------------------------------------------------------


def environment() -> dict:
    from numba import config, cuda

    import p2i_prior

    env: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "platform": platform.platform(),
        "pose2instance": p2i_prior.__version__, "simulator": bool(config.ENABLE_CUDASIM),
        "commit": _git("rev-parse", "HEAD"),
    }
    for mod in ("numpy", "numba", "numba_cuda", "cupy", "torch", "scipy", "skimage"):
        with contextlib.suppress(Exception):
            env[mod] = __import__(mod).__version__
    if not config.ENABLE_CUDASIM:
        dev = cuda.get_current_device()
        env["device"] = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        env["compute_capability"] = list(dev.compute_capability)
        env["driver"] = ".".join(map(str, cuda.cudadrv.driver.driver.get_version()))
        with contextlib.suppress(Exception):
            import cupy

            env["cupy_cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
            env["cupy_cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
    return env


def _git(*args: str) -> str | None:
    with contextlib.suppress(Exception):
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10).stdout.strip()
    return None


# ----------------------------------------------------------------------------------------------
# Correctness
# ----------------------------------------------------------------------------------------------


def scenes(a: argparse.Namespace, B: int, seed: int):
    from p2i_prior.synthetic import make_scenes

    sc = make_scenes(B, seed=seed, height=a.height, width=a.width, n_people=a.people)
    return (np.stack([s.image for s in sc]), [s.keypoints for s in sc],
            np.stack([s.score for s in sc]).astype(np.float32))


@contextlib.contextmanager
def poisoned_allocations():
    """Every ``cuda.device_array`` of the block starts as 0xFF bytes (NaN floats, -1 ints)."""
    from numba import cuda

    from p2i_prior.kernels.cuda_common import fill_value_kernel

    real = cuda.device_array

    def poisoned(shape, dtype=np.float64, *args, **kwargs):
        out = real(shape, dtype, *args, **kwargs)
        if out.size:
            flat = out.reshape(out.size).view(np.uint8) if out.is_c_contiguous() else None
            if flat is not None:
                fill_value_kernel[max(1, -(-flat.size // 256)), 256](flat, np.uint8(255))
        return out

    cuda.device_array = poisoned
    try:
        yield
    finally:
        cuda.device_array = real


def check(name: str, ok: bool, detail: str, results: list) -> None:
    results.append({"check": name, "ok": bool(ok), "detail": detail})
    print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)


def correctness(a: argparse.Namespace) -> list:
    import p2i_prior as p

    imgs, kps, scores = scenes(a, a.batch, a.seed)
    out: list = []
    n_seg = min(a.segments, a.height * a.width)
    labels_cpu = [p.slic(im, n_segments=n_seg) for im in imgs]
    for method, tol_map, min_agree in (("rag", 1e-5, 0.999), ("sweep", 1e-5, 0.999), ("geodesic", 1e-4, 0.995)):
        kw = dict(labels=labels_cpu) if method == "rag" else {}
        maps, labs = p.pose_instance_maps(imgs, kps, method=method, person_scores=scores, device="cuda", **kw)
        err, agree = 0.0, []
        for b in range(a.batch):
            ref = p.pose_instance_map(imgs[b], kps[b], method=method, **({"labels": labels_cpu[b]} if kw else {}))
            err = max(err, float(np.abs(np.asarray(maps[b]) - ref).max()) if ref.size else 0.0)
            agree.append(float((np.asarray(labs[b]) == p.segment_instances(ref, scores[b])).mean()))
        check(f"{method}: GPU map vs CPU", err <= tol_map, f"max |diff| {err:.2e} (tolerance {tol_map:g})", out)
        check(f"{method}: GPU labels vs CPU", min(agree) >= min_agree,
              f"agreement min {min(agree):.5f} (>= {min_agree})", out)
    gl, _counts = p.slic_batch(imgs, n_segments=n_seg, device="cuda")
    agree = min(float((np.asarray(gl[b]) == labels_cpu[b]).mean()) for b in range(a.batch))
    check("slic: GPU labels vs CPU", agree >= 0.995, f"agreement min {agree:.5f} (>= 0.995)", out)
    for method in ("rag", "geodesic"):
        first = p.pose_instance_maps(imgs, kps, method=method, n_segments=n_seg, person_scores=scores, device="cuda")
        again = p.pose_instance_maps(imgs, kps, method=method, n_segments=n_seg, person_scores=scores, device="cuda")
        with poisoned_allocations():
            dirty = p.pose_instance_maps(imgs, kps, method=method, n_segments=n_seg, person_scores=scores,
                                         device="cuda")
        same = lambda x, y: all(np.asarray(u).tobytes() == np.asarray(v).tobytes() for u, v in zip(x[0] + x[1], y[0] + y[1]))
        check(f"{method}: two runs bit-identical", same(first, again), "maps and labels", out)
        check(f"{method}: garbage-filled allocations, same bits", same(first, dirty), "maps and labels", out)
    out += streams(a, imgs, kps, scores, n_seg)
    return out


def streams(a, imgs, kps, scores, n_seg) -> list:
    """The pipeline inside non-blocking CuPy and torch streams, inputs on the device."""
    from numba import config

    import p2i_prior as p

    out: list = []
    if config.ENABLE_CUDASIM:
        out.append({"check": "streams", "ok": True, "detail": "skipped: simulator"})
        return out
    ref_maps, ref_labs = p.pose_instance_maps(imgs, kps, n_segments=n_seg, person_scores=scores, device="cuda")
    libs = []
    with contextlib.suppress(ImportError):
        import cupy

        libs.append(("cupy", lambda x: cupy.asarray(x), lambda: cupy.cuda.Stream(non_blocking=True),
                     lambda s: s, lambda: cupy.cuda.get_current_stream().synchronize()))
    with contextlib.suppress(ImportError):
        import torch

        if torch.cuda.is_available():
            libs.append(("torch", lambda x: torch.as_tensor(x, device="cuda"), lambda: torch.cuda.Stream(),
                         lambda s: torch.cuda.stream(s), lambda: torch.cuda.current_stream().synchronize()))
    for name, to_dev, make, enter, sync in libs:
        stream = make()
        with enter(stream):
            maps, labs = p.pose_instance_maps(to_dev(imgs), kps, n_segments=n_seg, person_scores=to_dev(scores))
            sync()
        host = lambda x: x.get() if hasattr(x, "get") else x.cpu().numpy()
        ok = all(np.array_equal(host(m), r) for m, r in zip(maps, ref_maps)) and \
            all(np.array_equal(host(lab), r) for lab, r in zip(labs, ref_labs))
        check(f"non-blocking {name} stream", ok, "maps and labels equal the default-stream run", out)
    if not libs:
        out.append({"check": "streams", "ok": True, "detail": "skipped: neither CuPy nor torch CUDA"})
    return out


# ----------------------------------------------------------------------------------------------
# Throughput and stages
# ----------------------------------------------------------------------------------------------


def timed(f: Callable[[], Any], repeat: int) -> float:
    """Median seconds of ``f`` with the device synchronised around each call (after a warm-up)."""
    from numba import cuda

    f()
    cuda.synchronize()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def throughput(a: argparse.Namespace) -> list:
    from numba import cuda

    import p2i_prior as p

    rows = []
    for B in a.batches:
        imgs, kps, scores = scenes(a, B, a.seed + B)  # distinct images, fresh per size
        d_imgs, d_scores = cuda.to_device(imgs), cuda.to_device(scores)
        for method in ("rag", "sweep"):
            for with_score in (True, False):
                kw = dict(person_scores=d_scores) if with_score else {}
                t = timed(lambda: p.pose_instance_maps(d_imgs, kps, method=method, n_segments=a.segments,
                                                       device="cuda", **kw), a.repeat)
                rows.append({"B": B, "method": method, "score": with_score, "seconds": t, "images_per_s": B / t})
                print(f"  B={B} {method} score={with_score}: {B / t:.1f} images/s", flush=True)
    return rows


def stages(a: argparse.Namespace) -> dict:
    from numba import cuda

    import p2i_prior as p
    from p2i_prior import _device

    B = a.batches[0]
    imgs, kps, scores = scenes(a, B, a.seed + 7)
    d_imgs, d_scores = cuda.to_device(imgs), cuda.to_device(scores)
    edge = p.sobel_batch(d_imgs)
    labels, _ = p.slic_batch(d_imgs, n_segments=a.segments)
    graphs = p.build_rags(labels, edge)
    K = int(graphs.n_nodes.max())
    seeds = np.stack([_seeds(p, labels[b], kps[b], K, a.people) for b in range(B)])
    d_seeds = cuda.to_device(seeds)
    dist = p.rag_distances(graphs, d_seeds)
    times = {
        "sobel": timed(lambda: p.sobel_batch(d_imgs), a.repeat),
        "slic": timed(lambda: p.slic_batch(d_imgs, n_segments=a.segments), a.repeat),
        "rag": timed(lambda: p.build_rags(labels, edge), a.repeat),
        "distances (sssp)": timed(lambda: p.rag_distances(graphs, d_seeds), a.repeat),
        "fusion": timed(lambda: p.fuse(dist, d_scores, temperature=0.05, labels=labels), a.repeat),
        "pipeline": timed(lambda: p.pose_instance_maps(d_imgs, kps, n_segments=a.segments,
                                                       person_scores=d_scores, device="cuda"), a.repeat),
    }
    with _device.LaunchCounter() as counter:
        p.pose_instance_maps(d_imgs, kps, n_segments=a.segments, person_scores=d_scores, device="cuda")
    return {"B": B, "ms": {k: 1e3 * v for k, v in times.items()}, "launches": len(counter.launches),
            "host_reads": counter.host_reads}


def _seeds(p, labels_dev, kp, K, n):
    s = np.zeros((n, K), bool)
    got = p.seed_superpixels(labels_dev.copy_to_host(), kp)
    s[: got.shape[0], : got.shape[1]] = got[:, :K]
    return s


def sanitizer(a: argparse.Namespace) -> dict:
    from numba import config

    tool = shutil.which("compute-sanitizer")
    if config.ENABLE_CUDASIM or a.no_sanitizer or tool is None:
        why = "simulator" if config.ENABLE_CUDASIM else "--no-sanitizer" if a.no_sanitizer else "compute-sanitizer not found"
        return {"ran": False, "why": why}
    cmd = [tool, "--tool", "memcheck", sys.executable, os.path.abspath(__file__), "--tiny", "--only",
           "correctness", "--no-sanitizer", "--out", os.path.join(a.out, "sanitizer")]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return {"ran": True, "ok": False, "summary": "timed out after 300 s"}
    summary = [line for line in r.stdout.splitlines() + r.stderr.splitlines() if "ERROR SUMMARY" in line]
    ok = r.returncode == 0 and bool(summary) and summary[-1].split("ERROR SUMMARY:")[-1].strip().startswith("0 ")
    with open(os.path.join(a.out, "sanitizer.log"), "w") as f:
        f.write(r.stdout[-20000:] + "\n" + r.stderr[-20000:])
    return {"ran": True, "ok": ok, "summary": summary[-1] if summary else f"exit {r.returncode}"}


# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    from numba import config

    if config.ENABLE_CUDASIM:  # one Python thread per simulated CUDA thread: tiny blocks
        from p2i_prior.kernels.cuda_common import LAUNCH

        LAUNCH.update(SIM_LAUNCH)
    os.makedirs(a.out, exist_ok=True)
    report: dict[str, Any] = {"args": {k: v for k, v in vars(a).items()}, "env": environment()}
    print(f"gpu_check: {report['env'].get('device', 'simulator')}, {a.width}x{a.height}, seed {a.seed}", flush=True)
    print("correctness:", flush=True)
    report["correctness"] = correctness(a)
    if a.only is None:
        print("throughput:", flush=True)
        report["throughput"] = throughput(a)
        print("stages:", flush=True)
        report["stages"] = stages(a)
        report["sanitizer"] = sanitizer(a)
    with open(os.path.join(a.out, "gpu_check.json"), "w") as f:
        json.dump(report, f, indent=1, default=str)
    failed = [c["check"] for c in report["correctness"] if not c["ok"]]
    print(table(report))
    if failed:
        print(f"gpu_check: {len(failed)} check(s) failed: {', '.join(failed)}")
    return 1 if failed else 0


def table(report: dict) -> str:
    env = report["env"]
    lines = ["", f"| gpu_check | {env.get('device', 'simulator (timings meaningless)')} | {env['date']} |",
             "| --- | --- | --- |"]
    n_ok = sum(c["ok"] for c in report["correctness"])
    lines.append(f"| correctness | {n_ok}/{len(report['correctness'])} passed | seed {report['args']['seed']} |")
    for row in report.get("throughput", []):
        lines.append(f"| B={row['B']} {row['method']} {'score' if row['score'] else 'no score'} | "
                     f"{row['images_per_s']:.1f} images/s | {1e3 * row['seconds']:.2f} ms |")
    st = report.get("stages")
    if st:
        lines.append(f"| stages B={st['B']} (ms) | " + ", ".join(f"{k} {v:.2f}" for k, v in st["ms"].items())
                     + f" | {st['launches']} launches, {st['host_reads']} host reads |")
    san = report.get("sanitizer")
    if san:
        lines.append(f"| memcheck | {'ran' if san['ran'] else 'not run'} | {san.get('summary', san.get('why'))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
