"""The unexplained-pixels rule of segment_people: p2i_prior.gates.owner_reach and
drop_unexplained (issue 12, item 2: people nobody's skeleton explains)."""

import numpy as np
import pytest


def test_owner_reach_against_a_brute_force_distance(rng):
    from p2i_prior.gates import instance_scales, owner_reach
    from p2i_prior.skeleton import skeleton_mask

    H, W = 24, 30
    kp = np.zeros((2, 17, 3))
    kp[0, [5, 11]] = [(4, 3, 2), (5, 15, 2)]
    kp[1, [6, 12, 14]] = [(22, 4, 2), (24, 14, 2), (25, 21, 2)]
    lab = rng.integers(0, 3, (H, W)).astype(np.int32)
    got = owner_reach(lab, kp)
    sk = skeleton_mask(kp, (H, W))
    yy, xx = np.mgrid[:H, :W]
    for k in range(2):
        pts = np.argwhere(sk[k])
        d = np.sqrt(((yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2).min(-1))
        m = lab == k + 1
        np.testing.assert_allclose(got[m], d[m] / instance_scales(kp)[k], rtol=1e-6)
    assert np.isinf(got[lab == 0]).all()
    with pytest.raises(ValueError, match=r"labels: expected values in \[0, 2\]"):
        owner_reach(lab + 1, kp)


def test_drop_unexplained_respects_min_keypoints():
    from p2i_prior.gates import drop_unexplained

    lab = np.ones((1, 60), np.int32)
    kp = np.zeros((1, 17, 3))
    kp[0, [5, 6, 11, 12]] = [(0.5, 0.5, 2), (4.5, 0.5, 2), (0.5, 0.5, 2), (4.5, 0.5, 2)]
    assert drop_unexplained(lab, kp, 0.5, min_keypoints=4).sum() < 60
    np.testing.assert_array_equal(drop_unexplained(lab, kp, 0.5, min_keypoints=5), lab)  # 4 < 5
    with pytest.raises(ValueError, match="min_keypoints: expected an integer in"):
        drop_unexplained(lab, kp, 0.5, min_keypoints=0)
    with pytest.raises(ValueError, match="reach: expected a finite number > 0"):
        drop_unexplained(lab, kp, -1)


def test_keypoint_less_person_touching_a_skeleton_stays_unassigned():
    """A synthetic scene: two people touch; the second has no keypoints (an ignore region in COCO).

    The component gate alone hands the keypoint-less person to the other skeleton (issue 12,
    item 2); with ``reach`` its pixels beyond that skeleton's reach stay 0 (here 78% of them:
    the rest lie within 0.15 body heights of the other skeleton, where distance cannot tell),
    and the skeleton keeps its own person."""
    from scipy import ndimage

    from p2i_prior.gates import owner_reach
    from p2i_prior.pipeline import segment_people
    from p2i_prior.synthetic import make_scene

    s = make_scene(seed=7, height=120, width=160, n_people=2, overlap=0.5, score_noise=0)
    assert (ndimage.binary_dilation(s.masks[0]) & s.masks[1]).any()  # they touch: one component
    kp = s.keypoints.copy()
    kp[1] = 0  # the second person has no keypoints
    score = s.masks.any(0).astype(np.float32)
    for method in ("sweep", "rag"):
        off = segment_people(s.image, kp, score, method=method)
        assert (off[s.masks[1]] == 1).all(), method  # the failure, reproduced
        far = (owner_reach(off, kp) > 0.15) & s.masks[1]
        on = segment_people(s.image, kp, score, method=method, reach=0.15, reach_min_keypoints=8)
        assert (on[far] == 0).all() and (on[s.masks[1]] == 0).mean() > 0.75, method
        assert (on[s.masks[0]] == 1).mean() > 0.98, method
        np.testing.assert_array_equal(on, np.where(far, 0, off))  # nothing else changes
        # a skeleton with fewer labelled keypoints than reach_min_keypoints keeps everything
        np.testing.assert_array_equal(
            segment_people(s.image, kp, score, method=method, reach=0.15, reach_min_keypoints=17), off)


def test_segment_people_checks_reach_before_any_work():
    from p2i_prior.pipeline import segment_people

    img, kp, score = np.zeros((8, 8)), np.ones((1, 17, 3)), np.ones((8, 8))
    with pytest.raises(ValueError, match="reach: expected a finite number > 0, got 0.0"):
        segment_people(img, kp, score, reach=0.0)
    with pytest.raises(ValueError, match="reach_min_keypoints: expected an integer >= 1 and <= 17, got 18"):
        segment_people(img, kp, score, reach=0.2, reach_min_keypoints=18)
