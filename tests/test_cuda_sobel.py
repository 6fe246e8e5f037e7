"""CUDA Sobel kernels (simulator without a GPU) against the CPU twins and scikit-image."""

import numpy as np
import pytest
from skimage import color, filters

from p2i_prior import _device, sobel as cpu_sobel
from p2i_prior.kernels import cuda_sobel as ks
from p2i_prior.kernels.sobel import rgb_to_grey, sobel_grey

from cuda_sim import gpu, ATOL32, needs_cuda, to_device

pytestmark = needs_cuda


def test_rgb_kernel_batched_matches_cpu_twin(rng):
    from numba import cuda

    img = rng.integers(0, 256, (2, 9, 13, 3), dtype=np.uint8)
    out = cuda.device_array((2, 9, 13), np.float32)
    ks.launch_sobel_rgb(to_device(img), 1 / 255, out, block=(4, 4))  # 4 x 3 blocks, ragged edges
    got = out.copy_to_host()
    for b in range(2):
        ref = sobel_grey(rgb_to_grey(img[b], 1 / 255))
        np.testing.assert_allclose(got[b], ref, atol=ATOL32, rtol=0)
        np.testing.assert_allclose(got[b], filters.sobel(color.rgb2gray(img[b])), atol=1e-5)


def test_grey_kernel_matches_cpu_twin(rng):
    from numba import cuda

    img = rng.random((1, 7, 6))
    grey = cuda.device_array((1, 7, 6), np.float64)
    out = cuda.device_array((1, 7, 6), np.float32)
    ks.launch_sobel_grey(to_device(img), 1.0, grey, out, block=(4, 4))
    np.testing.assert_allclose(out.copy_to_host()[0], sobel_grey(img[0]), atol=ATOL32, rtol=0)


@pytest.mark.parametrize(
    "shape, dtype",
    [((1, 1), np.float64), ((1, 7), np.uint8), ((6, 1, 3), np.uint8), ((5, 6), np.uint16),
     ((5, 6, 3), np.int16), ((4, 5), np.bool_), ((6, 5, 3), np.float32)],
)
def test_gpu_sobel_equals_host_sobel(rng, shape, dtype):
    if dtype == np.bool_:
        img = rng.random(shape) < 0.5
    elif np.dtype(dtype).kind == "f":
        img = rng.random(shape).astype(dtype)
    else:
        img = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    got = gpu.sobel(img)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == shape[:2]
    np.testing.assert_allclose(got, cpu_sobel(img), atol=ATOL32, rtol=0)


def test_device_array_in_device_array_out(rng):
    img = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    got = gpu.sobel(to_device(img))
    assert _device.kind_of(got) == "numba"
    np.testing.assert_allclose(got.copy_to_host(), cpu_sobel(img), atol=ATOL32, rtol=0)


def test_sobel_batch(rng):
    imgs = rng.integers(0, 256, (3, 5, 6, 3), dtype=np.uint8)
    got = gpu.sobel_batch(imgs)
    assert got.shape == (3, 5, 6)
    for b in range(3):
        np.testing.assert_allclose(got[b], cpu_sobel(imgs[b]), atol=ATOL32, rtol=0)


@pytest.mark.parametrize(
    "bad, exc, msg",
    [
        (np.zeros((4,)), ValueError, r"image: expected \(H, W\) or \(H, W, 3\) image, got shape \(4,\)"),
        (np.zeros((4, 4, 4)), ValueError, r"image: .*got shape \(4, 4, 4\) \(4 channels\)"),
        (np.zeros((0, 4)), ValueError, r"image: expected a non-empty image, got shape \(0, 4\)"),
        (np.array([[np.nan, 0.0]]), ValueError, r"image: expected finite values, got 1 NaN/inf"),
        (np.zeros((3, 3), np.int64), TypeError, r"image: expected a uint8, uint16.*got dtype int64"),
        (np.full((3, 3), -1, np.int16), ValueError, r"image: expected non-negative intensities, got minimum -1"),
        (np.zeros((3, 3), complex), TypeError, r"image: expected a numeric array|image: expected a real-valued image"),
    ],
)
def test_gpu_sobel_bad_input(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        gpu.sobel(bad)


def test_sobel_batch_bad_shape():
    with pytest.raises(ValueError, match=r"images: expected \(B, H, W\) or \(B, H, W, 3\) images, got shape \(2, 3\)"):
        gpu.sobel_batch(np.zeros((2, 3)))


@pytest.mark.gpu
def test_cupy_zero_copy_in_and_out(rng):
    cupy = pytest.importorskip("cupy")
    img = cupy.asarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    out = gpu.sobel(img)
    assert isinstance(out, cupy.ndarray) and out.device.id == img.device.id
    np.testing.assert_allclose(out.get(), cpu_sobel(img.get()), atol=ATOL32, rtol=0)


@pytest.mark.gpu
def test_torch_cuda_in_and_out(rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    img = torch.from_numpy(rng.random((33, 40))).cuda()
    out = gpu.sobel(img)
    assert out.is_cuda and out.dtype == torch.float32
    np.testing.assert_allclose(out.cpu().numpy(), cpu_sobel(img.cpu().numpy()), atol=ATOL32, rtol=0)
