import numpy as np
import pytest

from p2i_prior import (
    COCO_FLIP_PAIRS,
    COCO_KEYPOINTS,
    COCO_SKELETON,
    check_keypoints,
    seed_superpixels,
    skeleton_mask,
    skeleton_pixels,
)


def coco_json_skeleton():
    # the 1-based list in every COCO person_keypoints json
    return [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
            [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]


def test_constants_match_coco():
    assert len(COCO_KEYPOINTS) == 17 and len(COCO_SKELETON) == 19
    assert [[a + 1, b + 1] for a, b in COCO_SKELETON] == coco_json_skeleton()
    for a, b in COCO_FLIP_PAIRS:
        assert COCO_KEYPOINTS[a].replace("left", "right") == COCO_KEYPOINTS[b]


def naive_segment(x0, y0, x1, y1, H, W):
    """Reference: dense sampling (100 per pixel) of the segment, floor to pixels."""
    n = int(max(abs(x1 - x0), abs(y1 - y0)) * 100) + 2
    t = np.linspace(0, 1, n)
    c = np.floor(x0 + (x1 - x0) * t).astype(int)
    r = np.floor(y0 + (y1 - y0) * t).astype(int)
    ok = (r >= 0) & (r < H) & (c >= 0) & (c < W)
    return set(zip(r[ok].tolist(), c[ok].tolist()))


def test_limb_pixels_cover_the_segment_and_stay_8_connected(rng):
    H, W = 40, 50
    for _ in range(30):
        kp = np.zeros((1, 17, 3))
        kp[0, 5] = (*rng.uniform(-10, 60, 2), 2)
        kp[0, 6] = (*rng.uniform(-10, 60, 2), 1)
        off, r, c = skeleton_pixels(kp, (H, W))
        got = set(zip(r.tolist(), c.tolist()))
        ref = naive_segment(kp[0, 5, 0], kp[0, 5, 1], kp[0, 6, 0], kp[0, 6, 1], H, W)
        # every drawn pixel is on the segment; the 8-connected chain may cut corners the
        # segment only grazes, but spans the in-image part of the segment
        assert got <= ref
        if ref:
            rr, cc = np.array(sorted(ref)).T
            assert len(got) >= max(np.ptp(rr), np.ptp(cc)) - 1  # a grazed corner at each end
        # the limb's chain comes first, then one pixel per in-image keypoint
        inside = sum(0 <= kp[0, j, 0] < W and 0 <= kp[0, j, 1] < H for j in (5, 6))
        pts = np.stack([r, c], 1)[: len(r) - inside]
        if len(pts) > 1:
            steps = np.abs(np.diff(pts, axis=0)).max(axis=1)
            assert steps.max() <= 1, "consecutive pixels are 8-neighbours"


def test_limbs_drawn_only_when_both_ends_labelled():
    kp = np.zeros((2, 17, 3))
    kp[0, 5] = (1.5, 1.5, 2)
    kp[0, 7] = (8.5, 1.5, 0)  # elbow not labelled: no limb, only the shoulder pixel
    kp[1, 5] = (1.5, 3.5, 2)
    kp[1, 7] = (8.5, 3.5, 1)  # occluded but labelled: the limb is drawn
    m = skeleton_mask(kp, (5, 10))
    assert m[0].sum() == 1 and m[0, 1, 1]
    assert m[1, 3, 1:9].all() and m[1].sum() == 8


def test_far_outside_keypoints_are_clipped_not_slow():
    kp = np.zeros((1, 17, 3))
    kp[0, 5] = (2.5, 2.5, 2)
    kp[0, 6] = (1e15, 2.5, 2)
    m = skeleton_mask(kp, (5, 10))
    assert m[0, 2, 2:].all() and m[0].sum() == 8
    kp[0, 5] = (-1e15, -1e15, 2)
    kp[0, 6] = (-1e15, 1e15, 2)
    assert skeleton_mask(kp, (5, 10)).sum() == 0  # entirely outside: no pixel


def test_seed_superpixels(rng):
    labels = np.repeat(np.arange(4), 5)[None, :].repeat(6, axis=0)  # 4 vertical stripes of width 5
    kp = np.zeros((3, 17, 3))
    kp[0, 11] = (1.0, 2.0, 2)
    kp[0, 13] = (12.0, 2.0, 2)  # hip to knee across stripes 0..2
    kp[1, 0] = (19.5, 5.5, 2)  # a lone nose in stripe 3
    seeds = seed_superpixels(labels, kp)
    assert seeds.tolist() == [[True, True, True, False], [False, False, False, True], [False] * 4]


def test_check_keypoints_ignores_unlabelled_nan():
    kp = np.zeros((1, 17, 3))
    kp[0, 3] = (np.nan, np.inf, 0)
    out = check_keypoints(kp)
    assert np.isfinite(out).all()


@pytest.mark.parametrize(
    "kp, exc, msg",
    [
        (np.zeros((2, 16, 3)), ValueError, r"keypoints: expected \(n, 17, 3\) array of \(x, y, v\) \(17 COCO keypoints\), got shape \(2, 16, 3\)"),
        (np.zeros((17, 3)), ValueError, r"keypoints: expected \(n, 17, 3\) array of \(x, y, v\), got shape \(17, 3\)"),
        (np.zeros((1, 17, 2)), ValueError, r"got shape \(1, 17, 2\)"),
    ],
)
def test_check_keypoints_shape(kp, exc, msg):
    with pytest.raises(exc, match=msg):
        check_keypoints(kp)


def test_check_keypoints_values():
    kp = np.zeros((2, 17, 3))
    kp[1, 9, 2] = 3
    with pytest.raises(ValueError, match=r"keypoints: expected visibility v in \{0, 1, 2\}, got 3.0 at instance 1, keypoint 9 \(left_wrist\)"):
        check_keypoints(kp)
    kp[1, 9] = (np.nan, 4, 2)
    with pytest.raises(ValueError, match=r"keypoints: expected finite \(x, y\) for labelled keypoints \(v > 0\), got \(nan, 4.0\) at instance 1, keypoint 9"):
        check_keypoints(kp)


def test_seed_superpixels_bad_labels():
    with pytest.raises(TypeError, match=r"labels: expected an integer label image, got dtype float64"):
        seed_superpixels(np.zeros((3, 3)), np.zeros((1, 17, 3)))
    with pytest.raises(ValueError, match=r"shape: expected H >= 1 and W >= 1"):
        skeleton_pixels(np.zeros((1, 17, 3)), (0, 3))
