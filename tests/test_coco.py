"""p2i_prior.coco: the COCO person loader, results helper and COCOeval segm wrapper."""

import json
import os
import shutil

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from p2i_prior.coco import (
    PersonSet,
    decode_segmentation,
    evaluate_segm,
    load_persons,
    masks_to_results,
)

FIXTURE = os.path.join(os.path.dirname(__file__), "data", "coco")
FIXTURE_JSON = os.path.join(FIXTURE, "annotations.json")

# COCOeval's IoU thresholds (0.50:0.05:0.95) and 101 recall points
IOU_THRS = np.linspace(0.5, 0.95, 10)
REC_THRS = np.linspace(0.0, 1.0, 101)


def reference_ap(matches, n_gt):
    """Independent COCO-style AP for one ranked detection list.

    ``matches`` is the ranked TP (True) / FP (False) sequence; precision is made monotone from the
    right and sampled at the first rank reaching each of the 101 recall points (0 beyond the
    reached recall), as the COCO definition states.
    """
    tp = np.cumsum(matches)
    fp = np.cumsum(~np.asarray(matches))
    recall = tp / n_gt
    precision = tp / (tp + fp)
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    out = []
    for r in REC_THRS:
        idx = np.nonzero(recall >= r)[0]
        out.append(precision[idx[0]] if idx.size else 0.0)
    return float(np.mean(out))


def rect(h, w, r0, r1, c0, c1):
    m = np.zeros((h, w), dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def rle_json(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def toy_dataset(masks, *, keypoints=None, iscrowd=None):
    """A one-image COCO keypoints dataset with the given (H, W) ground-truth masks as RLE."""
    h, w = masks[0].shape
    anns = []
    for i, m in enumerate(masks):
        rows, cols = np.nonzero(m)
        kp = [0.0] * 51
        if keypoints is None or keypoints[i]:
            kp[0:3] = [float(cols.mean()), float(rows.mean()), 2.0]  # a nose in the middle
        anns.append(
            {
                "id": i + 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": rle_json(m),
                "area": float(m.sum()),
                "bbox": [float(cols.min()), float(rows.min()), float(np.ptp(cols) + 1), float(np.ptp(rows) + 1)],
                "iscrowd": 0 if iscrowd is None else iscrowd[i],
                "keypoints": kp,
                "num_keypoints": int(kp[2] > 0),
            }
        )
    return {
        "images": [{"id": 1, "file_name": "toy.png", "height": h, "width": w}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }


# ---------------------------------------------------------------------------------------------
# the evaluator
# ---------------------------------------------------------------------------------------------


def test_toy_case_matches_hand_computed_ap():
    h, w = 20, 40
    g1, g2 = rect(h, w, 0, 10, 0, 10), rect(h, w, 0, 10, 20, 30)
    a = rect(h, w, 1, 11, 0, 10)  # IoU(a, g1) = 90 / 110 = 0.818
    b = rect(h, w, 10, 20, 10, 20)  # IoU 0 with both: a false positive
    c = rect(h, w, 2, 12, 20, 30)  # IoU(c, g2) = 80 / 120 = 0.667
    persons = load_persons(toy_dataset([g1, g2]))
    results = masks_to_results(1, np.stack([a, b, c]), [0.9, 0.8, 0.7])
    stats = evaluate_segm(persons, results)

    ious = {"a": 90 / 110, "c": 80 / 120}
    expected = []
    for t in IOU_THRS:
        ranked = [ious["a"] >= t, False, ious["c"] >= t]  # scores 0.9, 0.8, 0.7
        expected.append(reference_ap(np.array(ranked), 2))
    # by hand: at IoU 0.5 the list is TP, FP, TP: precision 1 up to recall 0.5 (51 points),
    # then 2/3 (50 points)
    assert stats["ap50"] == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-9)
    assert stats["ap_per_iou"] == pytest.approx(expected, abs=1e-9)
    assert stats["ap"] == pytest.approx(np.mean(expected), abs=1e-9)
    assert stats["ap75"] == pytest.approx(51 / 101, abs=1e-9)  # only a matches at 0.75
    assert stats["n_instances"] == 2 and stats["n_detections"] == 3 and stats["n_images"] == 1


def test_perfect_predictions_on_fixture_score_one():
    persons = load_persons(FIXTURE_JSON)
    results = []
    for im in persons:
        results += masks_to_results(im.id, im.masks(), np.linspace(1.0, 0.5, im.n))
    stats = evaluate_segm(persons, results)
    assert stats["ap"] == pytest.approx(1.0)
    assert stats["ap50"] == pytest.approx(1.0)
    assert stats["n_instances"] == 12
    assert stats["n_ignore"] == 2


def test_detection_on_person_without_keypoints_is_ignored():
    h, w = 16, 32
    g1, g2 = rect(h, w, 2, 12, 2, 10), rect(h, w, 2, 12, 20, 28)
    data = toy_dataset([g1, g2], keypoints=[True, False])
    persons = load_persons(data)
    assert persons.n_instances == 1 and persons.counts["no_keypoints"] == 1
    gt = persons.gt_dict()
    assert [a["iscrowd"] for a in gt["annotations"]] == [0, 1]
    # a confident detection on the person without keypoints, then the right one
    on_ignored = masks_to_results(1, np.stack([g2, g1]), [0.9, 0.5])
    assert evaluate_segm(persons, on_ignored)["ap"] == pytest.approx(1.0)
    # the same detection on empty background is a false positive ranked first
    on_background = masks_to_results(1, np.stack([rect(h, w, 12, 16, 12, 18), g1]), [0.9, 0.5])
    fp_stats = evaluate_segm(persons, on_background)
    assert fp_stats["ap"] == pytest.approx(reference_ap(np.array([False, True]), 1))
    # and were that person scored as normal ground truth, it would be a true positive (2 GT)
    raw = evaluate_segm(data, on_ignored)
    assert raw["n_instances"] == 2 and raw["ap"] == pytest.approx(1.0)
    missing_one = evaluate_segm(data, on_ignored[1:])
    assert missing_one["ap"] < 0.6


def test_no_detections_scores_zero():
    stats = evaluate_segm(load_persons(FIXTURE_JSON), [])
    assert stats["ap"] == 0.0 and stats["n_detections"] == 0 and stats["n_instances"] == 12


def test_results_round_trip_through_json(tmp_path):
    persons = load_persons(FIXTURE_JSON)
    im = persons[0]
    results = masks_to_results(im.id, im.masks(), [0.7] * im.n)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results))
    stats = evaluate_segm(persons, str(path), image_ids=[im.id])
    assert stats["ap"] == pytest.approx(1.0) and stats["n_images"] == 1
    decoded = mask_utils.decode(results[0]["segmentation"]).astype(bool)
    np.testing.assert_array_equal(decoded, im.masks()[0])


# ---------------------------------------------------------------------------------------------
# the loader
# ---------------------------------------------------------------------------------------------


def test_loader_counts_on_fixture():
    persons = load_persons(FIXTURE_JSON)
    assert isinstance(persons, PersonSet)
    assert len(persons) == 4 and persons.n_instances == 12
    assert persons.counts["no_keypoints"] == 2 and persons.counts["crowd"] == 0
    assert persons.counts["other_persons"] == 2
    assert persons.images_dir == os.path.join(FIXTURE, "images")
    assert [im.n for im in persons] == [1, 2, 4, 5]
    im = persons.by_id(104)
    assert im.keypoints.shape == (4, 17, 3) and im.keypoints.dtype == np.float64
    assert im.boxes.shape == (4, 4) and im.ann_ids.tolist() == [433, 434, 436, 437]
    assert im.other_ann_ids.tolist() == [435]
    masks = im.masks()
    assert masks.shape == (4, im.height, im.width) and masks.dtype == bool
    assert im.other_masks().shape == (1, im.height, im.width)
    for k in range(im.n):  # every mask lies in its box (to a pixel of polygon rounding)
        x, y, w, h = im.boxes[k]
        rows, cols = np.nonzero(masks[k])
        assert rows.min() >= np.floor(y) - 1 and rows.max() <= np.ceil(y + h) + 1
        assert cols.min() >= np.floor(x) - 1 and cols.max() <= np.ceil(x + w) + 1
    image = im.load_image()
    assert image.shape == (im.height, im.width, 3) and image.dtype == np.uint8
    assert (im.person_mask() == (masks.any(0) | im.other_masks().any(0))).all()


def test_loader_on_shared_coco_persons():
    from conftest import COCO_PERSONS

    path = os.path.join(COCO_PERSONS, "annotations.json")
    if not os.path.isfile(path):
        pytest.skip(f"shared data absent: {path}")
    persons = load_persons(path)
    assert len(persons) == 105 and persons.n_instances == 267
    assert persons.counts["crowd"] == 13 and persons.counts["no_keypoints"] == 162


def test_decode_segmentation_formats():
    m = rect(6, 8, 1, 4, 2, 7)
    np.testing.assert_array_equal(decode_segmentation(rle_json(m), 6, 8), m)
    uncompressed = {"size": [6, 8], "counts": [13, 3, 3, 3, 3, 3, 3, 3, 3, 3, 8]}
    np.testing.assert_array_equal(decode_segmentation(uncompressed, 6, 8), m)
    assert decode_segmentation([[2, 1, 7, 1, 7, 4, 2, 4]], 6, 8).sum() > 0
    with pytest.raises(ValueError, match="segmentation: expected a list of polygons"):
        decode_segmentation("nope", 6, 8)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------


def test_malformed_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    with pytest.raises(ValueError, match="annotations: expected a COCO json file, could not parse"):
        load_persons(str(bad))
    bad.write_text('{"images": []}')
    with pytest.raises(ValueError, match="expected a COCO dataset with keys"):
        load_persons(str(bad))
    with pytest.raises(FileNotFoundError, match="annotations: file not found"):
        load_persons(str(tmp_path / "absent.json"))
    with pytest.raises(TypeError, match="annotations: expected a path, a COCO-format dict"):
        load_persons(42)


def test_annotations_without_keypoints():
    with open(FIXTURE_JSON) as f:
        data = json.load(f)
    for a in data["annotations"]:  # as in an instances_*.json file
        a.pop("keypoints")
        a.pop("num_keypoints")
    with pytest.raises(ValueError, match="expected person annotations with COCO-17 keypoints"):
        load_persons(data)
    data["categories"] = [{"id": 1, "name": "dog"}]
    with pytest.raises(ValueError, match="expected a 'person' category"):
        load_persons(data)


def test_wrong_keypoint_count():
    with open(FIXTURE_JSON) as f:
        data = json.load(f)
    data["annotations"][0]["keypoints"] = data["annotations"][0]["keypoints"][:48]
    with pytest.raises(ValueError, match="expected 51 keypoint values .* got 48"):
        load_persons(data)


def test_missing_image_file(tmp_path):
    images = tmp_path / "images"
    shutil.copytree(os.path.join(FIXTURE, "images"), images)
    os.remove(images / "000000040083.jpg")
    with pytest.raises(FileNotFoundError, match=r"image 103: file not found: .*000000040083.jpg"):
        load_persons(FIXTURE_JSON, images)
    persons = load_persons(FIXTURE_JSON, images, missing_images="skip")
    assert len(persons) == 3 and persons.counts["skipped_missing_image"] == 1
    with pytest.raises(FileNotFoundError, match="images_dir: folder not found"):
        load_persons(FIXTURE_JSON, tmp_path / "nowhere")
    with pytest.raises(ValueError, match="missing_images: expected 'error' or 'skip'"):
        load_persons(FIXTURE_JSON, missing_images="ignore")
    no_dir = load_persons(json.load(open(FIXTURE_JSON)))
    assert no_dir[0].path is None
    with pytest.raises(ValueError, match="images_dir: expected a folder holding"):
        no_dir[0].load_image()


def test_bad_results():
    persons = load_persons(FIXTURE_JSON)
    m = np.zeros((2, 5, 6), dtype=bool)
    with pytest.raises(ValueError, match="scores: expected 2 scores"):
        masks_to_results(1, m, [0.5])
    with pytest.raises(ValueError, match=r"masks: expected \(n, H, W\), got shape \(5, 6\)"):
        masks_to_results(1, m[0], [0.5])
    with pytest.raises(ValueError, match="scores: expected finite"):
        masks_to_results(1, m, [0.5, np.nan])
    good = masks_to_results(102, persons.by_id(102).masks(), [1.0])
    with pytest.raises(ValueError, match=r"results\[0\]: image_id 999 is not in gt"):
        evaluate_segm(persons, [dict(good[0], image_id=999)])
    with pytest.raises(ValueError, match=r"results\[0\]: expected a dict with 'image_id'"):
        evaluate_segm(persons, [{"image_id": 102}])
    with pytest.raises(TypeError, match="results: expected a list"):
        evaluate_segm(persons, {"image_id": 102})
    with pytest.raises(ValueError, match="image_ids: expected ids present in gt"):
        evaluate_segm(persons, good, image_ids=[1234])
