"""p2i_prior.scores (person-score sources) and p2i_prior.evaluate (``p2i eval``)."""

import importlib.util
import json
import os
import pickle

import numpy as np
import pytest

from p2i_prior.coco import evaluate_segm, load_persons
from p2i_prior.scores import (
    FilesScore,
    GTScore,
    MissingScoreError,
    SelfieScore,
    available_score_sources,
    make_score_source,
    register_score_source,
)

from conftest import SHARED

FIXTURE = os.path.join(os.path.dirname(__file__), "data", "coco")
FIXTURE_JSON = os.path.join(FIXTURE, "annotations.json")
SELFIE_MODEL = os.path.abspath(os.path.join(SHARED, "models", "selfie_segmentation.tflite"))
HAS_LITERT = importlib.util.find_spec("ai_edge_litert") is not None


@pytest.fixture(scope="module")
def persons():
    return load_persons(FIXTURE_JSON)


@pytest.mark.skipif(not os.path.isfile(SELFIE_MODEL), reason=f"shared selfie model absent: {SELFIE_MODEL}")
def test_the_shipped_selfie_model_is_the_shared_one_with_its_licence():
    import hashlib

    from p2i_prior.scores import BUNDLED_SELFIE_MODEL

    digest = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
    assert digest(BUNDLED_SELFIE_MODEL) == digest(SELFIE_MODEL)
    folder = os.path.dirname(BUNDLED_SELFIE_MODEL)
    with open(os.path.join(folder, "LICENSE-selfie_segmentation.txt")) as f:
        assert "Apache License" in f.read()
    with open(os.path.join(folder, "NOTICE-selfie_segmentation.txt")) as f:
        assert "Copyright Google LLC" in f.read()


def test_eval_help_is_plain_text_and_selfie_needs_no_path(capsys):
    from p2i_prior.cli import main

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text and ":mod:" not in text
    assert "--threads" in text and "none (every pixel a person)" in text


# ---------------------------------------------------------------------------------------------
# score sources
# ---------------------------------------------------------------------------------------------


def test_gt_score_is_union_of_all_persons(persons):
    rec = persons.by_id(103)  # two eligible persons and one without keypoints
    score = make_score_source("gt")(rec, None)
    assert score.dtype == np.float32 and score.shape == (rec.height, rec.width)
    union = rec.masks().any(0) | rec.other_masks().any(0)
    np.testing.assert_array_equal(score, union.astype(np.float32))
    assert (rec.other_masks()[0] & ~rec.masks().any(0)).any()  # the no-keypoint person counts too
    eligible = make_score_source("gt:eligible")(rec, None)
    np.testing.assert_array_equal(eligible, rec.masks().any(0).astype(np.float32))


def test_files_score_npy_and_png(tmp_path, persons, rng):
    from PIL import Image

    a, b = persons.by_id(102), persons.by_id(103)
    sa = rng.random((a.height, a.width)).astype(np.float32)
    np.save(tmp_path / "000000000785.npy", sa)
    grey = (rng.random((b.height, b.width)) * 255).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "000000040083.png")
    source = make_score_source(f"files:{tmp_path}")
    assert isinstance(source, FilesScore)
    np.testing.assert_array_equal(source(a), sa)
    np.testing.assert_allclose(source(b), grey / 255.0, atol=1e-7)
    assert source(b).dtype == np.float32
    c = persons.by_id(104)
    with pytest.raises(MissingScoreError, match=r"image 104: no score file 000000196141.npy or 000000196141.png"):
        source(c)
    np.save(tmp_path / "000000196141.npy", np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected shape \(429, 640\), got \(3, 4\)"):
        source(c)
    np.save(tmp_path / "000000196141.npy", np.full((c.height, c.width), 2.0, np.float32))
    with pytest.raises(ValueError, match=r"expected values in \[0, 1\], got range \[2, 2\]"):
        source(c)
    np.save(tmp_path / "000000196141.npy", np.full((c.height, c.width), 200, np.uint8))
    np.testing.assert_allclose(source(c), 200 / 255.0, rtol=1e-6)


def test_score_registry_and_bad_specs(tmp_path):
    assert {"gt", "files", "selfie"} <= set(available_score_sources())
    with pytest.raises(ValueError, match="score: expected one of files, gt, model, none, selfie"):
        make_score_source("oracle")
    with pytest.raises(ValueError, match="score: expected 'gt' or 'gt:eligible', got 'gt:x'"):
        make_score_source("gt:x")
    with pytest.raises(ValueError, match="score: expected files:DIR"):
        make_score_source("files")
    with pytest.raises(FileNotFoundError, match="files: score folder not found"):
        make_score_source(f"files:{tmp_path / 'nowhere'}")
    from p2i_prior.scores import BUNDLED_SELFIE_MODEL, NoneScore

    # the selfie model ships in the package: no path needed
    assert make_score_source("selfie").model_path == BUNDLED_SELFIE_MODEL
    assert isinstance(make_score_source("none"), NoneScore)
    with pytest.raises(ValueError, match="score: expected 'none' \\(every pixel a person\\), got 'none:x'"):
        make_score_source("none:x")
    with pytest.raises(FileNotFoundError, match="selfie: model file not found"):
        make_score_source("selfie", model_path=str(tmp_path / "none.tflite"))
    with pytest.raises(ValueError, match="name: expected a non-empty identifier"):
        register_score_source("a:b", lambda arg, **o: None)
    register_score_source("half", lambda arg, **o: (lambda rec, img: np.full(img.shape[:2], 0.5, np.float32)))
    assert make_score_source("half")(None, np.zeros((2, 3, 3), np.uint8)).shape == (2, 3)


CONST_SOURCE = """
import numpy as np


def factory(arg, **options):
    value = float(arg or 1.0)
    return lambda record, image: np.full(image.shape[:2], value, np.float32)
"""


def test_score_sources_of_other_packages_come_through_entry_points(tmp_path, monkeypatch):
    from fake_plugins import make_distribution

    from p2i_prior import scores

    monkeypatch.setattr(scores, "_REGISTRY", {k: scores._REGISTRY[k] for k in ("gt", "files", "none", "selfie")})
    make_distribution(tmp_path, "p2i-more-scores",
                      {"p2i.score_sources": {"const": "p2i_const_score:factory", "broken": "p2i_broken_score:factory"}},
                      {"p2i_const_score.py": CONST_SOURCE, "p2i_broken_score.py": "import p2i_score_dep_absent\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert {"broken", "const", "files", "gt", "model", "none", "selfie"} <= set(available_score_sources())
    assert "const" not in scores._REGISTRY  # listed without being loaded
    np.testing.assert_array_equal(make_score_source("const:0.25")(None, np.zeros((2, 3, 3), np.uint8)),
                                  np.full((2, 3), 0.25, np.float32))
    assert "const" in scores._REGISTRY
    with pytest.raises(ValueError, match=r"score: 'broken' needs p2i_broken_score, which failed to import: "
                                         r"No module named 'p2i_score_dep_absent'"):
        make_score_source("broken")
    with pytest.raises(ValueError, match=r"score: expected one of broken, const, files, gt, model, none, selfie "
                                         r"\(optionally NAME:ARGUMENT\), got 'oracle'"):
        make_score_source("oracle")


def test_model_score_source_resolves_through_the_registry(tmp_path, monkeypatch):
    from p2i_prior import plugins, scores

    monkeypatch.setattr(scores, "_REGISTRY", {k: v for k, v in scores._REGISTRY.items() if k != "model"})
    (ep,) = [ep for ep in plugins.entry_points(plugins.SCORE_SOURCES) if ep.name == "model"]
    assert ep.value == "p2i_net.scores:model_source"
    with pytest.raises(FileNotFoundError, match="model: checkpoint not found"):
        make_score_source(f"model:{tmp_path / 'none.pt'}")
    assert scores._REGISTRY["model"] is ep.load()
    with pytest.raises(ValueError, match=r"model: expected model:CHECKPOINT"):
        make_score_source("model")


def test_selfie_without_litert_says_how_to_install(monkeypatch, tmp_path):
    import sys

    model = tmp_path / "m.tflite"
    model.write_bytes(b"\0")
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(ImportError, match=r"needs ai-edge-litert, a dependency of pose2instance .*pip install ai-edge-litert"):
        SelfieScore(str(model))


def test_selfie_score_on_real_photos(persons):
    # the model shipped in the package, with ai-edge-litert (a core dependency): never skipped
    source = pickle.loads(pickle.dumps(make_score_source("selfie")))
    ious = []
    for rec in persons:
        image = rec.load_image()
        p = source(rec, image)
        assert p.shape == (rec.height, rec.width) and p.dtype == np.float32
        assert 0.0 <= p.min() and p.max() <= 1.0
        gt = GTScore()(rec) > 0.5
        q = p > 0.5
        ious.append((q & gt).sum() / (q | gt).sum())
    # a real person detector: clearly above chance on every photo, ~0.5 on average
    assert min(ious) > 0.15 and np.mean(ious) > 0.35
    with pytest.raises(ValueError, match=r"image: expected \(H, W, 3\), got shape \(4, 5\)"):
        source.predict(np.zeros((4, 5), np.uint8))
    with pytest.raises(TypeError, match="image: expected uint8 RGB, got dtype float32"):
        source.predict(np.zeros((4, 5, 3), np.float32))


# ---------------------------------------------------------------------------------------------
# p2i eval
# ---------------------------------------------------------------------------------------------

needs_pipeline = pytest.mark.skipif(
    importlib.util.find_spec("p2i_prior.pipeline") is None or importlib.util.find_spec("p2i_prior.masks") is None,
    reason="p2i_prior.pipeline / p2i_prior.masks not in this checkout yet",
)


def test_format_table_layout():
    from p2i_prior.evaluate import format_table

    text = format_table(
        {"box": {"ap50": 0.846, "ap": 0.551, "mean_instance_iou": 0.8304},
         "rag": {"ap50": 0.913, "ap": 0.631}},
        score="gt", roi="box", n_images=105, n_instances=267,
    )
    lines = text.splitlines()
    assert lines[2] == "| method | AP^r@0.5 | vs box | AP^r@[.5:.95] | vs box | mean IoU |"
    assert lines[4] == "| box (oracle boxes) | 0.846 |  | 0.551 |  | 0.830 |"
    assert lines[5] == "| rag (keypoints) | 0.913 | +7.9% | 0.631 | +14.5% | n/a |"


def test_mean_instance_iou_is_per_instance_id_and_independent_of_ranking(persons):
    """Mean IoU: the mask labelled k + 1 against instance k's own mask, empty = 0, any ranking."""
    from p2i_prior.evaluate import evaluate_methods, predict_image

    reports = [evaluate_methods(persons, methods=["box"], rank=r, progress=False, figures=0)
               for r in ("score", "keypoints", "quality")]
    expect = []
    for rec in persons:
        labels, _, _ = predict_image(rec, rec.load_image(), GTScore()(rec), "box")
        for k, g in enumerate(rec.masks()):
            p = labels == k + 1
            expect.append((p & g).sum() / (p | g).sum())
    for report in reports:
        assert report["methods"]["box"]["mean_instance_iou"] == pytest.approx(np.mean(expect))
    assert f"| {np.mean(expect):.3f} |" in reports[0]["table"]


def test_eval_bad_arguments(tmp_path):
    from p2i_prior.cli import main
    from p2i_prior.evaluate import evaluate_methods

    with pytest.raises(ValueError, match="methods: expected one of 'box', 'rag', 'sweep', 'geodesic', 'affinity', got 'slic'"):
        evaluate_methods(FIXTURE_JSON, methods="box,slic")
    with pytest.raises(ValueError, match="roi: expected one of 'none', 'box', got 'mask'"):
        evaluate_methods(FIXTURE_JSON, roi="mask")
    with pytest.raises(ValueError, match="workers: expected an integer >= 1, got 0"):
        evaluate_methods(FIXTURE_JSON, workers=0)
    with pytest.raises(ValueError, match="score: expected one of"):
        evaluate_methods(FIXTURE_JSON, methods="box", score="oracle")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["eval", "--coco", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert main(["eval", "--coco", str(tmp_path / "absent.json"), "--quiet"]) == 2


@needs_pipeline
def test_cli_end_to_end_on_fixture(tmp_path, capsys):
    from p2i_prior.cli import main

    out = tmp_path / "out"
    rc = main([
        "eval", "--coco", FIXTURE_JSON, "--images", os.path.join(FIXTURE, "images"),
        "--method", "box,rag,sweep,geodesic", "--score", "gt", "--n-segments", "300",
        "--figures", "1", "--out", str(out), "--quiet",
    ])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| box (oracle boxes) |" in printed and "| geodesic (keypoints) |" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["evaluated_images"] == 4 and report["counts"]["evaluated_instances"] == 12
    assert report["config"]["prediction_score"].startswith("predicted IoU")  # the default ranking
    persons = load_persons(FIXTURE_JSON)
    for m in ("box", "rag", "sweep", "geodesic"):
        results = json.loads((out / f"{m}_results.json").read_text())
        st = report["methods"][m]
        assert st["n_detections"] == len(results) <= 12
        again = evaluate_segm(persons, results)  # the written results reproduce the report
        assert again["ap"] == pytest.approx(st["ap"]) and again["ap50"] == pytest.approx(st["ap50"])
        assert 0.3 < st["ap50"] <= 1.0  # the gt score makes every method reasonable
        assert len(report["per_image"]["105"][m]) == 5
    assert (out / "table.md").read_text().startswith("AP^r of person instance masks")
    assert len(list((out / "figures").glob("figure_*.png"))) == 1


@needs_pipeline
def test_box_baseline_with_gt_score_beats_plain_boxes(persons):
    from p2i_prior.evaluate import evaluate_methods

    report = evaluate_methods(persons, methods=["box"], progress=False, figures=0)
    st = report["methods"]["box"]
    assert st["n_instances"] == 12 and st["ap50"] > 0.6
    assert st["mean_instance_iou"] > 0.6


@needs_pipeline
def test_missing_score_files_are_counted_or_raise(tmp_path, persons):
    from p2i_prior.evaluate import evaluate_methods

    for rec in list(persons)[:3]:  # no score for the last image (105)
        np.save(tmp_path / (os.path.splitext(rec.file_name)[0] + ".npy"), GTScore()(rec))
    with pytest.raises(MissingScoreError, match="image 105: no score file"):
        evaluate_methods(persons, methods=["box"], score=f"files:{tmp_path}", progress=False, figures=0)
    report = evaluate_methods(
        persons, methods=["box"], score=f"files:{tmp_path}", missing="skip", progress=False, figures=0
    )
    c = report["counts"]
    assert c["skipped_missing_score"] == 1 and c["evaluated_images"] == 3
    assert c["skipped"][0]["image_id"] == 105 and report["methods"]["box"]["n_instances"] == 7
    # the same numbers as the gt score on those three images
    ref = evaluate_methods(persons, methods=["box"], image_ids=[102, 103, 104], progress=False, figures=0)
    assert report["methods"]["box"]["ap"] == pytest.approx(ref["methods"]["box"]["ap"])


@needs_pipeline
def test_parallel_workers_match_serial(persons):
    from p2i_prior.evaluate import evaluate_methods

    kw = dict(methods=["box", "sweep"], progress=False, figures=0, limit=2)
    serial = evaluate_methods(persons, workers=1, **kw)
    parallel = evaluate_methods(persons, workers=2, **kw)
    for m in ("box", "sweep"):
        assert parallel["methods"][m]["ap"] == serial["methods"][m]["ap"]
    assert parallel["per_image"] == serial["per_image"]


@needs_pipeline
def test_synthetic_scenes_exported_as_coco(tmp_path):
    """Synthetic scenes through to_coco: perfect masks score 1, the prior is far from chance."""
    from p2i_prior.coco import masks_to_results
    from p2i_prior.evaluate import evaluate_methods
    from p2i_prior.synthetic import make_scenes, to_coco

    scenes = make_scenes(3, seed=5, height=72, width=96, n_people=3)
    data = to_coco(scenes, tmp_path / "images")
    (tmp_path / "annotations.json").write_text(json.dumps(data))
    persons = load_persons(str(tmp_path / "annotations.json"))
    assert len(persons) == 3 and persons.images_dir == str(tmp_path / "images")
    perfect = []
    for rec in persons:
        perfect += masks_to_results(rec.id, rec.masks(), np.ones(rec.n))
    assert evaluate_segm(persons, perfect)["ap"] == pytest.approx(1.0)
    # the scenes' own noisy person scores as a files: source
    score_dir = tmp_path / "scores"
    score_dir.mkdir()
    for rec, scene in zip(persons, scenes):
        np.save(score_dir / (os.path.splitext(rec.file_name)[0] + ".npy"), scene.score)
    report = evaluate_methods(
        persons, methods=["box", "sweep"], score=f"files:{score_dir}", progress=False, figures=0
    )
    st = report["methods"]
    assert st["box"]["n_instances"] == st["sweep"]["n_instances"] == persons.n_instances
    # heavily overlapping people: keypoints separate them where boxes cannot
    assert st["sweep"]["ap50"] > 0.5 and st["sweep"]["ap50"] > st["box"]["ap50"]


@needs_pipeline
def test_component_gate_and_options(persons):
    from p2i_prior.evaluate import evaluate_methods

    kw = dict(methods=["sweep"], image_ids=[103, 104], progress=False, figures=0)
    plain = evaluate_methods(persons, components=False, **kw)
    gated = evaluate_methods(persons, components=True, **kw)
    # both images hold a person without keypoints: the plain prior hands them to a skeleton
    assert gated["methods"]["sweep"]["mean_instance_iou"] > plain["methods"]["sweep"]["mean_instance_iou"]
    assert "components=off" in plain["table"] and "components=on" in gated["table"]
    with pytest.raises(ValueError, match="option: expected a keyword of segment_people .* got 'bogus'"):
        evaluate_methods(persons, options={"bogus": 1}, **kw)


def test_rank_by_keypoints(persons):
    from p2i_prior.evaluate import evaluate_methods, predict_image

    rec = persons.images[0]
    score = GTScore()(rec)
    _, masks, by_score = predict_image(rec, rec.load_image(), score, "box", rank="score")
    _, masks2, by_kp = predict_image(rec, rec.load_image(), score, "box", rank="keypoints")
    labelled = (rec.keypoints[:, :, 2] > 0).sum(1)
    np.testing.assert_array_equal(masks, masks2)
    np.testing.assert_allclose(by_kp, by_score * (labelled + 1) / 18)
    report = evaluate_methods(persons, methods=["box"], rank="keypoints", progress=False, figures=0)
    assert report["config"]["prediction_score"].endswith("(labelled keypoints + 1) / 18")
    with pytest.raises(ValueError, match="rank: expected one of 'quality', 'score', 'keypoints', got 'area'"):
        evaluate_methods(persons, methods=["box"], rank="area", progress=False, figures=0)
    with pytest.raises(ValueError, match="rank: expected one of 'quality', 'score', 'keypoints', got 'area'"):
        predict_image(rec, rec.load_image(), score, "box", rank="area")


def test_predicted_keypoints_replace_the_oracle(tmp_path, persons):
    from p2i_prior.evaluate import evaluate_methods

    # predictions = the ground truth keypoints (by ann_id), one person left without
    entries = []
    for rec in persons.images:
        for k in range(rec.n):
            entries.append({"image_id": rec.id, "ann_id": int(rec.ann_ids[k]), "category_id": 1,
                            "keypoints": rec.keypoints[k].ravel().tolist(), "score": 1.0})
    dropped = entries.pop()
    path = tmp_path / "kp.json"
    path.write_text(json.dumps(entries))
    oracle = evaluate_methods(persons, methods=["sweep"], progress=False, figures=0)
    pred = evaluate_methods(persons, methods=["sweep"], keypoints=path, progress=False, figures=0)
    assert pred["counts"]["persons_without_predicted_keypoints"] == 1
    assert pred["methods"]["sweep"]["ap"] <= oracle["methods"]["sweep"]["ap"]
    entries.append(dropped)
    path.write_text(json.dumps(entries))
    full = evaluate_methods(persons, methods=["sweep"], keypoints=path, progress=False, figures=0)
    assert full["methods"]["sweep"]["ap"] == oracle["methods"]["sweep"]["ap"]
    path.write_text(json.dumps([{"image_id": 1, "keypoints": [0] * 50}]))
    with pytest.raises(ValueError, match="keypoints: entry 0 has 50 values, expected 51"):
        evaluate_methods(persons, methods=["sweep"], keypoints=path, progress=False, figures=0)
    with pytest.raises(FileNotFoundError, match="keypoints: file not found"):
        evaluate_methods(persons, methods=["sweep"], keypoints=tmp_path / "none.json", progress=False, figures=0)
