"""The p2i command line, run as a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from p2i_prior.cli import main

FIXTURE = os.path.join(os.path.dirname(__file__), "data", "coco")


def run_p2i(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "p2i_prior", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def commands(parser) -> list[str]:
    """The subcommand names of a parser, in the order ``--help`` lists them."""
    (action,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return list(action.choices)


def test_help_lists_commands():
    r = run_p2i("--help")
    assert r.returncode == 0
    for cmd in ("demo", "segment", "eval", "train", "eval-net", "bench"):
        assert f"\n    {cmd} " in r.stdout, cmd


def test_commands_are_registered_through_entry_points():
    from p2i_prior import plugins
    from p2i_prior.cli import build_parser

    eps = {ep.name: ep.value for ep in plugins.entry_points(plugins.COMMANDS)}
    assert eps == {"commands": "p2i_prior.commands:register", "evaluate": "p2i_prior.evaluate:register",
                   "annotate": "p2i_prior.annotate:register",
                   "net": "p2i_net.cli:register", "bench": "p2i_bench.cli:register"}
    names = commands(build_parser())
    assert names[:2] == ["demo", "segment"] and sorted(names[2:4]) == ["annotate", "eval"]  # p2i's own first
    assert sorted(names[4:]) == ["bench", "eval-net", "train"]


HELLO = """
def register(sub):
    p = sub.add_parser("hello", help="say hello")
    p.add_argument("--name", default="world")
    p.set_defaults(func=lambda args: print(f"hello {args.name}"))
"""


def test_a_package_adds_a_command(tmp_path, monkeypatch, capsys):
    from fake_plugins import make_distribution

    make_distribution(tmp_path, "p2i-hello", {"p2i.commands": {"hello": "p2i_hello_cmd:register",
                                                               "hello2": "p2i_hello_mod"}},
                      {"p2i_hello_cmd.py": HELLO, "p2i_hello_mod.py": HELLO.replace('"hello"', '"hello2"')})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["hello", "--name", "p2i"]) == 0  # a callable register
    assert capsys.readouterr().out == "hello p2i\n"
    assert main(["hello2"]) == 0  # a module with register()
    assert capsys.readouterr().out == "hello world\n"


def test_missing_optional_parts_are_skipped_and_broken_plugins_raise(tmp_path, monkeypatch):
    from fake_plugins import make_distribution

    from p2i_prior.cli import build_parser

    make_distribution(
        tmp_path / "optional", "p2i-optional",
        {"p2i.commands": {"ghost": "p2i_ghost_pkg.cli:register",  # its own package is not installed
                          "fancy": "p2i_fancy_cmd:register"}},  # its extra's dependency is not installed
        {"p2i_fancy_cmd.py": "import p2i_fancy_dep_absent\n" + HELLO},
        requires=["numpy", 'p2i-fancy-dep-absent>=1; extra == "fancy"'])
    monkeypatch.syspath_prepend(str(tmp_path / "optional"))
    names = commands(build_parser())
    assert "demo" in names and "hello" not in names
    # a module imported that is no optional requirement: the plugin is broken, and says so
    make_distribution(tmp_path / "broken", "p2i-broken", {"p2i.commands": {"broken": "p2i_broken_cmd:register"}},
                      {"p2i_broken_cmd.py": "import p2i_typo_absent\n"}, requires=["numpy"])
    monkeypatch.syspath_prepend(str(tmp_path / "broken"))
    with pytest.raises(ModuleNotFoundError, match="p2i_typo_absent"):
        build_parser()


def test_missing_core_dependency_of_a_plugin_raises(tmp_path, monkeypatch):
    from fake_plugins import make_distribution

    from p2i_prior.cli import build_parser

    make_distribution(tmp_path, "p2i-core", {"p2i.commands": {"core": "p2i_core_cmd:register"}},
                      {"p2i_core_cmd.py": "import p2i_core_dep_absent\n"}, requires=["p2i-core-dep-absent>=1"])
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="p2i_core_dep_absent"):
        build_parser()


def test_skip_rule_on_this_distribution():
    """torch is an optional dependency (the ``net`` extra): a net plugin that needs it is skipped
    without it; a missing core dependency or a typo is not."""
    from p2i_prior import plugins

    (net,) = [ep for ep in plugins.entry_points(plugins.COMMANDS) if ep.name == "net"]
    for missing, skipped in (("torch", True), ("torch.nn", True), ("p2i_net", True), ("p2i_net.cli", True),
                             ("numpy", False), ("p2i_net.nope", False), ("p2i", False), (None, False)):
        exc = ModuleNotFoundError(f"No module named {missing!r}", name=missing)
        assert plugins.optional_part_missing(net, exc) is skipped, missing


def test_help_without_torch_lists_the_net_commands():
    """As before the registry: the net commands register without torch (they import it when run)."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from p2i_prior.cli import main\n"
            "sys.exit(main(['--help']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "\n    train " in r.stdout and "\n    eval-net " in r.stdout


def test_python_m_p2i_net_cli_still_runs():
    r = subprocess.run([sys.executable, "-m", "p2i_net.cli", "--help"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "train" in r.stdout and "eval-net" in r.stdout and "demo" not in r.stdout


def test_demo_runs_and_writes_the_figure(tmp_path):
    r = run_p2i("demo", "--size", "160x120", "--people", "3", "--segments", "200", "--threads", "1",
                "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "per-instance IoU" in r.stdout and "| mean |" in r.stdout
    assert "rag distance (sssp)" in r.stdout
    assert "160x120 (WxH)" in r.stdout
    # compile time apart from the stage times; the figure draws the best method of the table
    assert "compile time (first calls" in r.stdout and "stage times (ms, compiled" in r.stdout
    assert "best keypoint method: " in r.stdout
    mean_row = [line for line in r.stdout.splitlines() if line.startswith("| mean |")][0]
    values = [float(v) for v in mean_row.strip("| ").split("|")[1:]]
    assert len(values) == 4 and all(0.0 <= v <= 1.0 for v in values)
    with Image.open(tmp_path / "demo.png") as im:
        assert im.size[0] > 800 and im.size[1] > 300


def test_demo_bad_size(capsys):
    assert main(["demo", "--size", "big"]) == 2
    assert "--size: expected WxH such as 640x480, got 'big'" in capsys.readouterr().err
    assert main(["demo", "--threads", "99"]) == 2
    assert "--threads: expected 1.." in capsys.readouterr().err


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
    assert len(inst) <= n and all(e["image_id"] == img_id and e["category_id"] == 1 for e in inst)
    assert all(e["area"] > 0 for e in inst)  # empty masks are never written
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
    assert r"expected shape (429, 640), got (3, 3)" in capsys.readouterr().err
