"""Device selection, interop and the batched GPU pipeline (simulator without a GPU)."""

import numpy as np
import pytest

import p2i_prior as p
from p2i_prior import _device, pipeline_device

from cuda_sim import gpu, blocky_labels, needs_cuda, to_device

pytestmark = needs_cuda


def test_dispatch_rule():
    host = np.zeros((2, 2))
    assert _device.use_gpu("auto", host) is False
    assert _device.use_gpu("cpu", to_device(host)) is False
    assert _device.use_gpu("auto", None, to_device(host)) is True
    assert _device.use_gpu("cuda", host) is True  # the simulator counts as a device here
    with pytest.raises(ValueError, match=r"device: expected one of 'auto', 'cpu', 'cuda', got 'gpu'"):
        _device.use_gpu("gpu", host)


def test_cuda_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(_device, "cuda_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"device: 'cuda' requested but no CUDA GPU is usable"):
        _device.use_gpu("cuda", np.zeros(3))
    assert _device.use_gpu("auto", np.zeros(3)) is False


def test_kinds_and_round_trip(rng):
    torch = pytest.importorskip("torch")
    x = rng.random((3, 4))
    assert _device.kind_of(x) == "numpy" and not _device.is_gpu_array(x)
    dev = to_device(x)
    assert _device.kind_of(dev) == "numba" and _device.is_gpu_array(dev)
    assert _device.as_device(dev, "x") is dev  # no copy
    t = torch.from_numpy(x)
    assert not _device.is_gpu_array(t)
    back = _device.to_kind(_device.as_device(t, "x", np.float32), t)
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32
    np.testing.assert_allclose(back.numpy(), x.astype(np.float32))
    with pytest.raises(TypeError, match=r"x: expected a numeric array"):
        _device.as_device("text", "x")


def test_device_stats(rng):
    x = rng.random(37)
    x[5] = np.nan
    x[7] = 1.0
    lo, hi, bad, odd = _device.device_stats(to_device(x))
    finite = x[np.isfinite(x)]
    assert (lo, hi, bad) == (finite.min(), finite.max(), 1) and odd == 36


def _person(rng, H, W):
    """(17, 3) keypoints: a few labelled joints at random spots, the rest unlabelled."""
    kp = np.zeros((17, 3))
    for j in (0, 5, 6, 11):  # nose, shoulders, a hip: limbs 5-6 and 5-11 / 6-12 get drawn
        kp[j] = (rng.uniform(0, W), rng.uniform(0, H), 2)
    return kp


def test_pose_instance_maps_rag_equals_host(rng):
    B, H, W = 2, 12, 14
    imgs = rng.integers(0, 256, (B, H, W, 3), dtype=np.uint8)
    labels = np.stack([blocky_labels(rng, H, W, 8), blocky_labels(rng, H, W, 6)])
    kps = [np.stack([_person(rng, H, W) for _ in range(n)]) for n in (2, 1)]
    scores = rng.random((B, H, W)).astype(np.float32)
    maps, labs = gpu.pose_instance_maps(imgs, kps, labels=labels, person_scores=scores, threshold=0.5)
    for b in range(B):
        ref = p.pose_instance_map(imgs[b], kps[b], labels=labels[b])
        assert maps[b].shape == ref.shape == (H, W, kps[b].shape[0])
        np.testing.assert_allclose(maps[b], ref, atol=1e-6, rtol=0)
        np.testing.assert_array_equal(labs[b], p.segment_instances(ref, scores[b], threshold=0.5))


def test_pose_instance_maps_sweep_with_boxes_and_mixed_sizes(rng):
    kp = np.zeros((2, 17, 3))
    kp[0, 0] = (1.5, 1.5, 2)
    kp[1, 0] = (6.5, 4.5, 2)
    boxes = [np.array([[0, 0, 5, 6], [3, 0, 5, 6]]), np.array([[0, 0, 8, 5], [0, 0, 8, 5]])]
    imgs = [np.zeros((6, 8), np.uint8), np.zeros((5, 8), np.uint8)]
    maps = gpu.pose_instance_maps(imgs, [kp, kp], method="sweep", boxes=boxes)
    for b in range(2):
        ref = p.pose_instance_map(imgs[b], kp, method="sweep", boxes=boxes[b])
        np.testing.assert_allclose(maps[b], ref, atol=1e-6, rtol=0)


def test_pose_instance_maps_bad_input():
    kp = np.zeros((1, 17, 3))
    with pytest.raises(ValueError, match=r"keypoints_list: expected one \(n, 17, 3\) array per image \(2\), got 1"):
        gpu.pose_instance_maps(np.zeros((2, 4, 4)), [kp], method="sweep")
    with pytest.raises(ValueError, match=r"method: expected one of 'rag', 'sweep', 'geodesic', got 'edt'"):
        gpu.pose_instance_maps(np.zeros((1, 4, 4)), [kp], method="edt")
    with pytest.raises(ValueError, match=r"images: expected \(B, H, W\) or \(B, H, W, 3\) images, got shape \(4, 4\)"):
        gpu.pose_instance_maps(np.zeros((4, 4)), [kp] * 4, method="sweep")


@pytest.mark.gpu
def test_cupy_pipeline_stays_on_device(rng):
    cupy = pytest.importorskip("cupy")
    from p2i_prior.synthetic import make_scene

    sc = [make_scene(s, 120, 160, n_people=3) for s in range(4)]
    imgs = cupy.asarray(np.stack([s.image for s in sc]))
    maps = gpu.pose_instance_maps(imgs, [s.keypoints for s in sc], n_segments=200)
    for b, s in enumerate(sc):
        assert isinstance(maps[b], cupy.ndarray)
        labels = p.slic(s.image, n_segments=200)
        ref = p.pose_instance_map(s.image, s.keypoints, labels=labels)
        np.testing.assert_allclose(maps[b].get(), ref, atol=1e-5)


def test_gpu_bench_imports_and_parses(capsys):
    from p2i_bench import gpu_bench

    args = gpu_bench.parse_args(["--quick", "--cases", "sobel,fw"])
    assert args.cases == ["sobel", "fw"] and args.fw_sizes == [256] and args.batch == 8
    assert gpu_bench.parse_args([]).fw_sizes == [1024, 4096]
    with pytest.raises(SystemExit, match=r"--cases: expected a subset of .*got unknown \['slow'\]"):
        gpu_bench.parse_args(["--cases", "sobel,slow"])
    with pytest.raises(SystemExit, match=r"--batch: expected an integer >= 1, got 0"):
        gpu_bench.parse_args(["--batch", "0"])
    if not _device.simulator():
        pytest.skip("a GPU is present: the bench would run")
    assert gpu_bench.main(["--quick"]) == 2
    assert "no CUDA GPU visible" in capsys.readouterr().err


def test_pose_instance_maps_with_gpu_slic(rng):
    """labels=None: SLIC runs on the device too; the CPU pipeline with CPU SLIC agrees."""
    H, W = 10, 12
    imgs = rng.integers(0, 256, (1, H, W, 3), dtype=np.uint8)
    kps = [np.stack([_person(rng, H, W) for _ in range(2)])]
    (got,) = gpu.pose_instance_maps(imgs, kps, n_segments=6)
    labels = np.asarray(p.slic(imgs[0], n_segments=6))
    gpu_labels = gpu.slic(imgs[0], n_segments=6)
    assert (gpu_labels == labels).mean() >= 0.995
    if (gpu_labels == labels).all():
        np.testing.assert_allclose(got, p.pose_instance_map(imgs[0], kps[0], n_segments=6), atol=1e-6)


def test_batch_is_split_to_fit_free_device_memory(rng, monkeypatch):
    B, H, W = 3, 10, 12
    imgs = rng.integers(0, 256, (B, H, W, 3), dtype=np.uint8)
    kps = [np.stack([_person(rng, H, W) for _ in range(2)]) for _ in range(B)]
    scores = rng.random((B, H, W)).astype(np.float32)
    whole, labs = gpu.pose_instance_maps(imgs, kps, method="sweep", person_scores=scores)
    calls = []
    real = pipeline_device.pose_instance_maps_device

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    # room for exactly one image at a time: three sub-batches, the same numbers
    one = pipeline_device.bytes_per_image(H, W, 2, "sweep")
    monkeypatch.setattr(_device, "free_device_bytes", lambda: int(one / 0.8) + 1)
    monkeypatch.setattr(pipeline_device, "pose_instance_maps_device", spy)
    split, labs2 = real(imgs, kps, method="sweep", person_scores=scores)
    assert len(calls) == 3
    for b in range(B):
        np.testing.assert_array_equal(np.asarray(split[b]), np.asarray(whole[b]))
        np.testing.assert_array_equal(np.asarray(labs2[b]), np.asarray(labs[b]))


def test_gpu_bench_runs_its_new_cases_under_the_simulator():
    """The SLIC case, the pipeline from images (checked against the CPU) and Floyd–Warshall run
    (tiny sizes; on the simulator the times mean nothing)."""
    from p2i_bench import gpu_bench

    args = gpu_bench.parse_args(["--cases", "slic,fw,pipeline", "--height", "16", "--width", "16",
                                 "--batch", "1", "--people", "2", "--segments", "4", "--fw-sizes", "8",
                                 "--repeat", "1"])
    report = gpu_bench.run(args)
    assert report["cases"]["slic"]["label_agreement_with_cpu"] >= 0.99
    assert report["cases"]["pipeline_from_images"]["max_abs_map_diff_vs_cpu"] < 1e-5
    assert "floyd_warshall_8" in report["cases"]
    assert report["targets"]["pipeline"]["note"].startswith("SLIC included")
