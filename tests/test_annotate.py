"""``p2i annotate`` (issue 15): a keypoints dataset in, a masks dataset out; resumable after a
kill, byte-identical across workers and on a Dask cluster; bad input stops before any work."""

import copy
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from p2i_prior import annotate as annotate_module
from p2i_prior.annotate import annotate
from p2i_prior.cli import main
from p2i_prior.provenance import PROVENANCE_KEY, evaluate_annotated

FIXTURE = os.path.join(os.path.dirname(__file__), "data", "coco")
ANN = os.path.join(FIXTURE, "annotations.json")
IMAGES = os.path.join(FIXTURE, "images")
#: Fast settings: the oracle score, one image per shard so kills land between shards.
FAST = ["--score", "gt", "--overwrite", "--shard-size", "1", "--quiet", "--images", IMAGES]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load(path):
    with open(path) as f:
        return json.load(f)


def dump(data, path):
    with open(path, "w") as f:
        json.dump(data, f)
    return str(path)


def run(tmp_path, *args, src=ANN, out="out.json"):
    return main(["annotate", str(src), "--out", str(tmp_path / out), *args])


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """An uninterrupted run with FAST settings, in this process: (path, bytes)."""
    d = tmp_path_factory.mktemp("clean")
    assert main(["annotate", ANN, "--out", str(d / "clean.json"), *FAST]) == 0
    with open(d / "clean.json", "rb") as f:
        return str(d / "clean.json"), f.read()


def test_output_is_the_input_plus_masks_with_provenance(clean):
    from pycocotools.coco import COCO

    path, _ = clean
    src, out = load(ANN), load(path)
    assert {k: v for k, v in out.items() if k != "annotations"} == {k: v for k, v in src.items() if k != "annotations"}
    assert [a["id"] for a in out["annotations"]] == [a["id"] for a in src["annotations"]]
    generated = 0
    for a, b in zip(src["annotations"], out["annotations"]):
        if not a.get("num_keypoints"):
            assert b == a  # no keypoints: passes through unchanged
            continue
        generated += 1
        assert set(b) == set(a) | {PROVENANCE_KEY}
        assert {k: v for k, v in b.items() if k not in ("segmentation", "area", PROVENANCE_KEY)} == \
            {k: v for k, v in a.items() if k not in ("segmentation", "area")}
        assert set(b["segmentation"]) == {"size", "counts"} and isinstance(b["area"], int) and b["area"] > 0
        p = b[PROVENANCE_KEY]
        assert (p["generator"], p["method"], p["score_source"], p["roi"]) == ("pose2instance", "rag", "gt", "box")
        assert p["version"] and 0 < p["mask_score"] <= 1
    assert generated == 12
    coco = COCO(path)  # reads back with pycocotools, which ignores the extra field
    for a in out["annotations"]:
        if PROVENANCE_KEY in a:
            assert coco.annToMask(coco.anns[a["id"]]).sum() == a["area"]
    assert not os.path.exists(path + ".parts")


@pytest.mark.parametrize("rank", ["score", "keypoints", "quality"])
def test_scoring_the_annotated_file_equals_p2i_eval_directly(clean, capsys, rank):
    from p2i_prior.evaluate import evaluate_methods

    direct = evaluate_methods(ANN, IMAGES, methods=["rag"], score="gt", roi="box", rank=rank,
                              progress=False)["methods"]["rag"]
    scored = evaluate_annotated(ANN, clean[0], rank)["methods"]["rag"]
    for key in ("ap", "ap50", "ap75", "n_instances", "n_detections", "mean_instance_iou"):
        assert scored[key] == direct[key], key
    assert main(["eval", "--coco", ANN, "--results", clean[0], "--rank", rank]) == 0
    printed = capsys.readouterr().out
    assert "| rag (keypoints) |" in printed and f"AP^r@[.5:.95] {direct['ap']:.4f}" in printed


def test_existing_segmentations_are_kept_unless_overwrite(tmp_path, capsys):
    data = load(ANN)
    stripped = [a["id"] for a in data["annotations"] if a.get("num_keypoints")][:3]
    for a in data["annotations"]:
        if a["id"] in stripped:
            del a["segmentation"], a["area"]
    src = dump(data, tmp_path / "kp.json")
    assert run(tmp_path, "--score", "none", "--quiet", "--images", IMAGES, src=src) == 0
    assert "3 masks generated, 9 kept (existing segmentation)" in capsys.readouterr().out
    out = load(tmp_path / "out.json")
    for a, b in zip(data["annotations"], out["annotations"]):
        assert (PROVENANCE_KEY in b) == (a["id"] in stripped)
        if a["id"] not in stripped:
            assert b == a
    assert out["annotations"][0][PROVENANCE_KEY]["score_source"] == "none" or stripped[0] != 429


def test_kill_at_any_moment_then_rerun_is_byte_identical(tmp_path, clean):
    out = tmp_path / "killed.json"
    cmd = [sys.executable, "-m", "p2i_prior", "annotate", ANN, "--out", str(out), *FAST]
    parts = str(out) + ".parts"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(parts, "shard-00000.json")) and proc.poll() is None:
        assert time.time() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # killed mid-run: no output, only finished shards
    finished = sorted(n for n in os.listdir(parts) if n.startswith("shard-"))
    assert finished and len(finished) < 4
    with open(os.path.join(parts, "shard-00003.json.tmp-999"), "w") as f:
        f.write('{"half a sha')  # what a kill during a shard write leaves
    summary = annotate(ANN, out, images_dir=IMAGES, score="gt", overwrite=True, shard_size=1, progress=False)
    assert summary["resumed_shards"] == len(finished) and summary["images_computed"] == 4 - len(finished)
    with open(out, "rb") as f:
        assert f.read() == clean[1]
    assert not os.path.exists(parts)


def test_kill_between_writing_the_output_and_removing_the_shards(tmp_path, clean, monkeypatch):
    out = tmp_path / "late.json"

    def killed(parts):
        raise KeyboardInterrupt  # stands for a SIGKILL after os.replace(out)

    monkeypatch.setattr(annotate_module, "_remove_parts", killed)
    with pytest.raises(KeyboardInterrupt):
        annotate(ANN, out, images_dir=IMAGES, score="gt", overwrite=True, shard_size=1, progress=False)
    monkeypatch.undo()
    # the output exists, but OUT.parts says it is this run's: the rerun finishes it, no --force
    summary = annotate(ANN, out, images_dir=IMAGES, score="gt", overwrite=True, shard_size=1, progress=False)
    assert summary["resumed_shards"] == 4 and summary["images_computed"] == 0
    with open(out, "rb") as f:
        assert f.read() == clean[1]


def test_two_local_workers_write_the_same_bytes(tmp_path, clean, capsys):
    assert run(tmp_path, *FAST, "--workers", "2") == 0
    assert "2 worker(s)" in capsys.readouterr().out
    with open(tmp_path / "out.json", "rb") as f:
        assert f.read() == clean[1]


def test_dask_local_cluster_writes_the_same_bytes(tmp_path, clean, capsys):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert run(tmp_path, *FAST, "--scheduler", cluster.scheduler_address) == 0
    assert f"scheduler {cluster.scheduler_address}" in capsys.readouterr().out
    with open(tmp_path / "out.json", "rb") as f:
        assert f.read() == clean[1]


def test_threads_beyond_a_workers_pool_are_capped_with_a_warning(tmp_path, clean, capsys):
    import numba

    before = numba.get_num_threads()
    asked = int(numba.config.NUMBA_NUM_THREADS) + 7
    assert run(tmp_path, *FAST, "--threads", str(asked)) == 0
    err = capsys.readouterr().err
    assert err.count(f"--threads: asked for {asked} numba threads per worker, a worker has "
                     f"{numba.config.NUMBA_NUM_THREADS} (its NUMBA_NUM_THREADS)") == 1  # once, not per shard
    with open(tmp_path / "out.json", "rb") as f:
        assert f.read() == clean[1]  # the same bytes whatever the threads
    numba.set_num_threads(before)


def test_scheduler_without_dask_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert run(tmp_path, *FAST, "--scheduler", "tcp://127.0.0.1:1") == 2
    assert "pip install 'pose2instance[cluster]'" in capsys.readouterr().err


@pytest.mark.parametrize("text, expected", [
    ('{"images": [', "could not parse"),
    ("[1, 2]", "expected a COCO json object (dict)"),
    ('{"images": [], "annotations": []}', "expected a COCO dataset with keys 'images', 'annotations', 'categories'"),
    ('{"images": [], "annotations": [], "categories": [{"id": 1, "name": "dog"}]}', "expected a 'person' category"),
])
def test_corrupt_or_non_coco_json_fails_before_any_work(tmp_path, capsys, text, expected):
    src = tmp_path / "bad.json"
    src.write_text(text)
    assert run(tmp_path, *FAST, src=src) == 2
    assert expected in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["bad.json"]  # no output, no shards


def test_bad_keypoints_and_unknown_images_are_named(tmp_path, capsys):
    data = load(ANN)
    data["annotations"][1]["keypoints"] = data["annotations"][1]["keypoints"][:50]
    assert run(tmp_path, *FAST, src=dump(data, tmp_path / "a.json")) == 2
    assert "annotation 430: expected 51 keypoint values (17 x, y, v), got 50" in capsys.readouterr().err
    data = load(ANN)
    data["annotations"][2]["image_id"] = 999
    assert run(tmp_path, *FAST, src=dump(data, tmp_path / "b.json")) == 2
    assert "annotation 431: image_id 999 is not in 'images'" in capsys.readouterr().err
    data = load(ANN)
    del data["annotations"][4]["bbox"]
    assert run(tmp_path, *FAST, "--roi", "box", src=dump(data, tmp_path / "c.json")) == 2
    assert "--roi box: expected a 'bbox' for every person to segment, got none for annotations 433" \
        in capsys.readouterr().err


def test_missing_and_unreadable_images_are_listed_then_skipped_or_an_error(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    names = sorted(os.listdir(IMAGES))
    for name in names[1:]:
        os.symlink(os.path.join(IMAGES, name), images / name)
    (images / names[2]).unlink()
    (images / names[2]).write_bytes(b"not a jpeg")  # unreadable
    args = ["--score", "gt", "--overwrite", "--shard-size", "1", "--quiet", "--images", str(images)]
    assert run(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert f"1 images not found in {images}: {names[0]} (image 102)" in err and "--missing skip" in err
    assert not os.path.exists(tmp_path / "out.json.parts")  # stopped before any work
    assert run(tmp_path, *args, "--missing", "skip") == 0
    out, err = capsys.readouterr()
    assert "1 images not found" in err and "skipped image 102: image 102: file not found" in err
    assert "skipped image 104: image 104: cannot identify image file" in err
    data = load(tmp_path / "out.json")
    people = {a["image_id"]: 0 for a in data["annotations"]}
    for a in data["annotations"]:
        people[a["image_id"]] += PROVENANCE_KEY in a
    assert people == {102: 0, 103: 2, 104: 0, 105: 5}
    assert "7 masks generated, 0 kept (existing segmentation), 5 skipped, 0 failed" in out
    # --missing error stops on the unreadable one too (the missing one removed from the json)
    data = load(ANN)
    data["images"] = [im for im in data["images"] if im["id"] != 102]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != 102]
    assert run(tmp_path, *args, src=dump(data, tmp_path / "no102.json"), out="o2.json") == 2
    assert "image 104: cannot identify image file" in capsys.readouterr().err


def test_keypoints_outside_the_image_are_warned_with_annotation_ids(tmp_path, capsys):
    data = load(ANN)
    data["annotations"][0]["keypoints"][0] = 5000.0  # x of the nose of annotation 429
    assert run(tmp_path, *FAST, src=dump(data, tmp_path / "a.json")) == 0
    assert "labelled keypoints outside the image for 1 annotations: ids 429" in capsys.readouterr().err


def test_input_is_never_modified_and_out_is_not_overwritten_without_force(tmp_path, capsys):
    src = dump(load(ANN), tmp_path / "in.json")
    before = sha(src)
    assert main(["annotate", src, "--out", src, *FAST]) == 2
    assert "is the input; the input is never modified in place" in capsys.readouterr().err
    (tmp_path / "out.json").write_text("keep me")
    assert run(tmp_path, *FAST, src=src) == 2
    assert "out.json exists; pass --force to overwrite it" in capsys.readouterr().err
    assert (tmp_path / "out.json").read_text() == "keep me"
    assert run(tmp_path, *FAST, "--force", src=src) == 0
    assert sha(src) == before and load(tmp_path / "out.json")["images"] == load(src)["images"]


def test_shards_of_another_run_are_not_mixed_in(tmp_path, capsys, monkeypatch):
    def killed(parts):
        raise KeyboardInterrupt

    monkeypatch.setattr(annotate_module, "_remove_parts", killed)
    with pytest.raises(KeyboardInterrupt):
        annotate(ANN, tmp_path / "out.json", images_dir=IMAGES, score="gt", overwrite=True, shard_size=1,
                 progress=False)
    monkeypatch.undo()
    os.remove(tmp_path / "out.json")
    assert run(tmp_path, *FAST, "--method", "sweep") == 2
    assert "holds the shards of another run (differs in: method)" in capsys.readouterr().err
    assert run(tmp_path, *FAST, "--method", "sweep", "--force") == 0
    assert {a[PROVENANCE_KEY]["method"] for a in load(tmp_path / "out.json")["annotations"] if PROVENANCE_KEY in a} \
        == {"sweep"}


def test_empty_masks_are_failed_not_written(tmp_path, capsys):
    data = copy.deepcopy(load(ANN))
    # a person whose box holds no person pixel: its mask comes out empty
    a = next(a for a in data["annotations"] if a["id"] == 429)
    a["bbox"] = [0.0, 0.0, 2.0, 2.0]
    a["keypoints"] = [1.0, 1.0, 2] + [0.0] * 48
    a["num_keypoints"] = 1
    assert run(tmp_path, *FAST, src=dump(data, tmp_path / "a.json")) == 0
    out, err = capsys.readouterr()
    assert "11 masks generated" in out and "1 failed" in out
    assert "empty masks (no person pixel assigned; no segmentation written): annotations 429" in err
    (b,) = [b for b in load(tmp_path / "out.json")["annotations"] if b["id"] == 429]
    assert PROVENANCE_KEY not in b and b["segmentation"] == a["segmentation"]
    assert np.isclose(b["area"], a["area"])
