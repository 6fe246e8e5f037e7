"""p2i_net training: overfitting, resume equality, DDP (gloo, 2 processes), checkpoints, CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from p2i_net import train as T  # noqa: E402
from p2i_net.data import gaussian_heatmaps  # noqa: E402
from p2i_net.models import build_model  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(__file__), "data", "coco")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def tiny_config(out, **kw):
    base = dict(out=str(out), model="cascaded", width=0.0625, steps=6, batch_size=2, crop_size=24,
                synthetic=40, synthetic_size=(64, 64), synthetic_people=2, lr=0.01,
                log_every=1, ckpt_every=100, threads=1, progress=False)
    base.update(kw)
    return T.TrainConfig(**base)


def weights(path):
    return T.load_checkpoint(path)["model"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# --------------------------------------------------------------------------------------------
# optimisation
# --------------------------------------------------------------------------------------------


def _block_batch(S=32, B=4, seed=0):
    """A batch a stride-8 network can fit: 8x8-block masks, keypoints on a visible marker."""
    rng = np.random.default_rng(seed)
    img = rng.normal(0, 0.3, (B, 3, S, S)).astype(np.float32)
    mask = np.zeros((B, S, S), np.int64)
    hms = []
    for b in range(B):
        g = S // 8
        blocks = rng.random((g, g)) < 0.4
        blocks[g // 4:3 * g // 4, g // 4:3 * g // 4] = True
        m = np.kron(blocks, np.ones((8, 8), bool))
        mask[b] = m
        img[b][:, m] += 1.0
        kp = np.zeros((17, 3))
        kp[:, :2] = 8 * rng.integers(0, g, 2) + 4  # one visible marker per crop
        kp[:, 2] = 2
        x, y = (int(v) for v in kp[0, :2])
        img[b, 2, y - 2:y + 2, x - 2:x + 2] += 3.0
        hms.append(gaussian_heatmaps(kp, S, S / 8))
    return {"image": torch.from_numpy(img), "mask": torch.from_numpy(mask),
            "heatmaps": torch.from_numpy(np.stack(hms)), "kp_weight": torch.ones(B, 17)}


@pytest.mark.parametrize("kind, steps", [("seg_only", 100), ("cascaded", 200)])
def test_one_batch_overfits(kind, steps):
    batch = _block_batch()
    torch.manual_seed(0)
    net = build_model(kind, width=0.0625, batch_norm=True, dropout=0.0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for s in range(steps):
        for g in opt.param_groups:  # the training schedule: poly decay
            g["lr"] = 0.1 * (1 - s / steps) ** 0.9
        loss, parts = T.compute_loss(net(batch["image"]), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


def test_heatmap_loss_is_zero_for_a_perfect_prediction():
    batch = _block_batch(B=2)
    t = batch["heatmaps"].clamp(1e-6, 1 - 1e-6)
    perfect = {"seg": torch.zeros(2, 2, 32, 32), "heatmaps": torch.log(t / (1 - t))}
    _, parts = T.compute_loss(perfect, batch)
    assert parts["loss_kp"] == pytest.approx(0.0, abs=1e-5)
    # unlabelled keypoints (weight 0) do not count
    bad = dict(perfect, heatmaps=perfect["heatmaps"].clone())
    bad["heatmaps"][:, 4] = 10.0
    batch["kp_weight"][:, 4] = 0
    assert T.compute_loss(bad, batch)[1]["loss_kp"] == pytest.approx(0.0, abs=1e-5)


def test_poly_learning_rate_and_log(tmp_path):
    cfg = tiny_config(tmp_path, steps=4)
    out = T.train(cfg)
    assert out["done"] and out["step"] == 4
    recs = [json.loads(line) for line in open(tmp_path / "log.jsonl")]
    steps = [r for r in recs if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    for r in steps:
        assert r["lr"] == pytest.approx(0.01 * (1 - (r["step"] - 1) / 4) ** 0.9)
        assert np.isfinite(r["loss"]) and r["images_per_s"] > 0
    assert recs[0]["event"] == "start" and recs[-1]["event"] == "done"


# --------------------------------------------------------------------------------------------
# determinism, resume, DDP
# --------------------------------------------------------------------------------------------


def test_resnet_backbone_trains_and_reloads(tmp_path):
    T.train(tiny_config(tmp_path, steps=2, backbone="resnet18", crop_size=32))
    net = T.load_model(str(tmp_path / "checkpoint.pt"))
    assert net.config["backbone"] == "resnet18" and type(net.backbone).__name__ == "DilatedResNet"
    with pytest.raises(ValueError, match=r"resume: .* backbone='resnet18' \(now 'vgg16'\)"):
        T.train(tiny_config(tmp_path, steps=3, crop_size=32), resume=True)


def test_seeded_runs_are_identical(tmp_path):
    T.train(tiny_config(tmp_path / "a", steps=3, batch_norm=True))
    T.train(tiny_config(tmp_path / "b", steps=3, batch_norm=True))
    assert_same_weights(weights(tmp_path / "a" / "checkpoint.pt"), weights(tmp_path / "b" / "checkpoint.pt"))


def test_resume_equals_uninterrupted_run(tmp_path):
    kw = dict(steps=6, batch_norm=True, dropout=0.5)  # dropout: the RNG state must be restored
    T.train(tiny_config(tmp_path / "full", **kw))
    first = T.train(tiny_config(tmp_path / "cut", **kw), stop_after=4)
    assert first == {**first, "step": 4, "done": False}
    assert T.load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["step"] == 4
    second = T.train(tiny_config(tmp_path / "cut", **kw, workers=1), resume=True)  # workers may differ
    assert second["step"] == 6 and second["done"]
    full, cut = T.load_checkpoint(tmp_path / "full" / "checkpoint.pt"), T.load_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    assert_same_weights(full["model"], cut["model"])
    for a, b in zip(full["optimizer"]["state"].values(), cut["optimizer"]["state"].values()):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    events = [json.loads(line).get("event") for line in open(tmp_path / "cut" / "log.jsonl")]
    assert "resume" in events
    # resuming with other settings is refused
    with pytest.raises(ValueError, match=r"resume: the checkpoint .* was trained with other settings: lr=0.01 \(now 0.02\)"):
        T.train(tiny_config(tmp_path / "cut", **kw, lr=0.02), resume=True)


def test_ddp_gloo_two_processes_match_one_process(tmp_path):
    """torchrun, 2 CPU processes (gloo), batch 2 each == 1 process with batch 4."""
    common = ["--model", "cascaded", "--width", "0.0625", "--crop-size", "24", "--steps", "3",
              "--synthetic", "40", "--synthetic-size", "64", "64", "--synthetic-people", "2",
              "--dropout", "0", "--lr", "0.01", "--threads", "1", "--no-progress", "--log-every", "1"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=REPO)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "p2i_net.cli", "train", "--out", str(tmp_path / "ddp"), "--batch-size", "2", *common]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "done at step 3/3" in proc.stdout
    T.train(tiny_config(tmp_path / "one", steps=3, batch_size=4, dropout=0.0, crop_size=24))
    ddp = T.load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")
    assert ddp["world_size"] == 2 and len(ddp["rng"]) == 2
    one = weights(tmp_path / "one" / "checkpoint.pt")
    for k in one:  # same samples, same averaged gradients; only the summation order differs
        torch.testing.assert_close(ddp["model"][k], one[k], rtol=1e-4, atol=1e-5)
    start = json.loads(open(tmp_path / "ddp" / "log.jsonl").readline())
    assert start["world_size"] == 2


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    T.save_checkpoint({"format": T.CHECKPOINT_FORMAT, "step": 1}, str(path))
    good = path.read_bytes()

    def dying_save(obj, f):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        T.save_checkpoint({"format": T.CHECKPOINT_FORMAT, "step": 2}, str(path))
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["checkpoint.pt"]  # no temporary file left behind


def test_corrupt_and_truncated_checkpoints_give_clear_errors(tmp_path):
    T.train(tiny_config(tmp_path / "run", steps=1, model="seg_only"))
    good = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"checkpoint: cannot read .*trunc.pt \(\d+ bytes\): truncated or corrupt file"):
        T.load_checkpoint(trunc)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match=r"truncated or corrupt file"):
        T.load_model(str(junk))
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match=r"checkpoint: expected a 'p2i_net.checkpoint/1' file in .*other.pt, got None"):
        T.load_checkpoint(other)
    with pytest.raises(FileNotFoundError, match=r"checkpoint: file not found: .*missing.pt"):
        T.load_checkpoint(tmp_path / "missing.pt")
    # a truncated checkpoint under --resume stops the run instead of silently restarting
    (tmp_path / "run" / "checkpoint.pt").write_bytes(good[:100])
    with pytest.raises(ValueError, match=r"truncated or corrupt file"):
        T.train(tiny_config(tmp_path / "run", steps=2, model="seg_only"), resume=True)


def test_config_errors_name_the_field(tmp_path):
    with pytest.raises(ValueError, match=r"model: expected one of 'seg_only', 'multitask', 'cascaded', got 'x'"):
        T.train(tiny_config(tmp_path, model="x"))
    with pytest.raises(ValueError, match=r"synthetic, coco: expected a training source"):
        T.train(tiny_config(tmp_path, synthetic=0))
    with pytest.raises(ValueError, match=r"batch_size: expected an integer >= 1, got 0"):
        T.train(tiny_config(tmp_path, batch_size=0))


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def test_train_and_eval_net_cli_on_the_fixture(tmp_path, capsys):
    from p2i_prior.cli import main

    if not os.path.isdir(FIXTURE):
        pytest.skip("tests/data/coco fixture absent")
    for kind in ("seg_only", "cascaded"):
        rc = main(["train", "--model", kind, "--out", str(tmp_path / kind), "--width", "0.0625",
                   "--crop-size", "24", "--steps", "2", "--batch-size", "2", "--synthetic", "0",
                   "--coco", FIXTURE, "--coco-split", "all", "--threads", "1", "--no-progress"])
        assert rc == 0
    capsys.readouterr()
    rc = main(["eval-net", str(tmp_path / "seg_only" / "checkpoint.pt"),
               f"pose2seg={tmp_path / 'cascaded' / 'checkpoint.pt'}", "--coco", FIXTURE,
               "--threads", "1", "--out-json", str(tmp_path / "t.json"),
               "--out-md", str(tmp_path / "t.md"), "--results-dir", str(tmp_path / "res"),
               "--references"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "| Model | AP@0.5 | AP@0.6 | AP@0.7 | AP@0.8 | AP@0.9 | AP@[.5:.95] | PCK@0.2 | params |" in out
    assert "Segmentation only" in out and "Pose2Seg cascaded" in out and "[pose2seg]" in out
    table = json.load(open(tmp_path / "t.json"))
    assert table["n_instances"] == 12
    assert set(table["rows"]) == {"seg_only", "pose2seg", "oracle box", "crop ceiling"}
    for row in table["rows"].values():
        assert 0 <= row["ap"] <= row["ap50"] <= 1 and row["n_detections"] == 12
    assert table["rows"]["crop ceiling"]["ap50"] == pytest.approx(1.0)
    assert table["rows"]["oracle box"]["ap"] < table["rows"]["crop ceiling"]["ap"]
    assert table["rows"]["seg_only"]["pck@0.2"] is None
    segm = json.load(open(tmp_path / "res" / "pose2seg_segm.json"))
    kps = json.load(open(tmp_path / "res" / "pose2seg_keypoints.json"))
    assert len(segm) == len(kps) == 12 and len(kps[0]["keypoints"]) == 51
    # the model person score plugs into the geometric pipeline's score sources
    from p2i_prior.scores import make_score_source
    import pickle

    source = pickle.loads(pickle.dumps(make_score_source(f"model:{tmp_path / 'seg_only' / 'checkpoint.pt'}")))
    from p2i_prior.coco import load_persons

    rec = load_persons(os.path.join(FIXTURE, "annotations.json"))[0]
    score = source(rec, rec.load_image())
    assert score.shape == (rec.height, rec.width) and 0 <= score.min() <= score.max() <= 1
    # errors come back as CLI errors
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    rc = main(["eval-net", str(bad), "--coco", FIXTURE])
    assert rc == 2 and "truncated or corrupt file" in capsys.readouterr().err


def test_cli_help_does_not_import_torch():
    code = ("import sys; from p2i_prior.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr[-2000:]
