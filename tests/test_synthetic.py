"""Tests of the synthetic people generator (p2i_prior.synthetic).

Every property is checked against an independent computation on the returned arrays (numpy
extents, pycocotools RLE and bbox, the label image), on small scenes with fixed seeds.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from p2i_prior.skeleton import COCO_KEYPOINTS, COCO_SKELETON
from p2i_prior.synthetic import Scene, make_scene, make_scenes, to_coco, write_coco

# Tolerances, stated once.
SKELETON_TOL_PX = 1  # a limb's sample point may miss its body by at most this many pixels
SCORE_IOU_RANGE = (0.6, 0.99)  # IoU(score > 0.5, union of masks) at score_noise=1

# (seed, height, width, n_people, overlap): small, medium, crowded, tiny.
CASES = [
    (0, 96, 128, 4, 0.5),
    (1, 120, 90, 6, 1.0),
    (2, 64, 64, 8, 1.0),
    (3, 16, 16, 2, 0.5),
    (4, 80, 160, 5, 0.0),
]
# Limbs drawn as body parts (face-to-shoulder links cross the background, so they are left out).
BODY_LIMBS = [limb for limb in COCO_SKELETON if limb not in ((3, 5), (4, 6))]


@pytest.fixture(scope="module")
def scenes():
    return [make_scene(seed, h, w, n, overlap=ov) for seed, h, w, n, ov in CASES]


def _extent_box(mask: np.ndarray) -> list[float]:
    rows, cols = np.nonzero(mask)
    return [cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1]


# --------------------------------------------------------------------------------- structure


def test_shapes_and_dtypes(scenes):
    for scene, (_, H, W, n, _) in zip(scenes, CASES):
        assert isinstance(scene, Scene)
        assert scene.image.shape == (H, W, 3) and scene.image.dtype == np.uint8
        assert scene.masks.shape == (n, H, W) and scene.masks.dtype == np.bool_
        assert scene.keypoints.shape == (n, 17, 3) and scene.keypoints.dtype == np.float64
        assert scene.boxes.shape == (n, 4) and scene.boxes.dtype == np.float64
        assert scene.score.shape == (H, W) and scene.score.dtype == np.float32
        assert scene.score_exact.shape == (H, W) and scene.score_exact.dtype == np.float32
        assert scene.depth.shape == (n,) and sorted(scene.depth.tolist()) == list(range(n))
        assert scene.n_people == n and scene.shape == (H, W)
        assert np.isfinite(scene.keypoints).all()
        assert set(np.unique(scene.keypoints[..., 2])) <= {0.0, 1.0, 2.0}
        assert 0.0 <= scene.score.min() and scene.score.max() <= 1.0
        assert repr(scene) == f"Scene(seed={scene.seed}, shape=({H}, {W}), n_people={n})"


def test_scene_is_frozen(scenes):
    with pytest.raises(AttributeError):
        scenes[0].image = None


def test_no_people():
    scene = make_scene(seed=0, height=40, width=50, n_people=0)
    assert scene.masks.shape == (0, 40, 50)
    assert scene.keypoints.shape == (0, 17, 3) and scene.boxes.shape == (0, 4)
    assert not scene.score_exact.any()


def test_deterministic_for_a_seed():
    a = make_scene(seed=11, height=72, width=96, n_people=3)
    np.random.seed(123)  # the global numpy state plays no part
    b = make_scene(seed=11, height=72, width=96, n_people=3)
    for field in ("image", "masks", "keypoints", "boxes", "score", "score_exact", "depth"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    c = make_scene(seed=12, height=72, width=96, n_people=3)
    assert not np.array_equal(a.image, c.image)
    assert not np.array_equal(a.keypoints, c.keypoints)


# ------------------------------------------------------------------------------ masks, boxes


def test_masks_disjoint_non_empty_and_union(scenes):
    for scene in scenes:
        assert (scene.masks.sum(axis=0) <= 1).all()
        assert scene.masks.any(axis=(1, 2)).all(), "every person keeps a visible part"
        np.testing.assert_array_equal(scene.score_exact, scene.masks.any(axis=0).astype(np.float32))
        labels = scene.labels
        for i in range(scene.n_people):
            np.testing.assert_array_equal(labels == i + 1, scene.masks[i])


def test_non_empty_over_many_seeds():
    for seed in range(12):
        scene = make_scene(seed, 48, 64, 7, overlap=1.0)
        assert scene.masks.any(axis=(1, 2)).all(), seed


def test_boxes_are_mask_extents(scenes):
    from pycocotools import mask as mask_util

    for scene in scenes:
        for i in range(scene.n_people):
            np.testing.assert_array_equal(scene.boxes[i], _extent_box(scene.masks[i]))
            rle = mask_util.encode(np.asfortranarray(scene.masks[i], dtype=np.uint8))
            np.testing.assert_allclose(scene.boxes[i], mask_util.toBbox(rle))


def test_people_have_human_size_and_are_in_the_image(scenes):
    for scene in scenes:
        H, W = scene.shape
        kp = scene.keypoints
        pelvis = kp[:, 11:13, :2].mean(axis=1)
        assert ((pelvis >= 0) & (pelvis < (W, H))).all()
        assert (kp[:, 0, 1] >= 0).all(), "heads stay inside the image"


# ---------------------------------------------------------------------------------- keypoints


def test_keypoint_visibility_matches_masks(scenes):
    for scene in scenes:
        H, W = scene.shape
        labels = scene.labels - 1  # -1 background
        for i in range(scene.n_people):
            for j, (x, y, v) in enumerate(scene.keypoints[i]):
                inside = 0 <= x < W and 0 <= y < H
                assert (v > 0) == inside, (i, COCO_KEYPOINTS[j])
                if not inside:
                    continue
                owner = labels[int(np.floor(y)), int(np.floor(x))]
                if v == 2:  # in its own visible mask (exactly: no tolerance needed)
                    assert owner == i, (i, COCO_KEYPOINTS[j])
                else:  # hidden by someone in front
                    assert owner >= 0 and owner != i, (i, COCO_KEYPOINTS[j])
                    assert scene.depth[owner] < scene.depth[i]


def test_some_keypoints_are_occluded_in_crowds():
    occluded = sum(int((make_scene(s, 96, 96, 7, overlap=1.0).keypoints[..., 2] == 1).sum()) for s in range(4))
    assert occluded > 0


def test_skeleton_lies_inside_the_body(scenes):
    """Every point of every body limb lies in its person's mask, or in the mask of a person in
    front of it (where the limb is hidden), within SKELETON_TOL_PX pixels."""
    t = np.linspace(0.0, 1.0, 21)
    for scene in scenes:
        H, W = scene.shape
        labels = scene.labels - 1
        for i in range(scene.n_people):
            allowed = np.flatnonzero(scene.depth <= scene.depth[i])  # i and the people in front
            for a, b in BODY_LIMBS:
                pts = scene.keypoints[i, a, :2] + t[:, None] * (scene.keypoints[i, b, :2] - scene.keypoints[i, a, :2])
                for x, y in pts:
                    r, c = int(np.floor(y)), int(np.floor(x))
                    if not (0 <= r < H and 0 <= c < W):
                        continue
                    k = SKELETON_TOL_PX
                    window = labels[max(r - k, 0):r + k + 1, max(c - k, 0):c + k + 1]
                    assert np.isin(window, allowed).any(), (i, COCO_KEYPOINTS[a], COCO_KEYPOINTS[b])


def test_body_proportions_are_human():
    kp = np.concatenate([make_scene(s, 200, 200, 4).keypoints for s in range(4)])
    shoulders, hips = kp[:, 5:7, :2].mean(axis=1), kp[:, 11:13, :2].mean(axis=1)
    torso = np.linalg.norm(shoulders - hips, axis=1)
    shins = np.linalg.norm(kp[:, 13:15, :2] - kp[:, 15:17, :2], axis=2)
    assert ((shins / torso[:, None] > 0.65) & (shins / torso[:, None] < 1.05)).all()
    assert (kp[:, 0, 1] < shoulders[:, 1]).all(), "the nose is above the shoulders"
    assert (shoulders[:, 1] < hips[:, 1]).all()
    knees = kp[:, 13:15, 1]
    assert (knees > hips[:, 1:2]).all(), "knees below the hips"


def test_some_people_overlap_in_crowds():
    scene = make_scene(seed=5, height=120, width=120, n_people=6, overlap=1.0)
    b = scene.boxes
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
    ih = np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None])
    overlapping = (iw > 0) & (ih > 0) & ~np.eye(len(b), dtype=bool)
    assert overlapping.sum() // 2 >= 2


# -------------------------------------------------------------------------------------- score


def test_score_is_close_to_the_union_but_imperfect(scenes):
    for scene in scenes[:3]:
        union = scene.score_exact > 0
        pred = scene.score > 0.5
        iou = (union & pred).sum() / (union | pred).sum()
        assert SCORE_IOU_RANGE[0] < iou < SCORE_IOU_RANGE[1], iou
        assert scene.score[union].mean() > scene.score[~union].mean() + 0.5


def test_score_noise_zero_is_exact_and_two_is_worse():
    exact = make_scene(seed=7, height=96, width=96, n_people=3, score_noise=0.0)
    np.testing.assert_array_equal(exact.score, exact.score_exact)
    ious = []
    for noise in (0.5, 2.0):
        scene = make_scene(seed=7, height=96, width=96, n_people=3, score_noise=noise)
        np.testing.assert_array_equal(scene.masks, exact.masks)  # the noise only changes the score
        union, pred = scene.score_exact > 0, scene.score > 0.5
        ious.append((union & pred).sum() / (union | pred).sum())
    assert ious[0] > ious[1]


def test_image_shows_the_people_where_the_masks_are():
    # the background is drawn first from the seed, so the same seed without people shows it
    for seed in range(3):
        scene = make_scene(seed, 96, 128, 4)
        empty = make_scene(seed, 96, 128, 0)
        diff = np.abs(scene.image.astype(np.float64) - empty.image).mean(axis=2)
        union = scene.score_exact > 0
        assert diff[union].mean() > 3 * diff[~union].mean()
        for i in range(scene.n_people):  # shaded, textured people, not flat stickers
            assert scene.image[scene.masks[i]].std(axis=0).max() > 2.0
    plain = make_scene(seed=0, height=64, width=64, n_people=0, background="plain")
    assert plain.image.std(axis=(0, 1)).max() < 5.0  # one flat colour plus sensor noise


# ------------------------------------------------------------------------------ make_scenes


def test_make_scenes_seeds_and_ranges():
    five = make_scenes(5, seed=3, height=32, width=40, n_people=(1, 3))
    three = make_scenes(3, seed=3, height=32, width=40, n_people=(1, 3))
    assert len(five) == 5 and all(1 <= s.n_people <= 3 for s in five)
    for a, b in zip(five, three):  # a longer list starts with the shorter one
        assert a.seed == b.seed and np.array_equal(a.image, b.image)
    again = make_scene(five[1].seed, 32, 40, five[1].n_people)
    np.testing.assert_array_equal(again.masks, five[1].masks)
    other = make_scenes(3, seed=4, height=32, width=40)
    assert not {s.seed for s in other} & {s.seed for s in five}
    assert make_scenes(0, seed=1) == []


# ------------------------------------------------------------------------------------- COCO


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools' decode
def test_to_coco_round_trips_through_pycocotools(tmp_path):
    from PIL import Image
    from pycocotools.coco import COCO

    scenes = make_scenes(3, seed=2, height=64, width=80, n_people=(2, 4))
    path = write_coco(scenes, tmp_path / "ds")
    assert path == os.path.join(str(tmp_path / "ds"), "annotations.json")
    coco = COCO(path)
    cat = coco.loadCats(1)[0]
    assert cat["keypoints"] == list(COCO_KEYPOINTS)
    assert cat["skeleton"] == [[a + 1, b + 1] for a, b in COCO_SKELETON]
    assert sorted(coco.getImgIds()) == [1, 2, 3]
    for k, scene in enumerate(scenes):
        info = coco.loadImgs(k + 1)[0]
        assert (info["height"], info["width"]) == scene.shape
        png = np.asarray(Image.open(tmp_path / "ds" / "images" / info["file_name"]))
        np.testing.assert_array_equal(png, scene.image)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[k + 1]))
        assert len(anns) == scene.n_people
        for i, ann in enumerate(anns):
            np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), scene.masks[i])
            assert ann["area"] == int(scene.masks[i].sum())
            np.testing.assert_allclose(ann["bbox"], scene.boxes[i])
            kp = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
            expected = scene.keypoints[i].copy()
            expected[expected[:, 2] == 0] = 0.0
            np.testing.assert_allclose(kp, expected)
            assert ann["num_keypoints"] == int((scene.keypoints[i, :, 2] > 0).sum())
            assert ann["iscrowd"] == 0 and ann["category_id"] == 1
    ids = [a["id"] for a in coco.dataset["annotations"]]
    assert ids == list(range(1, len(ids) + 1))


def test_to_coco_dict_is_json_and_ids_start_where_asked(tmp_path):
    scenes = make_scenes(2, seed=0, height=40, width=40, n_people=2)
    data = to_coco(scenes, start_id=100)
    json.dumps(data)
    assert [im["id"] for im in data["images"]] == [100, 101]
    assert data["images"][0]["file_name"] == "000000000100.png"
    assert data["annotations"][0]["id"] == 100
    assert isinstance(data["annotations"][0]["segmentation"]["counts"], str)
    to_coco(scenes[0], image_dir=tmp_path / "imgs")  # a single Scene is accepted too
    assert os.listdir(tmp_path / "imgs") == ["000000000001.png"]


# ------------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(height=8), ValueError, r"height: expected an integer >= 16 and <= 4096, got 8"),
        (dict(width=5000), ValueError, r"width: expected an integer >= 16 and <= 4096, got 5000"),
        (dict(height=32.0), TypeError, r"height: expected an integer, got float 32.0"),
        (dict(n_people=-1), ValueError, r"n_people: expected an integer >= 0 and <= 64, got -1"),
        (dict(n_people=2.5), TypeError, r"n_people: expected an integer, got float 2.5"),
        (dict(seed=-3), ValueError, r"seed: expected an integer >= 0, got -3"),
        (dict(overlap=1.5), ValueError, r"overlap: expected a number in \[0, 1\], got 1.5"),
        (dict(overlap="lots"), TypeError, r"overlap: expected a number, got str 'lots'"),
        (dict(scale=(0.9, 0.5)), ValueError, r"scale: expected 0.1 <= lo <= hi <= 1.0, got \(0.9, 0.5\)"),
        (dict(scale=0.5), TypeError, r"scale: expected a pair \(lo, hi\) of fractions of the image height, got float 0.5"),
        (dict(scale=(0.2, 0.5, 0.9)), ValueError, r"scale: expected a pair .* got 3 values"),
        (dict(min_visible=0.95), ValueError, r"min_visible: expected a number in \[0, 0.9\], got 0.95"),
        (dict(score_noise=-0.1), ValueError, r"score_noise: expected a finite number >= 0, got -0.1"),
        (dict(score_noise=3), ValueError, r"score_noise: expected a number in \[0, 2\], got 3.0"),
        (dict(background="noise"), ValueError, r"background: expected one of 'textured', 'plain', got 'noise'"),
        (dict(background=1), TypeError, r"background: expected a string, got int 1"),
    ],
)
def test_make_scene_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_scene(**kwargs)


def test_make_scenes_and_coco_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"n: expected an integer >= 0, got -1"):
        make_scenes(-1)
    with pytest.raises(ValueError, match=r"n_people: expected lo <= hi, got \(3, 1\)"):
        make_scenes(2, n_people=(3, 1))
    with pytest.raises(ValueError, match=r"n_people: expected an integer or a pair \(lo, hi\), got 3 values"):
        make_scenes(2, n_people=(1, 2, 3))
    with pytest.raises(TypeError, match=r"scenes: expected a sequence of Scenes, got int at index 0"):
        to_coco([1])
    with pytest.raises(TypeError, match=r"scenes: expected a Scene or a sequence of Scenes, got int"):
        to_coco(3)
    scene = make_scene(0, 32, 32, 1)
    with pytest.raises(ValueError, match=r"start_id: expected an integer >= 1, got 0"):
        to_coco([scene], start_id=0)
    with pytest.raises(TypeError, match=r"image_dir: expected a path or None, got int 5"):
        to_coco([scene], image_dir=5)
    with pytest.raises(TypeError, match=r"directory: expected a path, got NoneType None"):
        write_coco([scene], None)
