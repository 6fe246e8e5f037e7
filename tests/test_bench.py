"""Smoke test of the benchmark suite: the tiny configuration runs and writes a sound document.

No timing is asserted: only that every case ran, the JSON has its schema, and every ratio is a
finite positive number.
"""

import json
import math
import os

import numpy as np
import pytest

from p2i_bench.cases import CASES, build_tasks
from p2i_bench.cli import config_from_args, main, parse_sizes
from p2i_bench.config import Config
from p2i_bench.core import Measurement, measure_group, ratio
from p2i_bench.inputs import synthetic_input
from p2i_bench.references import reference_pipeline
from p2i_bench.report import evaluate_targets, finite_ratios, fit_exponents
from p2i_bench.suite import SCHEMA, run_suite, write_results

RESULT_KEYS = {"case", "size", "input", "impl", "role", "params", "median_s", "q1_s", "q3_s", "iqr_s",
               "min_s", "n_repeat", "n_warmup", "times_s", "warmup_s"}
COMPARISON_KEYS = {"case", "size", "input", "ours", "reference", "params", "ours_median_s",
                   "reference_median_s", "speedup", "speedup_lo", "speedup_hi"}
META_KEYS = {"date", "host", "cpu", "cores_logical", "cores_usable", "gpu", "python", "versions",
             "git_commit", "threads"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    config = Config.quick_config(threads=1)
    doc = run_suite(config, progress=False, command="pytest quick")
    paths = write_results(doc, str(out))
    return doc, paths


def test_quick_suite_document(quick_run):
    doc, paths = quick_run
    assert doc["errors"] == []
    with open(paths["json"]) as f:
        loaded = json.load(f)
    assert loaded["schema"] == SCHEMA
    assert META_KEYS <= set(loaded["meta"])
    assert loaded["meta"]["cores_usable"] >= 1
    assert {"numpy", "scipy", "scikit-image", "numba"} <= set(loaded["meta"]["versions"])
    assert loaded["config"]["quick"] is True
    for r in loaded["results"]:
        assert RESULT_KEYS <= set(r), r["impl"]
        assert r["role"] in ("ours", "reference")
        assert len(r["times_s"]) == r["n_repeat"] >= 1
        assert 0 <= r["q1_s"] <= r["median_s"] <= r["q3_s"]
    for c in loaded["comparisons"]:
        assert COMPARISON_KEYS <= set(c)
    assert finite_ratios(loaded)
    # every case produced a comparison (gpu: a comparison with a GPU, a skip note without one)
    compared = {c["case"] for c in loaded["comparisons"]}
    assert {"slic", "sobel", "rag", "rag_distance", "rag_distance_k", "sweep", "sweep_speed", "edt",
            "end_to_end", "threads"} - compared <= {"threads"}  # threads needs >= 2 cores
    assert any(s["case"] == "gpu" for s in loaded["skipped"]) or "gpu" in compared
    # the targets are reported, each with a finite speed-up (edt's needs OpenCV)
    assert [t["case"] for t in loaded["targets"]][-4:] == ["slic", "rag_distance", "edt", "sweep_speed"]
    assert all(t["case"] == "end_to_end" for t in loaded["targets"][:-4])
    assert all(math.isfinite(t["speedup"]) for t in loaded["targets"] if t["input"] is not None)
    assert math.isfinite(loaded["targets"][0]["speedup"])
    # scaling: three axes, each with a fitted exponent
    assert set(loaded["scaling_fit"]) == {"pixels", "superpixels", "people"}
    assert all(math.isfinite(f["exponent"]) for f in loaded["scaling_fit"].values())
    # the end-to-end stage profile covers both pipelines
    prof = loaded["profiles"][0]
    assert {"slic", "sobel", "rag", "distance", "fusion"} <= set(prof["ours"]) & set(prof["reference"])


def test_quick_suite_files(quick_run):
    doc, paths = quick_run
    assert os.path.basename(paths["json"]).endswith(f"-{doc['meta']['host']}.json")
    text = open(paths["markdown"]).read()
    assert "## Targets" in text and "## Comparisons" in text and "pytest quick" in text
    assert len(paths["plots"]) == 3
    for p in paths["plots"]:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_references_agree_with_ours_in_the_run(quick_run):
    doc, _ = quick_run
    sobel = [c for c in doc["comparisons"] if c["case"] == "sobel"][0]
    assert sobel["params"]["max_abs_diff"] < 1e-5
    for c in doc["comparisons"]:
        if c["case"].startswith("rag_distance"):
            assert c["params"]["max_abs_diff_sssp_vs_dijkstra"] < 1e-4
            assert c["params"]["same_inf"]


def test_reference_pipeline_segments_people():
    x = synthetic_input(96, 72, n_people=2)
    labels = reference_pipeline(x.image, x.keypoints, x.score, n_segments=40)
    assert labels.shape == (72, 96) and labels.dtype == np.int32
    assert set(np.unique(labels)) <= {0, 1, 2}
    assert (labels[x.score < 0.5] == 0).all()


def test_measure_group_interleaves_and_caps():
    calls = []
    ms = measure_group({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeat=3, warmup=1)
    assert calls == ["a", "b", "a", "b", "a", "b", "a", "b"]
    assert [len(m.times_s) for m in ms.values()] == [3, 3]
    slow = measure_group({"s": lambda: sum(range(200000))}, repeat=50, warmup=1, max_time=1e-9)
    assert len(slow["s"].times_s) == 1
    with pytest.raises(ValueError, match="repeat: expected an integer >= 1, got 0"):
        measure_group({"a": lambda: None}, repeat=0)


def test_ratio_and_fits():
    r = ratio(Measurement([4.0, 4.0, 6.0]), Measurement([1.0, 2.0, 2.0]))
    assert r["speedup"] == 2.0 and r["speedup_lo"] <= r["speedup"] <= r["speedup_hi"]
    pts = [{"axis": "people", "x": x, "median_s": 0.01 * x ** 0.5} for x in (1, 4, 16)]
    assert fit_exponents(pts)["people"]["exponent"] == pytest.approx(0.5)
    t = evaluate_targets([], "640x480")
    assert {e["met"] for e in t} == {None}


def test_bad_arguments():
    with pytest.raises(ValueError, match="sizes: expected WIDTHxHEIGHT"):
        parse_sizes("640by480")
    with pytest.raises(ValueError, match=r"sizes: expected widths and heights in \[16, 4096\], got 8x480"):
        parse_sizes("8x480")
    with pytest.raises(ValueError, match="cases: expected names from"):
        build_tasks(Config.quick_config(cases=["nope"]))
    import argparse

    from p2i_bench.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(ValueError, match="repeat: expected an integer >= 1, got 0"):
        config_from_args(parser.parse_args(["--repeat", "0"]))
    cfg = config_from_args(parser.parse_args(["--quick", "--sizes", "64x48", "--cases", "sobel"]))
    assert cfg.quick and cfg.sizes == [(64, 48)] and cfg.cases == ["sobel"]
    assert main(["--quick", "--sizes", "zzz"]) == 2
    assert set(CASES) >= {"slic", "end_to_end", "scaling", "gpu"}


def test_p2i_bench_command(tmp_path, capsys):
    from p2i_prior.cli import main as p2i_main

    rc = p2i_main(["bench", "--quick", "--cases", "sobel", "--threads", "1", "--no-progress",
                   "--no-plots", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "wrote" in out
    (json_path,) = tmp_path.glob("*.json")
    doc = json.loads(json_path.read_text())
    assert [c["case"] for c in doc["comparisons"]] == ["sobel"]


def test_missing_opencv_is_a_skip_note(monkeypatch):
    import p2i_bench.cases as cases

    monkeypatch.setattr(cases, "opencv_slic_available", lambda: False)
    x = synthetic_input(64, 48, n_people=2)
    out = cases.case_slic(x, Config.quick_config(repeat=1))
    assert [c["reference"] for c in out["comparisons"]] == ["skimage.slic"]
    (skip,) = out["skipped"]
    assert skip["impl"] == "opencv.ximgproc.slic" and "not installed" in skip["reason"]


def test_floyd_warshall_cap_is_a_skip_note():
    import p2i_bench.cases as cases

    x = synthetic_input(96, 72, n_people=2)
    out = cases.case_rag_distance(x, Config.quick_config(repeat=1, n_segments=40, max_k_floyd_warshall=8))
    assert {c["reference"] for c in out["comparisons"]} == {"scipy.dijkstra"}
    assert {s["impl"] for s in out["skipped"]} == {"scipy.floyd_warshall", "p2i.rag_distance[apsp]"}
    assert all("K <= 8" in s["reason"] for s in out["skipped"])


def test_gpu_case_converts_gpu_bench_report(monkeypatch):
    """With a GPU, p2i_bench.gpu_bench's report becomes records and GPU-vs-CPU comparisons."""
    import types

    import p2i_bench
    import p2i_bench.cases as cases
    import p2i_bench.core as core

    stat = {"q1_s": 0.0, "iqr_s": 0.0, "min_s": 0.0, "n_repeat": 1, "n_warmup": 2, "times_s": [], "warmup_s": []}
    seen = {}

    def run(args):
        seen["args"] = args
        return {"device": {"name": "FakeGPU"}, "args": {"width": 640, "height": 480},
                "cases": {"sobel": {"B": 8, "gpu_batch": dict(stat, median_s=0.01, q1_s=0.01, q3_s=0.01),
                                    "cpu_per_image": dict(stat, median_s=0.2, q1_s=0.2, q3_s=0.2),
                                    "vs_cpu": {"speedup": 20.0}}}}

    fake = types.SimpleNamespace(run=run, parse_args=lambda argv: list(argv))
    monkeypatch.setattr(core, "gpu_present", lambda: True)
    monkeypatch.setattr(p2i_bench, "gpu_bench", fake, raising=False)
    monkeypatch.setitem(__import__("sys").modules, "p2i_bench.gpu_bench", fake)
    out = cases.gpu_cases(Config.quick_config())
    assert seen["args"] == ["--quick"]
    (c,) = out["comparisons"]
    assert (c["case"], c["ours"], c["reference"]) == ("gpu_sobel", "gpu_batch", "cpu_per_image")
    assert c["speedup"] == pytest.approx(20.0) and c["params"]["device"] == "FakeGPU"
    assert {r["role"] for r in out["results"]} == {"ours", "reference"}
    assert out["gpu_report"][0]["report"]["device"]["name"] == "FakeGPU"


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(REPO, "bench")


def test_cases_keeps_the_names_it_had_before_the_split():
    import p2i_bench.cases as cases
    import p2i_bench.config as config
    import p2i_bench.inputs as inputs
    import p2i_bench.references as references

    for module in (config, inputs, references):
        for name in module.__all__:
            assert getattr(cases, name) is getattr(module, name), name
    for name in cases.__all__:
        assert getattr(cases, name) is not None, name


def test_bench_imports_itself_only_relatively():
    """So it runs both as the installed ``p2i_bench`` and as ``bench`` from the repository root."""
    import ast

    for fname in sorted(os.listdir(BENCH_DIR)):
        if not fname.endswith(".py"):
            continue
        with open(os.path.join(BENCH_DIR, fname)) as f:
            tree = ast.parse(f.read(), fname)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in ("bench", "p2i_bench"), f"{fname}:{node.lineno} imports {name}"


def test_python_m_p2i_bench_runs_anywhere(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "p2i_bench", "--quick", "--cases", "sobel", "--threads", "1",
                        "--no-progress", "--no-plots", "--out", str(out)],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (json_path,) = out.glob("*.json")
    assert json.loads(json_path.read_text())["command"].startswith("python -m p2i_bench --quick")
    r = subprocess.run([sys.executable, "-m", "bench", "--sizes", "zzz"], cwd=REPO, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 2 and "python -m bench: error: sizes: expected WIDTHxHEIGHT" in r.stderr
