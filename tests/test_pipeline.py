import numpy as np
import pytest

from p2i_prior import (
    box_instances,
    masks_from_labels,
    masks_to_rle,
    pose_instance_map,
    pose_instance_maps,
    segment_instances,
)
from p2i_prior.masks import rle_to_masks
from p2i_prior.pipeline import instance_distances, instance_scales
from p2i_prior.synthetic import make_scene

METHODS = ["rag", "sweep", "geodesic"]
SMALL = dict(height=96, width=128)


@pytest.fixture(scope="module")
def scene():
    return make_scene(seed=3, n_people=3, **SMALL)


def iou(a, b):
    union = (a | b).sum()
    return (a & b).sum() / union if union else 1.0


@pytest.mark.parametrize("method", METHODS)
def test_map_rows_sum_to_one(scene, method):
    pm = pose_instance_map(scene.image, scene.keypoints, method=method, n_segments=200)
    assert pm.shape == scene.image.shape[:2] + (3,) and pm.dtype == np.float32
    np.testing.assert_allclose(pm.sum(axis=-1), 1.0, atol=1e-5)
    assert (pm >= 0).all()


def test_solvers_give_identical_maps(scene):
    a = pose_instance_map(scene.image, scene.keypoints, solver="sssp", n_segments=150)
    b = pose_instance_map(scene.image, scene.keypoints, solver="apsp", n_segments=150)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", METHODS)
def test_instance_order_permutes_the_map(scene, method):
    perm = np.array([2, 0, 1])
    a = pose_instance_map(scene.image, scene.keypoints, method=method, n_segments=150)
    b = pose_instance_map(scene.image, scene.keypoints[perm], method=method, n_segments=150)
    np.testing.assert_allclose(a[..., perm], b, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_skeleton_pixels_go_to_their_own_instance(method, rng):
    # two people far apart on a textured background: every skeleton pixel is its own instance's
    from scipy import ndimage

    img = (ndimage.gaussian_filter(rng.random((80, 120, 3)), (3, 3, 0)) * 255).astype(np.uint8)
    kp = np.zeros((2, 17, 3))
    for i, x in enumerate((25.0, 95.0)):
        kp[i, 0] = (x, 10, 2)
        kp[i, 5], kp[i, 6] = (x - 8, 25, 2), (x + 8, 25, 1)
        kp[i, 11], kp[i, 12] = (x - 6, 50, 2), (x + 6, 50, 2)
        kp[i, 15], kp[i, 16] = (x - 7, 75, 2), (x + 7, 75, 2)
    from p2i_prior import skeleton_mask

    sk = skeleton_mask(kp, img.shape[:2])
    pm = pose_instance_map(img, kp, method=method, n_segments=300)
    labels = segment_instances(pm, np.ones(img.shape[:2]))
    for i in range(2):
        assert (labels[sk[i]] == i + 1).all()


def test_no_people_and_invisible_people(scene):
    H, W = scene.image.shape[:2]
    pm = pose_instance_map(scene.image, np.zeros((0, 17, 3)))
    assert pm.shape == (H, W, 0)
    assert segment_instances(pm, np.ones((H, W))).tolist() == np.zeros((H, W), int).tolist()
    kp = np.concatenate([scene.keypoints[:1], np.zeros((1, 17, 3))])
    for method in METHODS:
        pm = pose_instance_map(scene.image, kp, method=method, n_segments=100)
        assert (pm[..., 1] == 0).all() and np.allclose(pm[..., 0], 1.0)
    pm = pose_instance_map(scene.image, np.zeros((2, 17, 3)), method="sweep")
    assert (pm == 0).all()  # nobody reachable: all-zero rows, documented


def test_gates_boxes_and_extent(scene):
    H, W = scene.image.shape[:2]
    pm = pose_instance_map(scene.image, scene.keypoints, method="sweep", boxes=scene.boxes)
    from p2i_prior.pipeline import _box_masks

    inside = _box_masks(scene.boxes, H, W)
    assert (pm[~np.moveaxis(inside, 0, -1)] == 0).all()
    rows = pm.sum(-1)
    np.testing.assert_allclose(rows[inside.any(0)], 1.0, atol=1e-5)
    assert (rows[~inside.any(0)] == 0).all()
    pm2 = pose_instance_map(scene.image, scene.keypoints, method="sweep", extent=0.5)
    assert (pm2.sum(-1) == 0).any() and np.allclose(pm2.sum(-1)[pm2.sum(-1) > 0], 1.0, atol=1e-5)


def test_instance_scales():
    kp = np.zeros((4, 17, 3))
    kp[0, 11], kp[0, 13] = (10, 100, 2), (10, 149, 2)  # thigh of 49 px: 200 px tall
    kp[0, 5], kp[0, 6] = (10, 45, 2), (35.9, 45, 1)  # shoulders and torso imply less: the max wins
    kp[1, 1], kp[1, 2] = (5, 5, 2), (8.5, 5, 2)  # eyes only: face proportions, 100 px
    kp[2, 0] = (5, 5, 1)  # a lone nose: the 16 px minimum
    s = instance_scales(kp)
    np.testing.assert_allclose(s[:3], [200.0, 100.0, 16.0])
    assert np.isnan(s[3])


@pytest.mark.parametrize("method", METHODS)
def test_prior_beats_boxes_on_overlapping_people(method):
    # with the exact score the keypoint prior assigns the person pixels, the box baseline only
    # splits them by boxes: on crowded scenes the prior's mean IoU is higher (measured on 6
    # scenes: box 0.62, rag 0.70, sweep 0.77, geodesic 0.78)
    prior, boxes = [], []
    for seed in range(6):
        sc = make_scene(seed=200 + seed, n_people=4, height=120, width=160)
        pm = pose_instance_map(sc.image, sc.keypoints, method=method, n_segments=300)
        lp = masks_from_labels(segment_instances(pm, sc.score_exact), len(sc.masks))
        lb = masks_from_labels(box_instances(sc.score_exact, sc.boxes), len(sc.masks))
        prior += [iou(lp[i], sc.masks[i]) for i in range(len(sc.masks))]
        boxes += [iou(lb[i], sc.masks[i]) for i in range(len(sc.masks))]
    assert np.mean(prior) > np.mean(boxes) + 0.04


def test_segment_instances_rules():
    pm = np.zeros((2, 2, 3), np.float32)
    pm[0, 0] = (0.2, 0.5, 0.3)
    pm[0, 1] = (0.5, 0.5, 0.0)  # tie: lower instance number
    pm[1, 0] = (0.0, 0.0, 1.0)
    score = np.array([[0.9, 0.6], [0.4, 1.0]])  # (1, 0) below threshold; (1, 1) all-zero row
    assert segment_instances(pm, score).tolist() == [[2, 1], [0, 0]]
    assert segment_instances(pm, score, threshold=0.3).tolist() == [[2, 1], [3, 0]]


def test_box_instances_overlaps_go_to_the_smallest_box():
    score = np.ones((6, 8))
    score[5, 7] = 0.1
    boxes = np.array([[0, 0, 8, 6], [2, 1, 3, 3], [2, 1, 3, 3], [7.5, 0, 10, 10]])
    lab = box_instances(score, boxes)
    assert (lab[1:4, 2:5] == 2).all()  # inside both: the small one (and the lower of equal ones)
    assert lab[0, 0] == 1 and lab[5, 7] == 0  # below threshold
    assert lab[0, 7] == 1  # centre 7.5 is inside box 4 too, but box 1 is smaller
    assert box_instances(score, np.zeros((0, 4))).max() == 0


def test_masks_and_rle_roundtrip(rng):
    labels = rng.integers(0, 4, (7, 9))
    masks = masks_from_labels(labels, 5)
    assert masks.shape == (5, 7, 9) and not masks[4].any()
    np.testing.assert_array_equal(rle_to_masks(masks_to_rle(masks)), masks)
    from pycocotools import mask as mask_utils

    assert mask_utils.area([{**r, "counts": r["counts"].encode()} for r in masks_to_rle(masks)]).tolist() == masks.sum((1, 2)).tolist()


def test_batched_equals_single(scene):
    sc2 = make_scene(seed=9, n_people=2, **SMALL)
    maps = pose_instance_maps([scene.image, sc2.image], [scene.keypoints, sc2.keypoints], method="sweep")
    np.testing.assert_array_equal(maps[1], pose_instance_map(sc2.image, sc2.keypoints, method="sweep"))


def test_torch_in_torch_out(scene):
    torch = pytest.importorskip("torch")
    pm = pose_instance_map(torch.from_numpy(scene.image), torch.from_numpy(scene.keypoints), method="sweep")
    assert isinstance(pm, torch.Tensor) and pm.shape == (96, 128, 3)


@pytest.mark.parametrize(
    "call, exc, msg",
    [
        (lambda s: pose_instance_map(s.image, np.zeros((2, 16, 3))), ValueError, r"keypoints: expected \(n, 17, 3\).*got shape \(2, 16, 3\)"),
        (lambda s: pose_instance_map(s.image, s.keypoints, temperature=-1.0), ValueError, r"temperature: expected a finite number > 0, got -1.0"),
        (lambda s: pose_instance_map(s.image, s.keypoints, method="knn"), ValueError, r"method: expected one of 'rag', 'sweep', 'geodesic', got 'knn'"),
        (lambda s: pose_instance_map(s.image, s.keypoints, boxes=np.zeros((2, 4))), ValueError, r"boxes: expected \(n, 4\) COCO \[x, y, w, h\] boxes with n = 3 \(one per instance\), got shape \(2, 4\)"),
        (lambda s: segment_instances(np.zeros((96, 128, 3)), np.zeros((96, 127))), ValueError, r"person_score: expected shape \(96, 128\) \(the map's H, W\), got \(96, 127\)"),
        (lambda s: segment_instances(np.zeros((4, 4, 1)), np.full((4, 4), 2.0)), ValueError, r"person_score: expected probabilities in \[0, 1\], got range \[2.0, 2.0\]"),
        (lambda s: segment_instances(np.zeros((4, 4, 1)), np.ones((4, 4)), threshold=1.5), ValueError, r"threshold: expected a number in \[0, 1\], got 1.5"),
        (lambda s: segment_instances(np.zeros((4, 4)), np.ones((4, 4))), ValueError, r"pose_map: expected \(H, W, n\) pose-instance map, got shape \(4, 4\)"),
        (lambda s: box_instances(np.ones((4, 4)), np.array([[0, 0, -1, 2]])), ValueError, r"boxes: expected w >= 0 and h >= 0, got \[0.0, 0.0, -1.0, 2.0\] for instance 0"),
        (lambda s: box_instances(np.ones((4, 4)), np.zeros((3,))), ValueError, r"boxes: expected \(n, 4\) COCO \[x, y, w, h\] boxes, got shape \(3,\)"),
        (lambda s: pose_instance_maps([s.image], []), ValueError, r"keypoints_list: expected one \(n, 17, 3\) array per image \(1\), got 0"),
        (lambda s: masks_from_labels(np.array([[0, 3]]), 2), ValueError, r"labels: expected values in 0..n = 0..2, got maximum 3"),
    ],
)
def test_bad_input(scene, call, exc, msg):
    with pytest.raises(exc, match=msg):
        call(scene)


def test_component_gate_keeps_only_touched_components():
    from p2i_prior import component_gate

    score = np.zeros((6, 12))
    score[:, :3] = 1.0  # person A's component
    score[:, 8:] = 0.9  # somebody without keypoints
    score[0, 5] = 0.7  # a speck touched by nobody
    kp = np.zeros((2, 17, 3))
    kp[0, 0] = (1.5, 2.5, 2)
    gate = component_gate(kp, score)
    assert gate[0].sum() == 18 and gate[0][:, :3].all()
    assert not gate[1].any()  # no keypoints: no component


@pytest.mark.parametrize("method", METHODS)
def test_segment_people_without_components_equals_map_fusion(scene, method):
    from p2i_prior import segment_people
    from p2i_prior.pipeline import instance_distances

    # geodesic: the per-instance travel times (the default decides contested pixels in one
    # multi-label march, tested against these in test_geodesic_segment.py)
    extra = {"exact_geodesic": True} if method == "geodesic" else {}
    a = segment_people(scene.image, scene.keypoints, scene.score, method=method, components=False,
                       n_segments=150, **extra)
    b = segment_instances(pose_instance_map(scene.image, scene.keypoints, method=method, n_segments=150), scene.score)
    differ = a != b
    if differ.any():  # only where two instances are at (float32-)equal distance
        d = np.sort(instance_distances(scene.image, scene.keypoints, method=method, n_segments=150), axis=0)
        assert np.allclose(d[0][differ], d[1][differ], rtol=1e-5)


def test_segment_people_leaves_people_without_keypoints_alone(scene):
    from p2i_prior import segment_people

    # drop the last person's keypoints: with the exact score, its pixels that form their own
    # component stay background instead of joining the nearest skeleton
    kp = scene.keypoints[:2]
    labels = segment_people(scene.image, kp, scene.score_exact, method="sweep")
    plain = segment_people(scene.image, kp, scene.score_exact, method="sweep", components=False)
    assert labels.max() <= 2 and ((labels > 0) <= (plain > 0)).all()
    from scipy import ndimage

    comp, _ = ndimage.label(scene.score_exact >= 0.5, structure=np.ones((3, 3)))
    from p2i_prior import skeleton_mask

    touched = np.unique(comp[skeleton_mask(kp, comp.shape).any(0)])
    assert not labels[~np.isin(comp, touched)].any()


def test_map_memory_limit_is_refused_before_work(scene):
    with pytest.raises(ValueError, match=r"max_bytes: the \(H, W, n\) = \(96, 128, 3\) map and its distances need 0.00 GiB, over the limit of 0.00 GiB; use segment_people"):
        pose_instance_map(scene.image, scene.keypoints, max_bytes=1000)
    with pytest.raises(ValueError, match=r"max_bytes: expected an integer >= 1, got 0"):
        pose_instance_map(scene.image, scene.keypoints, max_bytes=0)


@pytest.mark.parametrize("method", METHODS)
def test_segment_people_chunks_do_not_change_labels(scene, method):
    from p2i_prior import segment_people

    kw = dict(method=method, n_segments=150, boxes=scene.boxes)
    a = segment_people(scene.image, scene.keypoints, scene.score, chunk=1, **kw)
    b = segment_people(scene.image, scene.keypoints, scene.score, chunk=64, **kw)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match=r"segment_people: unexpected keyword 'segments'"):
        segment_people(scene.image, scene.keypoints, scene.score, segments=3)


def test_segment_instances_matches_numpy_reference(rng):
    pm = rng.random((23, 31, 4)).astype(np.float32)
    pm[rng.random((23, 31)) < 0.1] = 0.0  # rows with nobody reachable
    pm[3, 4] = (0.5, 0.5, 0.0, 0.0)  # a tie
    score = rng.random((23, 31)).astype(np.float32)
    heat = pm * score[..., None]
    ref = (np.argmax(heat, axis=-1) + 1).astype(np.int32)
    ref[(score < 0.3) | (pm.max(-1) <= 0)] = 0
    np.testing.assert_array_equal(segment_instances(pm, score, threshold=0.3), ref)


def test_rag_map_via_superpixels_equals_per_pixel_softmax(scene):
    from p2i_prior.pipeline import DEFAULT_TEMPERATURE, softmax_instances

    fast = pose_instance_map(scene.image, scene.keypoints, method="rag", n_segments=150)
    d = instance_distances(scene.image, scene.keypoints, method="rag", n_segments=150)
    np.testing.assert_array_equal(fast, softmax_instances(d, DEFAULT_TEMPERATURE["rag"]))
