import numpy as np
import pytest
from skimage import color, data, filters

from p2i_prior import rgb2gray, sobel

ATOL = 1e-5  # float32 output vs scikit-image's float64


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (6, 1), (2, 2), (17, 23), (33, 20, 3)])
def test_sobel_matches_skimage_random(rng, shape):
    img = rng.random(shape)
    ref = filters.sobel(color.rgb2gray(img) if img.ndim == 3 else img)
    out = sobel(img)
    assert out.dtype == np.float32 and out.shape == shape[:2]
    np.testing.assert_allclose(out, ref, atol=ATOL)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_sobel_integer_images_scaled_like_img_as_float(rng, dtype):
    img = rng.integers(0, np.iinfo(dtype).max, (40, 30, 3), endpoint=True).astype(dtype)
    np.testing.assert_allclose(sobel(img), filters.sobel(color.rgb2gray(img)), atol=ATOL)
    grey = img[..., 0]
    np.testing.assert_allclose(sobel(grey), filters.sobel(grey), atol=ATOL)


def test_sobel_real_photo():
    img = data.astronaut()
    np.testing.assert_allclose(sobel(img), filters.sobel(color.rgb2gray(img)), atol=ATOL)


def test_rgb2gray_matches_skimage(rng):
    img = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    np.testing.assert_allclose(rgb2gray(img), color.rgb2gray(img), atol=1e-12)


def test_sobel_constant_image_is_zero():
    assert not sobel(np.full((5, 6, 3), 77, np.uint8)).any()


def test_sobel_torch_in_torch_out(rng):
    torch = pytest.importorskip("torch")
    img = rng.random((8, 9))
    out = sobel(torch.from_numpy(img))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), filters.sobel(img), atol=ATOL)


@pytest.mark.parametrize(
    "bad, exc, msg",
    [
        (np.zeros((4,)), ValueError, r"image: expected \(H, W\) or \(H, W, 3\) image, got shape \(4,\)"),
        (np.zeros((4, 4, 4)), ValueError, r"image: .*got shape \(4, 4, 4\) \(4 channels\)"),
        (np.zeros((0, 4)), ValueError, r"image: expected a non-empty image, got shape \(0, 4\)"),
        (np.array([[np.nan, 0.0]]), ValueError, r"image: expected finite values, got 1 NaN/inf"),
        (np.zeros((3, 3), np.int64), TypeError, r"image: expected a uint8, uint16.*got dtype int64"),
        (np.full((3, 3), -1, np.int16), ValueError, r"image: expected non-negative intensities"),
        (np.zeros((3, 3), complex), TypeError, r"image: expected a real-valued image, got dtype complex128"),
        ("not an image", TypeError, r"image: expected a numeric array"),
    ],
)
def test_sobel_bad_input(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        sobel(bad)
