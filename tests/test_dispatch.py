"""The public API's device dispatch: device="cuda" runs the CUDA kernels (the simulator here,
tiny inputs) and gives the CPU path's numbers; bad device names are refused clearly."""

import subprocess
import sys

import numpy as np
import pytest

import p2i_prior as p
from p2i_prior.synthetic import make_scene

from cuda_sim import needs_cuda


@pytest.fixture(scope="module")
def tiny():
    return make_scene(seed=5, height=20, width=24, n_people=2)


@needs_cuda
def test_public_functions_on_cuda_equal_cpu(tiny):
    img = tiny.image
    np.testing.assert_allclose(p.sobel(img, device="cuda"), p.sobel(img), atol=1e-6)
    labels = p.slic(img, n_segments=12)
    agree = (p.slic(img, n_segments=12, device="cuda") == labels).mean()
    assert agree >= 0.995
    edge = p.sobel(img)
    g_cpu = p.build_rag(labels, edge)
    g_gpu = p.build_rag(labels, edge, device="cuda")
    assert g_gpu.n_nodes == g_cpu.n_nodes
    seeds = p.seed_superpixels(labels, tiny.keypoints)
    np.testing.assert_array_equal(p.rag_distance(g_cpu, seeds, device="cuda"), p.rag_distance(g_cpu, seeds))
    sk = p.skeleton_mask(tiny.keypoints, img.shape[:2])
    np.testing.assert_array_equal(p.sweep_distance(sk, device="cuda"), p.sweep_distance(sk))
    pm_cpu = p.pose_instance_map(img, tiny.keypoints, method="sweep")
    pm_gpu = p.pose_instance_map(img, tiny.keypoints, method="sweep", device="cuda")
    np.testing.assert_allclose(pm_gpu, pm_cpu, atol=1e-6)
    np.testing.assert_array_equal(
        p.segment_instances(pm_cpu, tiny.score, device="cuda"), p.segment_instances(pm_cpu, tiny.score)
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda s: p.sobel(s.image, device="gpu"),
        lambda s: p.build_rag(np.zeros((3, 3), int), np.zeros((3, 3)), device="gpu"),
        lambda s: p.sweep_distance(np.ones((3, 3), bool), device="gpu"),
        lambda s: p.pose_instance_map(s.image, s.keypoints, device="gpu"),
    ],
)
def test_unknown_device_is_refused(tiny, call):
    with pytest.raises(ValueError, match=r"device: expected one of 'auto', 'cpu', 'cuda', got 'gpu'"):
        call(tiny)


def test_cuda_without_a_gpu_says_why():
    # a fresh interpreter without the simulator and (on CI machines) without a GPU
    code = (
        "import numpy as np, p2i_prior as p\n"
        "from p2i_prior import _gpu\n"
        "if _gpu.cuda_available(): print('HAS_GPU'); raise SystemExit\n"
        "try:\n    p.sobel(np.zeros((4, 4)), device='cuda')\n"
        "except RuntimeError as e:\n    print(e)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300).stdout
    if "HAS_GPU" in out:
        pytest.skip("a GPU is present")
    assert "device: 'cuda' requested but no CUDA GPU is usable" in out
