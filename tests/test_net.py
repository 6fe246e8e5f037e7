"""p2i_net: models, instance crops, heatmaps, flips, paste-back, evaluation helpers (CPU)."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from p2i_net import data as D  # noqa: E402
from p2i_net import models as M  # noqa: E402
from p2i_net.evaluate import heatmap_keypoints, pck, person_score, predict_instances  # noqa: E402
from p2i_prior.skeleton import COCO_FLIP_PAIRS  # noqa: E402

from conftest import COCO_PERSONS  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(__file__), "data", "coco")
TINY = 0.0625  # width multiplier of the test networks


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def n_params(net):
    return sum(p.numel() for p in net.parameters())


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, keys", [
    ("seg_only", {"seg"}),
    ("multitask", {"seg", "heatmaps"}),
    ("cascaded", {"seg", "heatmaps", "shape"}),
])
@pytest.mark.parametrize("backbone", M.BACKBONES)
def test_output_shapes(kind, keys, backbone):
    torch.manual_seed(0)
    net = M.build_model(kind, width=TINY, backbone=backbone).eval()
    x = torch.randn(2, 3, 41, 57)  # not multiples of 8: outputs still match the input
    out = net(x)
    assert set(out) == keys
    assert out["seg"].shape == (2, 2, 41, 57)
    if "heatmaps" in out:
        assert out["heatmaps"].shape == (2, 17, 41, 57)
    if "shape" in out:
        assert out["shape"].shape == (2, 1, 41, 57)
    assert net.backbone.output_stride == 8
    assert net.backbone(x).shape[-2:] == (6, 8)  # ceil(41 / 8), ceil(57 / 8)


def test_builders_without_arguments_are_vgg16_size():
    seg, multi, casc = M.seg_only(), M.multitask(), M.cascaded()
    # VGG-16 conv1-conv5 (14.71 M) + fc6 3x3x512x1024 + fc7 1024x1024 + 2-class head
    vgg_convs = sum(9 * a * b + b for a, b in [(3, 64), (64, 64), (64, 128), (128, 128),
                                                (128, 256), (256, 256), (256, 256), (256, 512),
                                                (512, 512), (512, 512), (512, 512), (512, 512),
                                                (512, 512)])
    fc = 9 * 512 * 1024 + 1024 + 1024 * 1024 + 1024
    assert n_params(seg) == vgg_convs + fc + 1024 * 2 + 2
    assert n_params(multi) == n_params(seg) + 1024 * 17 + 17
    assert n_params(casc) - n_params(multi) == 18


@pytest.mark.parametrize("width, bn, backbone", [(TINY, False, "vgg16"), (0.25, True, "vgg16"),
                                                 (TINY, True, "resnet18")])
def test_cascaded_has_exactly_18_more_parameters(width, bn, backbone):
    multi = M.multitask(width=width, batch_norm=bn, backbone=backbone)
    casc = M.cascaded(width=width, batch_norm=bn, backbone=backbone)
    assert n_params(casc) - n_params(multi) == 18
    extra = {k: v.numel() for k, v in casc.named_parameters()}
    assert extra["shape_head.weight"] == 17 and extra["shape_head.bias"] == 1


def test_cascaded_shape_joins_foreground_logit():
    torch.manual_seed(1)
    net = M.cascaded(width=TINY).eval()
    x = torch.randn(1, 3, 32, 32)
    out = net(x)
    with torch.no_grad():
        base = net.seg_head(net.backbone(x))
        hm = net.kp_head(net.backbone(x))
        shape = net.shape_head(torch.sigmoid(hm))
    up = lambda t: torch.nn.functional.interpolate(t, size=(32, 32), mode="bilinear", align_corners=False)  # noqa: E731
    torch.testing.assert_close(out["seg"][:, 0], up(base)[:, 0])
    torch.testing.assert_close(out["seg"][:, 1], up(base[:, 1:] + shape)[:, 0])
    torch.testing.assert_close(out["shape"], up(shape))


def test_model_bad_arguments():
    with pytest.raises(ValueError, match=r"kind: expected one of 'seg_only', 'multitask', 'cascaded', got 'pose'"):
        M.build_model("pose")
    with pytest.raises(ValueError, match=r"width: expected a finite number > 0, got -1.0"):
        M.seg_only(width=-1.0)
    with pytest.raises(ValueError, match=r"dropout: expected a number in \[0, 1\), got 1.5"):
        M.seg_only(width=TINY, dropout=1.5)
    with pytest.raises(ValueError, match=r"backbone: expected one of 'vgg16', 'resnet18', got 'vit'"):
        M.seg_only(backbone="vit")
    with pytest.raises(TypeError, match=r"seg_only\(\) takes 0 positional arguments"):
        M.seg_only(0.5)
    with pytest.raises(ValueError, match=r"x: expected \(B, 3, H, W\), got \(3, 32, 32\)"):
        M.seg_only(width=TINY)(torch.zeros(3, 32, 32))


# --------------------------------------------------------------------------------------------
# crops, heatmaps, flips
# --------------------------------------------------------------------------------------------


def test_gaussian_heatmaps_match_a_naive_loop(rng):
    S, sigma = 12, 1.7
    pts = np.column_stack([rng.uniform(-2, S + 2, 17), rng.uniform(-2, S + 2, 17), rng.integers(0, 3, 17)])
    hm = D.gaussian_heatmaps(pts, S, sigma)
    ref = np.zeros((17, S, S))
    for k in range(17):
        if pts[k, 2] == 0:
            continue
        for i in range(S):
            for j in range(S):
                ref[k, i, j] = np.exp(-((j + 0.5 - pts[k, 0]) ** 2 + (i + 0.5 - pts[k, 1]) ** 2) / (2 * sigma ** 2))
    np.testing.assert_allclose(hm, ref, rtol=1e-6, atol=1e-7)


def _scene(rng, H=60, W=50):
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    mask = np.zeros((H, W), bool)
    mask[12:50, 10:34] = True
    mask[20:30, 30:45] = True
    kp = np.zeros((17, 3))
    kp[:, 0] = rng.uniform(11, 40, 17)
    kp[:, 1] = rng.uniform(13, 48, 17)
    kp[:, 2] = rng.integers(1, 3, 17)
    kp[3, 2] = 0  # an unlabelled keypoint
    box = np.array([10.0, 12.0, 35.0, 38.0])
    return image, mask, kp, box


def test_crop_window_and_keypoint_mapping(rng):
    image, mask, kp, box = _scene(rng)
    c = D.make_crop(image, mask, kp, box, crop_size=32, context=0.0, sigma=1.0)
    assert c["image"].shape == (3, 32, 32) and c["image"].dtype == np.float32
    assert c["mask"].shape == (32, 32) and c["mask"].dtype == np.int64
    np.testing.assert_allclose(c["window"], [10, 12, 45, 50])
    # the heatmap peak of each labelled keypoint sits where the window mapping puts it
    for k in np.flatnonzero(kp[:, 2] > 0):
        i, j = np.unravel_index(np.argmax(c["heatmaps"][k]), (32, 32))
        u = (kp[k, 0] - 10) * 32 / 35
        v = (kp[k, 1] - 12) * 32 / 38
        assert abs(j + 0.5 - u) <= 0.5 + 1e-9 and abs(i + 0.5 - v) <= 0.5 + 1e-9
    # a context-0 crop of an axis-aligned image is the image itself at the integer window
    c2 = D.make_crop(image, mask, kp, [10, 12, 32, 32], crop_size=32, context=0.0)
    ref = (image[12:44, 10:42].astype(np.float32) - D.IMAGE_MEAN) / D.IMAGE_STD
    np.testing.assert_allclose(c2["image"], ref.transpose(2, 0, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(c2["mask"], mask[12:44, 10:42])


def test_visibility_aware_targets(rng):
    image, mask, kp, box = _scene(rng)
    kp[5, 2] = 1  # labelled but occluded: still a target
    kp[6] = (500.0, 500.0, 2)  # labelled, outside the crop: target ~0, weight 1
    c = D.make_crop(image, mask, kp, box, crop_size=24)
    assert c["kp_weight"][3] == 0 and not c["heatmaps"][3].any()
    assert c["kp_weight"][5] == 1 and c["heatmaps"][5].max() > 0.5
    assert c["kp_weight"][6] == 1 and c["heatmaps"][6].max() < 1e-6
    assert c["kp_weight"].sum() == (kp[:, 2] > 0).sum()


def test_flip_equals_crop_of_mirrored_scene(rng):
    image, mask, kp, box = _scene(rng)
    W = image.shape[1]
    flipped = D.make_crop(image, mask, kp, box, crop_size=20, flip=True, shift=(0.1, -0.05))
    # independent reference: mirror the scene first, swap left/right, then crop without flip
    kp_m = kp.copy()
    kp_m[:, 0] = W - kp[:, 0]
    for a, b in COCO_FLIP_PAIRS:
        kp_m[[a, b]] = kp_m[[b, a]]
    box_m = box.copy()
    box_m[0] = W - box[0] - box[2]
    ref = D.make_crop(image[:, ::-1].copy(), mask[:, ::-1].copy(), kp_m, box_m, crop_size=20,
                      shift=(-0.1, -0.05))
    np.testing.assert_allclose(flipped["image"], ref["image"], atol=1e-5)
    np.testing.assert_array_equal(flipped["mask"], ref["mask"])
    np.testing.assert_allclose(flipped["heatmaps"], ref["heatmaps"], atol=1e-6)
    np.testing.assert_array_equal(flipped["kp_weight"], ref["kp_weight"])
    # left_shoulder (5) of the flipped crop is the right_shoulder (6) of the person
    assert flipped["kp_weight"][5] == (kp[6, 2] > 0)


def test_paste_mask_roundtrip(rng):
    image, mask, kp, box = _scene(rng)
    c = D.make_crop(image, mask, kp, box, crop_size=96)
    back = D.paste_mask(c["mask"].astype(np.float32), c["window"], mask.shape) >= 0.5
    iou = (back & mask).sum() / (back | mask).sum()
    assert iou > 0.97
    p = D.paste_mask(np.ones((8, 8)), [2, 2, 6, 6], (10, 10))
    assert p.sum() == 16 and p[2:6, 2:6].all()


def test_crop_bad_inputs(rng):
    image, mask, kp, box = _scene(rng)
    with pytest.raises(TypeError, match=r"image: expected dtype uint8, got float64"):
        D.make_crop(image.astype(float), mask, kp, box)
    with pytest.raises(ValueError, match=r"box: expected finite \(x, y, w, h\) with w > 0 and h > 0, got \[1.0, 2.0, 0.0, 5.0\]"):
        D.make_crop(image, mask, kp, [1, 2, 0, 5])
    with pytest.raises(ValueError, match=r"mask: expected shape \(60, 50\) \(the image's\), got \(5, 5\)"):
        D.make_crop(image, np.zeros((5, 5), bool), kp, box)
    with pytest.raises(ValueError, match=r"crop_size: expected an integer >= 8, got 4"):
        D.make_crop(image, mask, kp, box, crop_size=4)
    with pytest.raises(ValueError, match=r"keypoints: expected \(n, 17, 3\)"):
        D.make_crop(image, mask, kp[:5], box)
    with pytest.raises(ValueError, match=r"window: expected \(x0, y0, x1, y1\) with x1 > x0"):
        D.paste_mask(np.ones((4, 4)), [5, 0, 1, 4], (8, 8))


def test_step_batch_sampler_is_resumable_and_sharded():
    n, B = 23, 4
    full = list(D.StepBatchSampler(n, batch_size=B, steps=12, seed=5))
    tail = list(D.StepBatchSampler(n, batch_size=B, steps=12, start_step=7, seed=5))
    assert tail == full[7:]
    # each epoch visits every index exactly once
    idx = [i for batch in full for i, _ in batch]
    assert sorted(idx[:n]) == list(range(n)) and sorted(idx[n:2 * n]) == list(range(n))
    # two ranks of batch 2 split the single-process batch of 4, in order
    r0 = list(D.StepBatchSampler(n, batch_size=2, steps=12, seed=5, rank=0, world_size=2))
    r1 = list(D.StepBatchSampler(n, batch_size=2, steps=12, seed=5, rank=1, world_size=2))
    assert [a + b for a, b in zip(r0, r1)] == full
    with pytest.raises(ValueError, match=r"rank: expected an integer >= 0 and <= 1, got 2"):
        D.StepBatchSampler(n, batch_size=2, steps=3, rank=2, world_size=2)


def test_instance_crops_are_keyed_not_stateful():
    src = D.SyntheticSource(10, seed=1, height=64, width=64, n_people=2)
    ds = D.InstanceCrops(src, crop_size=24)
    a, b = ds[(3, 99)], ds[(3, 99)]
    for k in ("image", "mask", "heatmaps"):
        np.testing.assert_array_equal(a[k], b[k])
    plain = D.InstanceCrops(src, crop_size=24, train=False)[3]
    assert not plain["flipped"]
    assert a["mask"].any()
    with pytest.raises(IndexError, match=r"index: expected 0 <= index < 10, got 10"):
        ds[10]


def test_person_target_is_the_union_of_the_people_in_the_crop():
    src = D.SyntheticSource(6, seed=2, height=64, width=64, n_people=3)
    inst = D.InstanceCrops(src, crop_size=24, train=False, context=1.0)
    union = D.InstanceCrops(src, crop_size=24, train=False, context=1.0, target="person")
    image, masks, kps, boxes = src.scene(4)
    _, own, kp, box = src.person(4)
    ref = D.make_crop(image, masks.any(axis=0), kp, box, crop_size=24, context=1.0)["mask"]
    np.testing.assert_array_equal(union[4]["mask"], ref)
    assert (union[4]["mask"] >= inst[4]["mask"]).all()
    with pytest.raises(ValueError, match=r"target: expected one of 'instance', 'person', got 'all'"):
        D.InstanceCrops(src, target="all")


def test_split_image_ids():
    tr, ho = D.split_image_ids(range(100, 200), holdout=0.2)
    assert len(ho) == 20 and not set(tr) & set(ho) and sorted(tr + ho) == list(range(100, 200))
    assert D.split_image_ids(list(range(199, 99, -1)), holdout=0.2) == (tr, ho)
    with pytest.raises(ValueError, match=r"holdout: expected a fraction in \[0, 1\), got 1.5"):
        D.split_image_ids([1, 2], holdout=1.5)


# --------------------------------------------------------------------------------------------
# inference helpers
# --------------------------------------------------------------------------------------------


def test_heatmap_keypoints_recover_the_targets(rng):
    image, mask, kp, box = _scene(rng)
    c = D.make_crop(image, mask, kp, box, crop_size=64, sigma=2.0)
    got = heatmap_keypoints(c["heatmaps"], c["window"], kp_threshold=0.5)
    lab = kp[:, 2] > 0
    assert (got[lab, 2] == 2).all() and (got[~lab, 2] == 0).all()
    cell = (c["window"][2] - c["window"][0]) / 64, (c["window"][3] - c["window"][1]) / 64
    assert np.all(np.abs(got[lab, 0] - kp[lab, 0]) <= cell[0] / 2 + 1e-9)
    assert np.all(np.abs(got[lab, 1] - kp[lab, 1]) <= cell[1] / 2 + 1e-9)
    ok, n = pck(got[None], kp[None], box[None], alpha=0.05)
    assert (ok, n) == (lab.sum(), lab.sum())


def test_predict_instances_and_person_score(rng):
    torch.manual_seed(0)
    net = M.cascaded(width=TINY).eval()
    image = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    boxes = np.array([[2.0, 3.0, 20.0, 30.0], [30.0, 5.0, 20.0, 30.0]])
    out = predict_instances(net, image, boxes, crop_size=16, batch_size=1)
    assert out["masks"].shape == (2, 40, 56) and out["masks"].dtype == bool
    assert out["keypoints"].shape == (2, 17, 3) and out["scores"].shape == (2,)
    assert np.isfinite(out["scores"]).all()
    # nothing is pasted outside each person's window
    assert not out["probs"][0][:, 40:].any()
    p = person_score(net, image, max_side=32)
    assert p.shape == (40, 56) and p.dtype == np.float32 and 0 <= p.min() <= p.max() <= 1
    with pytest.raises(ValueError, match=r"boxes: expected \(n, 4\) COCO boxes, got shape \(4,\)"):
        predict_instances(net, image, boxes[0])


def test_ground_truth_crops_pasted_back_score_ap50_one():
    """The crop/paste-back geometry on real photos: GT masks through it are near-perfect."""
    from p2i_prior.coco import evaluate_segm, load_persons, masks_to_results

    if not os.path.isdir(FIXTURE):
        pytest.skip("tests/data/coco fixture absent")
    persons = load_persons(os.path.join(FIXTURE, "annotations.json"))
    src = D.CocoSource(persons)
    results = []
    for rec in persons:
        gt = rec.masks()
        image = rec.load_image()
        masks = np.zeros_like(gt)
        for k in range(rec.n):
            c = D.make_crop(image, gt[k], rec.keypoints[k], rec.boxes[k], crop_size=160)
            masks[k] = D.paste_mask(c["mask"].astype(np.float32), c["window"], gt.shape[1:]) >= 0.5
            iou = (masks[k] & gt[k]).sum() / (masks[k] | gt[k]).sum()
            assert iou > 0.85, (rec.id, k, iou)
        results += masks_to_results(rec.id, masks, np.ones(rec.n))
    stats = evaluate_segm(persons, results)
    assert stats["ap50"] == pytest.approx(1.0)
    assert len(src) == persons.n_instances == 12


@pytest.mark.skipif(not os.path.isdir(COCO_PERSONS), reason="../shared/data/coco_persons absent")
def test_coco_source_on_shared_data():
    src = D.CocoSource(os.path.join(COCO_PERSONS, "annotations.json"))
    image, mask, kp, box = src.person(0)
    assert image.dtype == np.uint8 and mask.shape == image.shape[:2] and kp.shape == (17, 3)
    assert mask.any() and box.shape == (4,)
    union = src.person(0, union=True)[1]
    assert (union >= mask).all() and union.sum() >= mask.sum()
