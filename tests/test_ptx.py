"""Every CUDA kernel compiles to PTX for sm_90 (H100/H200) with its real launch signatures.

The simulator runs any Python, so it cannot tell whether a kernel compiles; this test compiles
each ``numba.cuda.jit`` kernel of ``kernels/cuda_*.py`` (the shared ones in ``cuda_common``) with ``numba.cuda.compile_ptx`` (NVVM
from the CUDA toolkit / nvidia-cuda-nvrtc wheel, no GPU needed) in a subprocess without
``NUMBA_ENABLE_CUDASIM``.  ``SIGNATURES`` lists the argument types the host code launches
each kernel with; the test fails when a module gains a kernel that is not listed.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

A = lambda t, nd: f"{t}[{', '.join([':'] * (nd - 1) + ['::1'])}]"  # C-contiguous array type
F32, F64, I32, I64, U8 = "float32", "float64", "int32", "int64", "uint8"

#: module -> kernel -> list of signatures (void return); the first entries are the hot ones.
SIGNATURES = {
    "cuda_common": {
        "fill_value_kernel": [f"void({A(I32, 1)}, int32)", f"void({A(U8, 1)}, uint8)",
                              f"void({A(F64, 1)}, float64)", f"void({A(I64, 1)}, int64)"],
        "scan_rows_kernel": [f"void({A(I64, 2)}, {A(I64, 2)})"],
        "stats_kernel": [f"void({A(F32, 1)}, {A(F64, 1)})", f"void({A(U8, 1)}, {A(F64, 1)})"],
    },
    "cuda_sobel": {
        "sobel_rgb_kernel": [f"void({A(U8, 4)}, float64, {A(F32, 3)})",
                             f"void({A(F64, 4)}, float64, {A(F32, 3)})"],
        "scale_kernel": [f"void({A(U8, 3)}, float64, {A(F64, 3)})",
                         f"void({A(F32, 3)}, float64, {A(F64, 3)})"],
        "sobel_grey_kernel": [f"void({A(F64, 3)}, {A(F32, 3)})"],
    },
    "cuda_fusion": {
        "fuse_pixel_kernel": [f"void({A(F32, 3)}, {A(F32, 2)}, float32, float32, {A(F32, 3)}, "
                              f"{A(I32, 2)}, boolean, {A(F64, 3)}, boolean, int64)"],
        "fuse_superpixel_kernel": [f"void({A(F32, 3)}, {A(I32, 2)}, {A(F32, 2)}, float32, float32, "
                                   f"{A(F32, 3)}, {A(I32, 2)}, boolean, {A(F64, 3)}, boolean, int64)"],
        "segment_kernel": [f"void({A(F32, 2)}, {A(F32, 1)}, float32, {A(I32, 1)})"],
    },
    "cuda_shortest_paths": {
        "fw_init_kernel": [f"void({A(F32, 3)})"],
        "fw_edges_kernel": [f"void({A(I64, 1)}, {A(I32, 1)}, {A(F32, 1)}, {A(I64, 1)}, {A(F32, 3)})"],
        "fw_phase12": [f"void({A(F32, 3)}, {A(F32, 3)}, int64)"],
        "fw_phase3": [f"void({A(F32, 3)}, {A(F32, 3)}, int64)"],
        "min_over_seeds_kernel": [f"void({A(F32, 3)}, {A(U8, 2)}, {A(I32, 1)}, {A(I64, 1)}, {A(F32, 2)})"],
        "bf_shared_kernel": [f"void({A(I64, 1)}, {A(I32, 1)}, {A(F32, 1)}, {A(I64, 1)}, {A(U8, 2)}, "
                             f"{A(I32, 1)}, {A(F32, 2)})"],
        "bf_global_kernel": [f"void({A(I64, 1)}, {A(I32, 1)}, {A(F32, 1)}, {A(I64, 1)}, {A(U8, 2)}, "
                             f"{A(I32, 1)}, {A(F64, 2)}, {A(U8, 3)}, {A(F32, 2)})"],
    },
    "cuda_rag": {
        "label_max_kernel": [f"void({A(I32, 3)}, {A(I64, 1)})"],
        "count_kernel": [f"void({A(I32, 3)}, {A(I64, 1)}, {A(I64, 1)})",
                         f"void({A(I64, 3)}, {A(I64, 1)}, {A(I64, 1)})"],
        "insert_kernel": [f"void({A(I32, 3)}, {A(F32, 3)}, {A(I64, 1)}, {A(I64, 1)}, {A(I32, 1)}, "
                          f"{A(F64, 1)}, {A(I32, 1)})"],
        "degree_kernel": [f"void({A(I64, 1)}, {A(I32, 1)}, {A(I64, 1)})"],
        "fill_kernel": [f"void({A(I64, 1)}, {A(I32, 1)}, {A(F64, 1)}, {A(I32, 1)}, {A(I64, 1)}, "
                        f"{A(I64, 1)}, {A(I32, 1)}, {A(F32, 1)}, {A(I32, 1)})"],
        "sort_rows_kernel": [f"void({A(I64, 1)}, {A(I32, 1)}, {A(F32, 1)}, {A(I32, 1)})"],
        "seeds_from_pixels_kernel": [f"void({A(I32, 3)}, {A(I32, 1)}, {A(I32, 1)}, {A(I32, 1)}, "
                                     f"{A(I32, 1)}, {A(U8, 2)})"],
        "pixel_mask_kernel": [f"void({A(I32, 1)}, {A(I32, 1)}, {A(I32, 1)}, {A(U8, 3)})"],
    },
    "cuda_slic": {
        "minmax_kernel": [f"void({A(U8, 2)}, {A(F64, 2)})", f"void({A(F64, 2)}, {A(F64, 2)})"],
        "lab_kernel": [f"void({A(U8, 4)}, {A(F64, 2)}, {A(F32, 4)})",
                       f"void({A(F64, 4)}, {A(F64, 2)}, {A(F32, 4)})"],
        "assign_kernel": [f"void({A(F32, 4)}, {A(F32, 3)}, {A(U8, 2)}, {A(I32, 1)}, {A(I32, 1)}, int64, "
                          f"float32, boolean, {A(I32, 3)}, {A(I32, 3)}, {A(I64, 1)}, {A(U8, 1)})"],
        "done_kernel": [f"void({A(I64, 1)}, {A(U8, 1)})"],
        "update_kernel": [f"void({A(F32, 4)}, {A(I32, 3)}, {A(I32, 1)}, {A(I32, 1)}, {A(I32, 1)}, "
                          f"{A(I32, 1)}, int64, {A(F32, 3)}, {A(U8, 2)}, {A(U8, 1)})"],
        "ccl_init_kernel": [f"void({A(I32, 2)})"],
        "ccl_union_kernel": [f"void({A(I32, 3)}, {A(I32, 2)})"],
        "ccl_flatten_kernel": [f"void({A(I32, 2)})"],
        "size_kernel": [f"void({A(I32, 2)}, {A(I32, 2)})"],
        "queue_size_kernel": [f"void({A(I32, 2)}, {A(I32, 2)}, int64, {A(I64, 2)})"],
        "bfs_link_kernel": [f"void({A(I32, 2)}, int64, {A(I64, 2)}, {A(I64, 2)}, {A(I32, 2)}, {A(I32, 2)})"],
        "merge_kernel": [f"void({A(I32, 2)}, {A(I32, 2)}, int64, {A(I32, 2)}, {A(I32, 2)})"],
        "kept_kernel": [f"void({A(I32, 2)}, {A(I32, 2)}, int64, {A(I64, 2)})"],
        "final_label_kernel": [f"void({A(I32, 2)}, {A(I64, 2)}, {A(I32, 2)})"],
        "zero_region_kernel": [f"void({A(I32, 2)}, int64, {A(I64, 1)}, {A(I64, 1)})"],
        "zero_fix_kernel": [f"void({A(I32, 2)}, int64, {A(I64, 2)}, {A(I64, 1)}, {A(I64, 1)}, int64, "
                            f"{A(I32, 2)}, {A(I64, 1)})"],
        "used_kernel": [f"void({A(I32, 3)}, {A(I64, 2)})"],
        "relabel_kernel": [f"void({A(I32, 3)}, {A(I64, 2)}, {A(I32, 3)})"],
    },
    "cuda_sweep": {
        "sweep_kernel": [f"void({A(U8, 3)}, {A(F64, 3)}, {A(I32, 1)}, boolean, int64, float64, "
                         f"{A(F32, 3)}, {A(I64, 1)}, {A(F64, 1)})"],
        "column_sums_kernel": [f"void({A(F32, 3)}, {A(F64, 2)})"],
        "row_total_kernel": [f"void({A(F64, 2)}, {A(F64, 1)})"],
        "edge_slowness_kernel": [f"void({A(F32, 3)}, {A(F64, 1)}, float64, {A(F64, 3)})"],
        "reciprocal_kernel": [f"void({A(F64, 3)}, {A(F64, 3)})"],
    },
    "cuda_edt": {
        "row_scan_kernel": [f"void({A(U8, 3)}, {A(F32, 3)})"],
        "column_envelope_kernel": [f"void({A(F32, 3)}, {A(I32, 3)}, {A(I32, 3)})"],
    },    # SLIC algorithm="fast" (the default; cuda_slic holds algorithm="skimage")
    "cuda_slic_fast": {
        "lab_kernel": [f"void({A('uint8', 4)}, {A('float64', 2)}, {A('float32', 4)})",
                       f"void({A('float64', 4)}, {A('float64', 2)}, {A('float32', 4)})"],
        "init_kernel": [f"void({A('float32', 4)}, {A('int32', 1)}, {A('int32', 1)}, {A('float32', 3)})"],
        "assign_kernel": [f"void({A('float32', 4)}, {A('float32', 3)}, {A('int32', 1)}, {A('int32', 1)}, "
                          f"int64, int64, int64, float32, int64, int64, {A('int32', 3)}, int64, "
                          f"{A('int64', 2)}, {A('float64', 1)})"],
        "update_kernel": [f"void({A('float32', 4)}, {A('int32', 3)}, {A('int32', 1)}, {A('int32', 1)}, "
                          f"{A('int32', 1)}, {A('int32', 1)}, int64, int64, int64, {A('float32', 3)}, "
                          f"int64, {A('int64', 2)}, {A('float64', 1)})"],
        "colour_kernel": [f"void({A('int32', 2)}, {A('float32', 4)}, {A('float64', 3)})"],
        "cap_kernel": [f"void({A('int32', 2)}, {A('int32', 2)}, int64, {A('int64', 1)}, {A('int32', 1)}, "
                       f"{A('int32', 2)})"],
        "threshold_kernel": [f"void({A('int64', 1)}, {A('int32', 1)}, {A('int32', 2)}, int64, "
                             f"{A('int32', 1)}, {A('int64', 1)})"],
        "tie_kernel": [f"void({A('int32', 2)}, {A('int32', 2)}, {A('int32', 1)}, {A('int64', 2)})"],
        "keep_kernel": [f"void({A('int32', 2)}, {A('int32', 2)}, int64, {A('int32', 1)}, {A('int64', 1)}, "
                        f"{A('int64', 2)}, {A('uint8', 2)})"],
        "link_kernel": [f"void({A('int32', 2)}, {A('int32', 2)}, {A('float64', 3)}, {A('uint8', 2)}, int64, "
                        f"{A('int32', 2)})"],
        "resolve_kernel": [f"void({A('int32', 2)}, {A('int32', 2)}, {A('int32', 2)})"],
        "zero_touch_kernel": [f"void({A('int32', 2)}, int64, {A('int64', 1)})"],
        "kept_kernel": [f"void({A('int32', 2)}, {A('int32', 2)}, {A('uint8', 2)}, {A('int64', 1)}, "
                        f"{A('int64', 2)})"],
        "final_kernel": [f"void({A('int32', 2)}, {A('uint8', 2)}, {A('int64', 1)}, {A('int64', 2)}, "
                         f"{A('int32', 2)})"],
    },
}

SCRIPT = textwrap.dedent(
    """
    import importlib, json, sys, types
    import numba.cuda.dispatcher as disp
    # device functions ask the current device for its compute capability; there is none here
    disp.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))
    from numba import cuda

    sigs = json.loads(sys.argv[1])
    report = {"missing": [], "ptx": {}}
    for mod_name, kernels in sigs.items():
        mod = importlib.import_module("p2i_prior.kernels." + mod_name)
        for name in dir(mod):
            obj = getattr(mod, name)
            if type(obj).__name__ == "CUDADispatcher" and not obj.targetoptions.get("device"):
                if name not in kernels:
                    report["missing"].append(mod_name + "." + name)
        for name, sig_list in kernels.items():
            for sig in sig_list:
                ptx, _ = cuda.compile_ptx(getattr(mod, name).py_func, sig, cc=(9, 0))
                key = mod_name + "." + name + " " + sig
                report["ptx"][key] = {"target": "sm_90" in ptx, "local": ptx.count("ld.local") + ptx.count("st.local"),
                                      "shared": ptx.count(".shared"), "entry": ".entry" in ptx}
    # the Floyd-Warshall kernels for other tiles (the simulator tests use them)
    from p2i_prior.kernels import cuda_shortest_paths as ksp
    p12, p3 = ksp.fw_kernels(8, 4)
    for k in (p12, p3):
        ptx, _ = cuda.compile_ptx(k.py_func, "void(float32[:, :, ::1], float32[:, :, ::1], int64)", cc=(9, 0))
        report["ptx"]["fw tile 8 " + k.__name__] = {"target": "sm_90" in ptx, "local": 0, "shared": 1, "entry": True}
    print("REPORT" + json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def report():
    pytest.importorskip("numba.cuda")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["NUMBA_ENABLE_CUDASIM"] = "0"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(SIGNATURES)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    if proc.returncode != 0 and "NvvmSupportError" in proc.stderr:
        pytest.skip("libNVVM not available (install numba-cuda[cu12]): cannot compile to PTX here")
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT")][-1]
    return json.loads(line[len("REPORT"):])


def test_every_kernel_is_listed(report):
    assert report["missing"] == []
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernels")
    modules = sorted(f[:-3] for f in os.listdir(here) if f.startswith("cuda_") and f.endswith(".py"))
    assert modules == sorted(SIGNATURES)


def test_every_kernel_compiles_for_sm90(report):
    n_sigs = sum(len(v) for kernels in SIGNATURES.values() for v in kernels.values())
    assert len(report["ptx"]) == n_sigs + 2
    bad = [k for k, v in report["ptx"].items() if not (v["target"] and v["entry"])]
    assert bad == []


def test_hot_loops_stay_in_registers_and_shared_memory(report):
    ptx = report["ptx"]
    key = lambda mod, name: next(k for k in ptx if k.startswith(f"{mod}.{name} "))
    # Floyd-Warshall phase 3: the R accumulators per thread stay in registers
    assert ptx[key("cuda_shortest_paths", "fw_phase3")]["local"] == 0
    assert ptx[key("cuda_shortest_paths", "fw_phase3")]["shared"] > 0
    assert ptx[key("cuda_shortest_paths", "bf_shared_kernel")]["shared"] > 0
    assert ptx[key("cuda_sweep", "sweep_kernel")]["local"] == 0
    assert ptx[key("cuda_edt", "column_envelope_kernel")]["local"] == 0
    assert ptx[key("cuda_slic_fast", "assign_kernel")]["local"] == 0
    assert ptx[key("cuda_slic", "assign_kernel")]["local"] == 0
    assert ptx[key("cuda_slic", "update_kernel")]["shared"] > 0
