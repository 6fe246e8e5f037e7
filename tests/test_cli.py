"""The p2i command line, run as a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from p2i_prior.cli import main

FIXTURE = os.path.join(os.path.dirname(__file__), "data", "coco")


def run_p2i(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "p2i_prior", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_help_lists_commands():
    r = run_p2i("--help")
    assert r.returncode == 0
    for cmd in ("demo", "segment", "eval"):
        assert cmd in r.stdout


def test_demo_runs_and_writes_the_figure(tmp_path):
    r = run_p2i("demo", "--size", "120x160", "--people", "3", "--segments", "200", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "per-instance IoU" in r.stdout and "| mean |" in r.stdout
    assert "rag distance (sssp)" in r.stdout
    mean_row = [line for line in r.stdout.splitlines() if line.startswith("| mean |")][0]
    values = [float(v) for v in mean_row.strip("| ").split("|")[1:]]
    assert len(values) == 4 and all(0.0 <= v <= 1.0 for v in values)
    with Image.open(tmp_path / "demo.png") as im:
        assert im.size[0] > 800 and im.size[1] > 300


def test_demo_bad_size(capsys):
    assert main(["demo", "--size", "big"]) == 2
    assert "--size: expected HxW such as 480x640, got 'big'" in capsys.readouterr().err


def test_segment_on_a_real_photo(tmp_path):
    image = os.path.join(FIXTURE, "images", "000000196141.jpg")
    ann = os.path.join(FIXTURE, "annotations.json")
    np.save(tmp_path / "score.npy", np.full((429, 640), 0.9, np.float32))
    code = main(["segment", image, "--keypoints", ann, "--score", str(tmp_path / "score.npy"),
                 "--method", "sweep", "--out", str(tmp_path / "out")])
    assert code == 0
    labels = np.asarray(Image.open(tmp_path / "out" / "labels.png"))
    with open(ann) as f:
        coco = json.load(f)
    img_id = [im["id"] for im in coco["images"] if im["file_name"] == "000000196141.jpg"][0]
    n = sum(1 for a in coco["annotations"] if a["image_id"] == img_id and "keypoints" in a and not a["iscrowd"])
    assert labels.shape == (429, 640) and labels.max() <= n
    with open(tmp_path / "out" / "instances.json") as f:
        inst = json.load(f)
    assert len(inst) == n and all(e["image_id"] == img_id and e["category_id"] == 1 for e in inst)
    assert os.path.isfile(tmp_path / "out" / "overlay.png")


def test_segment_errors(tmp_path, capsys):
    image = os.path.join(FIXTURE, "images", "000000196141.jpg")
    assert main(["segment", str(tmp_path / "nope.jpg"), "--keypoints", "x.json", "--out", str(tmp_path)]) == 2
    assert "image: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["segment", image, "--keypoints", str(bad), "--out", str(tmp_path)]) == 2
    assert "--keypoints: expected a COCO json with keypoints, could not parse" in capsys.readouterr().err
    kp = tmp_path / "kp.json"
    kp.write_text(json.dumps([{"image_id": 1, "keypoints": [0] * 50}]))
    assert main(["segment", image, "--keypoints", str(kp), "--out", str(tmp_path)]) == 2
    assert "entry 0 has 50 keypoint values, expected 51" in capsys.readouterr().err
    kp.write_text(json.dumps([{"image_id": 1, "keypoints": [0] * 51}]))
    np.save(tmp_path / "s.npy", np.ones((3, 3)))
    assert main(["segment", image, "--keypoints", str(kp), "--score", str(tmp_path / "s.npy"), "--out", str(tmp_path)]) == 2
    assert "--score: expected an (H, W) = (429, 640) map" in capsys.readouterr().err
