"""``p2i segment`` on real photos (issue 14): real score sources, boxes, no silent failures."""

import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from p2i_prior.cli import main

FIXTURE = os.path.join(os.path.dirname(__file__), "data", "coco")
ANN = os.path.join(FIXTURE, "annotations.json")
PHOTOS = ["000000000785.jpg", "000000040083.jpg", "000000196141.jpg", "000000197388.jpg"]
#: Mean IoU of the 12 people with keypoints and masks of the four photos, measured before issue 14
#: with `p2i segment IMAGE --keypoints ANN --score <selfie score as .npy>` (method rag, no boxes,
#: no component gate): 0.457.  The default run (selfie score shipped in the package, boxes from
#: the annotations) must do at least as well; it gave 0.500 on the day of writing.
TODAY_SELFIE_MEAN_IOU = 0.457


def photo(name="000000196141.jpg"):
    return os.path.join(FIXTURE, "images", name)


def segment(tmp_path, *args, image=None, keypoints=ANN, out="out"):
    return main(["segment", image or photo(), "--keypoints", str(keypoints), "--out", str(tmp_path / out), *args])


def per_person_ious(stdout: str) -> list[float]:
    (line,) = [s for s in stdout.splitlines() if s.startswith("IoU with the annotations' masks")]
    return [float(v) for v in re.findall(r"\d+: ([0-9.]+)", line.split(";")[0])]


def test_default_run_on_the_four_real_photos(tmp_path, capsys):
    ious = []
    for k, name in enumerate(PHOTOS):
        assert segment(tmp_path, image=photo(name), out=f"out{k}") == 0
        out = capsys.readouterr().out
        (settings,) = [s for s in out.splitlines() if s.startswith("settings: ")]
        assert "score selfie (the model shipped in the package" in settings
        assert "method affinity" in settings and "roi box (the annotations' bbox)" in settings
        ious += per_person_ious(out)
        with open(tmp_path / f"out{k}" / "instances.json") as f:
            inst = json.load(f)
        assert inst and all(e["area"] > 0 and 0 <= e["iou_with_annotation"] <= 1 for e in inst)
        with Image.open(tmp_path / f"out{k}" / "overlay.png") as im:
            assert im.size[0] >= 640
    assert len(ious) == 12  # every person with keypoints and a mask
    assert np.mean(ious) >= TODAY_SELFIE_MEAN_IOU


def test_boxes_beat_keypoints_alone_and_the_output_says_which_ran(tmp_path, capsys):
    means = {}
    for roi in ("box", "none"):
        ious = []
        for k, name in enumerate(PHOTOS):
            # the nearest-skeleton rule (rag); with the default affinity model keypoints alone are
            # about as good as boxes here (0.502 vs 0.500: issue 12's point), so no order is asserted
            assert segment(tmp_path, "--roi", roi, "--method", "rag", image=photo(name), out=f"{roi}{k}") == 0
            out = capsys.readouterr().out
            assert f"roi {roi} (" in out
            ious += per_person_ious(out)
        means[roi] = np.mean(ious)
    assert means["box"] > means["none"]  # 0.500 against 0.457 on the day of writing


def test_score_sources_by_name_and_file(tmp_path, capsys):
    assert segment(tmp_path, "--score", "gt", out="gt") == 0
    out = capsys.readouterr().out
    assert "score gt (the annotations' person masks: an oracle)" in out
    assert np.mean(per_person_ious(out)) > 0.6
    assert segment(tmp_path, "--score", "none", out="none") == 0
    assert "score none (every pixel a person" in capsys.readouterr().out
    np.save(tmp_path / "s.npy", np.full((429, 640), 0.9, np.float32))
    np.save(tmp_path / "000000196141.npy", np.full((429, 640), 0.9, np.float32))  # files:DIR
    for spec in (str(tmp_path / "s.npy"), f"files:{tmp_path}", f"files:{tmp_path / 's.npy'}"):
        assert segment(tmp_path, "--score", spec, out="f") == 0, capsys.readouterr().err
    capsys.readouterr()
    assert segment(tmp_path, "--score", "model:nowhere.pt", out="m") == 2
    assert "--score: model: checkpoint not found: nowhere.pt" in capsys.readouterr().err
    assert segment(tmp_path, "--score", "oracle", out="m") == 2
    assert "--score: score: expected one of" in capsys.readouterr().err
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([{"image_id": 1, "keypoints": [100, 100, 2] * 17}]))
    assert segment(tmp_path, "--score", "gt", keypoints=listing, out="g") == 2
    assert "--score: gt: the annotations of image 1 in --keypoints carry no 'segmentation'" in capsys.readouterr().err


def test_roi_box_needs_boxes(tmp_path, capsys):
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([{"image_id": 1, "keypoints": [100, 100, 2] * 17}]))
    assert segment(tmp_path, "--roi", "box", "--score", "none", keypoints=listing) == 2
    assert "--roi box: expected a 'bbox' in every matched annotation" in capsys.readouterr().err
    assert segment(tmp_path, "--score", "none", keypoints=listing) == 0
    assert "roi none (keypoints alone)" in capsys.readouterr().out


def test_errors_say_what_was_found(tmp_path, capsys):
    # the annotations of a 640x425 photo run on a 640x429 one
    assert segment(tmp_path, "--image-id", "102") == 2
    err = capsys.readouterr().err
    assert "image: " in err and "is 640x429 (WxH), but --keypoints says image 102 (000000000785.jpg) is 640x425" in err
    assert segment(tmp_path, "--image-id", "999") == 2
    assert "--keypoints: no person matched image id 999: " in capsys.readouterr().err
    with open(ANN) as f:
        coco = json.load(f)
    for a in coco["annotations"]:
        a.pop("keypoints", None)
    no_kp = tmp_path / "nokp.json"
    no_kp.write_text(json.dumps(coco))
    assert segment(tmp_path, keypoints=no_kp) == 2
    assert "--keypoints: no person matched: image id 104 has 5 annotations in" in capsys.readouterr().err
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert segment(tmp_path, keypoints=empty) == 2
    assert "--keypoints: no person matched: " in capsys.readouterr().err
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps([[[100, 100, 2]] * 17]))  # (1, 17, 3) nested lists: crashed before
    assert segment(tmp_path, keypoints=nested) == 2
    err = capsys.readouterr().err
    assert err.startswith("p2i segment: error: --keypoints: expected COCO annotation dicts") and "entry 0 as a list" in err
    assert segment(tmp_path, "--threads", "0") == 2
    assert "--threads: expected 1.." in capsys.readouterr().err


def test_warnings_for_what_may_be_wrong(tmp_path, capsys):
    outside = tmp_path / "outside.json"
    kp = [2000, 2000, 2] * 17  # every keypoint outside the 640x429 photo
    inside = [300.0, 200.0, 2] * 17
    outside.write_text(json.dumps([{"image_id": 1, "id": 7, "keypoints": kp},
                                   {"image_id": 1, "id": 8, "keypoints": inside}]))
    assert segment(tmp_path, "--score", "none", keypoints=outside) == 0
    captured = capsys.readouterr()
    assert ("p2i segment: warning: labelled keypoints outside the 640x429 image (WxH): "
            "person 1 (ann 7): 17 of 17") in captured.err
    assert "person 2 (ann 8)" not in captured.err.split("outside")[1].split("\n")[0]
    # person 1 gets no pixel: warned about, and never written as an area-0 detection
    assert "empty masks (no person pixel assigned; left out of instances.json): person 1 (ann 7)" in captured.err
    with open(tmp_path / "out" / "instances.json") as f:
        inst = json.load(f)
    assert [e["person"] for e in inst] == [2] and inst[0]["area"] > 0
    # a nearly empty person score: warned with its range
    score = np.zeros((429, 640), np.float32)
    score[:3, :10] = 0.666
    score[200, 300] = 0.6
    np.save(tmp_path / "weak.npy", score)
    assert segment(tmp_path, "--score", str(tmp_path / "weak.npy")) == 0
    err = capsys.readouterr().err
    assert ("warning: person score nearly empty: 31 of 274560 pixels (0.0113%) reach the threshold 0.5; "
            "its range is [0, 0.666]") in err


def test_no_warnings_on_a_clean_run(tmp_path, capsys):
    assert segment(tmp_path, "--score", "gt", image=photo("000000000785.jpg")) == 0
    assert "warning" not in capsys.readouterr().err


def test_help_is_plain_and_sizes_are_wxh(capsys):
    for cmd in ("segment", "demo", "eval"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        text = capsys.readouterr().out
        assert "``" not in text and ":func:" not in text, cmd
        assert "--threads" in text, cmd
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "WxH of the scene (default 640x480)" in capsys.readouterr().out


def test_instance_colours_are_distinct_for_many_people():
    from p2i_prior.figures import instance_colours

    cols = instance_colours(40)
    assert cols.shape == (40, 3) and ((cols >= 0) & (cols <= 1)).all()
    d = np.linalg.norm(cols[:, None] - cols[None], axis=-1) + np.eye(40)
    assert d[:20, :20].min() > 0.05 and d.min() > 0.01


def test_bench_writes_to_an_untracked_folder_by_default():
    import argparse
    import subprocess

    from p2i_bench.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = parser.parse_args([]).out
    assert out == "p2i_out/bench"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run(["git", "check-ignore", "-q", os.path.join(out, "x.json")], cwd=root)
    assert r.returncode == 0  # ignored by .gitignore


def test_image_ids_in_messages_are_in_numeric_order():
    from p2i_prior.segment_cli import _ids_text

    assert _ids_text([103, 10, 11, 9, None, 10]) == "9, 10, 11, 103"
    assert _ids_text(list(range(12, 0, -1))) == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more"
    assert _ids_text(["b", 2, "a"]) == "2, a, b"
    assert _ids_text([None]) == "none"
