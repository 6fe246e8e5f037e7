"""p2i_prior.quality: predicted mask IoU, the default AP ranking of p2i eval."""

import json
import os

import numpy as np
import pytest

from p2i_prior.coco import load_persons
from p2i_prior.quality import (
    FEATURES,
    MODEL_PATH,
    QualityModel,
    fit_quality,
    load_quality_model,
    mask_features,
    predict_quality,
)
from p2i_prior.scores import GTScore

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURE_JSON = os.path.join(os.path.dirname(__file__), "data", "coco", "annotations.json")


def _col(f, name):
    return f[:, FEATURES.index(name)]


def test_mask_features_on_a_hand_made_label_map():
    lab = np.zeros((30, 40), np.int32)
    lab[5:25, 2:10] = 1  # alone
    lab[5:25, 20:28] = 2  # touches 3 along one column
    lab[5:25, 28:36] = 3
    kp = np.zeros((4, 17, 3))
    for k, x in enumerate((6, 24, 32)):
        kp[k, 5] = (x, 8, 2)
        kp[k, 11] = (x, 20, 2)
    kp[1, 0] = (1, 1, 2)  # a labelled keypoint outside instance 1's mask: coverage 2/3
    kp[3, 0] = (38, 28, 2)  # instance 3 of the keypoints has no mask
    score = (lab > 0).astype(np.float32)
    f = mask_features(lab, kp, score)
    assert f.shape == (4, len(FEATURES))
    np.testing.assert_array_equal(f[3], 0)  # empty mask: all zero
    np.testing.assert_allclose(_col(f, "labelled")[:3], [2 / 17, 3 / 17, 2 / 17])
    np.testing.assert_allclose(_col(f, "covered")[:3], [1, 2 / 3, 1])
    np.testing.assert_allclose(_col(f, "score")[:3], 1)
    # share: instance 0 is its own component; 1 and 2 split theirs in halves
    np.testing.assert_allclose(_col(f, "share")[:3], [1, 0.5, 0.5])
    # contact: outline pixels with a foreign 4-neighbour over outline pixels (20 of 52)
    assert _col(f, "contact")[0] == 0
    np.testing.assert_allclose(_col(f, "contact")[1:3], 20 / 52)
    np.testing.assert_allclose(_col(f, "compact")[0], 4 * np.pi * 160 / 52**2)
    # crowd: exp(-distance to the nearest other skeleton / body height); 1 and 2 are closer
    assert _col(f, "crowd")[1] > _col(f, "crowd")[0] > 0
    # body height of a 12-px torso: 12 / 0.288
    np.testing.assert_allclose(_col(f, "log_area")[0], np.log(160 / (12 / 0.288) ** 2))


def test_mask_features_reject_bad_shapes():
    with pytest.raises(ValueError, match="labels, person_score: expected the same"):
        mask_features(np.zeros((4, 5), np.int32), np.zeros((1, 17, 3)), np.zeros((4, 4)))


def test_fit_is_deterministic_and_learns_the_direction(rng):
    x = rng.random((300, len(FEATURES)))
    y = 1 / (1 + np.exp(-(3 * x[:, 0] - 2 * x[:, 6] - 0.5)))
    a, b = fit_quality(x, y), fit_quality(x, y)
    np.testing.assert_array_equal(a.coef, b.coef)
    assert a.coef[0] > 0.5 and a.coef[6] < -0.3 and np.abs(a.coef[[1, 2, 3]]).max() < 0.2
    np.testing.assert_allclose(a.predict(x), y, atol=0.02)  # the true model is in the family
    again = QualityModel.from_json(json.loads(json.dumps(a.to_json())))
    np.testing.assert_array_equal(again.predict(x), a.predict(x))
    assert a.predict(np.zeros((1, len(FEATURES))))[0] == 0  # an empty mask ranks last


def test_shipped_model_loads_offline_small_and_reproduces_its_fixture_numbers():
    """The model json ships in the package; its fixture qualities were written when it was trained."""
    assert os.path.isfile(MODEL_PATH) and os.path.getsize(MODEL_PATH) < 5 * 2**20
    model = load_quality_model()
    assert model.features == FEATURES
    assert "quality_train" in model.info["command"] and model.info["folds"] >= 2
    fx = model.info["fixture"]
    from p2i_prior.evaluate import predict_image

    persons = load_persons(os.path.join(ROOT, fx["annotations"]))
    for method, expected in fx["quality"].items():
        got = []
        for rec in persons:
            _, _, q = predict_image(rec, rec.load_image(), GTScore()(rec), method, rank="quality")
            got += list(q)
        np.testing.assert_allclose(got, expected, atol=2e-6, err_msg=method)


def test_quality_is_the_default_ranking_of_every_method():
    """One rule ranks every method, the box baseline included: the written detection scores are
    the predicted IoU of each mask."""
    from p2i_prior.evaluate import DEFAULT_RANK, _init_worker, _process, evaluate_methods
    from p2i_prior.pipeline import box_instances, segment_people

    assert DEFAULT_RANK == "quality"
    persons = load_persons(FIXTURE_JSON)
    methods = ["box", "rag", "geodesic"]
    report = evaluate_methods(persons, methods=methods, progress=False, figures=0, n_segments=300)
    assert report["config"]["prediction_score"].startswith("predicted IoU")
    rec = persons[0]
    score = GTScore()(rec)
    for m in methods:
        if m == "box":
            labels = box_instances(score, rec.boxes)
        else:
            labels = segment_people(rec.load_image(), rec.keypoints, score, method=m, n_segments=300)
        q = predict_quality(labels, rec.keypoints, score)
        _init_worker(GTScore(), dict(report["config"], category_id=1))
        written = [r["score"] for r in _process(rec)["methods"][m]["results"]]
        np.testing.assert_allclose(sorted(written), sorted(q[q > 0]), rtol=1e-12)
