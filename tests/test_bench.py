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
    assert main(["--quick", "--cases", "sobel", "--tag", "a/b"]) == 2
    assert set(CASES) >= {"slic", "end_to_end", "scaling", "gpu"}


def test_p2i_bench_command(tmp_path, capsys):
    from p2i_prior.cli import main as p2i_main

    rc = p2i_main(["bench", "--quick", "--cases", "sobel", "--threads", "1", "--no-progress",
                   "--no-plots", "--out", str(tmp_path), "--tag", "t1-x"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "wrote" in out
    (json_path,) = tmp_path.glob("*.json")
    assert json_path.name.endswith("-t1-x.json")
    doc = json.loads(json_path.read_text())
    assert {c["case"] for c in doc["comparisons"]} == {"sobel"}  # skimage (and OpenCV when installed)
    assert "threads: numba 1 " in out


def test_missing_opencv_is_a_skip_note(monkeypatch):
    import p2i_bench.cases as cases

    monkeypatch.setattr(cases, "opencv_slic_available", lambda: False)
    x = synthetic_input(64, 48, n_people=2)
    out = cases.case_slic(x, Config.quick_config(repeat=1))
    assert [c["reference"] for c in out["comparisons"]][0] == "skimage.slic"
    assert "opencv.ximgproc.slic" not in {c["reference"] for c in out["comparisons"]}
    (skip,) = [s for s in out["skipped"] if s["impl"] == "opencv.ximgproc.slic"]
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


# ---------------------------------------------------------------------------------------------
# peers (optional installs), CPU-time ratios, the one-thread default


PEER_CASES = [  # (case function, its impl name, the peer it needs)
    ("case_slic", "fast_slic.SlicAvx2", "fast_slic"),
    ("case_sobel", "opencv.Sobel", "cv2"),
    ("case_edt", "edt.edt", "edt"),
    ("case_sweep", "FastGeodis.generalised_geodesic2d", "FastGeodis"),
]


@pytest.mark.parametrize("case, impl, peer", PEER_CASES)
def test_a_missing_peer_is_a_skip_note_with_its_install_line(monkeypatch, case, impl, peer):
    import p2i_bench.cases as cases
    import p2i_bench.peers as peers

    real = peers.missing
    monkeypatch.setattr(peers, "missing",
                        lambda name: f"{name} is not installed (fake); install: {peers.INSTALL[name]}"
                        if name == peer else real(name))
    x = synthetic_input(64, 48, n_people=2)
    out = getattr(cases, case)(x, Config.quick_config(repeat=1, min_time=0.0, n_segments=30))
    assert impl not in {r["impl"] for r in out["results"]}
    assert impl not in {c["reference"] for c in out["comparisons"]}
    (skip,) = [s for s in out["skipped"] if s["impl"] == impl]
    assert "not installed" in skip["reason"] and peers.INSTALL[peer] in skip["reason"]
    from p2i_bench.cli import summary_lines

    doc = {"meta": {}, "skipped": out["skipped"], "notes": out.get("notes", []), "targets": []}
    assert any(line.startswith(f"skipped {skip['case']} {impl}: ") for line in summary_lines(doc))


def test_peer_names_are_checked():
    from p2i_bench.peers import missing

    with pytest.raises(ValueError, match="peer: expected one of fast_slic, .*, got 'nope'"):
        missing("nope")


@pytest.mark.parametrize("case, impl, peer", PEER_CASES)
def test_an_installed_peer_is_compared_and_agrees(case, impl, peer):
    import p2i_bench.cases as cases
    import p2i_bench.peers as peers

    if peers.missing(peer):
        pytest.skip(peers.missing(peer))
    x = synthetic_input(96, 72, n_people=2)
    out = getattr(cases, case)(x, Config.quick_config(repeat=1, min_time=0.0, n_segments=40))
    (c,) = [c for c in out["comparisons"] if c["reference"] == impl]
    assert math.isfinite(c["speedup"]) and c["speedup"] > 0 and c["cpu_speedup"] > 0
    p = c["params"]
    if peer == "fast_slic":  # its own superpixels: a sound count, a recall in [0, 1]
        assert 10 <= p["K"][impl] <= 200 and 0 <= p["boundary_recall_person_outline_2px"][impl] <= 1
    elif peer == "cv2":  # the same magnitude as ours (float32)
        assert p["max_abs_diff_opencv"] < 1e-5
    elif peer == "edt":  # exact, as SciPy's
        assert p["max_abs_diff_vs_scipy_px"][impl] < 1e-3
    else:  # FastGeodis: a different problem, flagged in the comparison and the notes
        assert c["caveat"] == peers.FASTGEODIS_CAVEAT
        assert out["notes"][0]["note"] == peers.FASTGEODIS_CAVEAT


def test_peer_functions_against_independent_references():
    """The OpenCV Sobel and the edt package, when installed, on a fresh seeded image."""
    from scipy.ndimage import distance_transform_edt
    from skimage.color import rgb2gray
    from skimage.filters import sobel

    import p2i_bench.peers as peers

    rng = np.random.default_rng(11)
    img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    if peers.missing("cv2") is None:
        np.testing.assert_allclose(peers.opencv_sobel(img), sobel(rgb2gray(img)), atol=1e-5)
    seeds = rng.random((2, 37, 53)) < 0.01
    seeds[:, 5, 7] = True
    if peers.missing("edt") is None:
        for got, s in zip(peers.edt_distance(seeds), seeds):
            np.testing.assert_allclose(got, distance_transform_edt(~s), atol=1e-3)


def test_end_to_end_states_both_pipelines_and_compares_geodesic_with_rag():
    import p2i_bench.cases as cases
    from p2i_bench.references import PIPELINE_STAGES

    x = synthetic_input(96, 72, n_people=2)
    out = cases.case_end_to_end(x, Config.quick_config(repeat=1, min_time=0.0, n_segments=40))
    pairs = {(c["ours"], c["reference"]) for c in out["comparisons"]}
    assert ("p2i.segment_people[geodesic]", "p2i.segment_people[rag]") in pairs
    assert ("p2i.segment_people[geodesic]", "skimage+scipy pipeline") in pairs
    stages = out["comparisons"][0]["params"]["stages"]
    assert stages is PIPELINE_STAGES
    assert [s for s, _ in stages["reference"]] == [s for s, _ in
                                                   cases.reference_stages(x.image, x.keypoints, x.score, 40)]
    assert [s for s, _ in stages["ours"]] == [s for s, _ in cases.ours_stages(x.image, x.keypoints, x.score, 40)]


def test_cpu_time_leaves_out_the_wait():
    """A call that waits (sleep, as a descheduled one does) has a wall time, not a CPU time."""
    import time

    ms = measure_group({"wait": lambda: time.sleep(0.02), "work": lambda: sum(range(20000))},
                       repeat=3, warmup=0)
    w = ms["wait"]
    assert len(w.cpu_s) == len(w.times_s) == 3
    assert w.median_s >= 0.02 and w.cpu_median_s < 0.01
    s = w.summary()
    assert s["cpu_times_s"] == w.cpu_s and s["cpu_q1_s"] <= s["cpu_median_s"] <= s["cpu_q3_s"]
    r = ratio(Measurement([4.0], cpu_s=[2.0]), Measurement([1.0], cpu_s=[1.0]))
    assert (r["speedup"], r["cpu_speedup"]) == (4.0, 2.0)
    assert ratio(Measurement([4.0]), Measurement([1.0]))["cpu_speedup"] is None


def test_targets_basis():
    c = [{"case": "slic", "ours": "p2i.slic", "reference": "skimage.slic", "size": "640x480",
          "input": "coco:1", "speedup": 12.0, "speedup_lo": 11.0, "speedup_hi": 13.0, "cpu_speedup": 6.0}]
    wall = [t for t in evaluate_targets(c, "640x480") if t["input"]][0]
    cpu = [t for t in evaluate_targets(c, "640x480", basis="cpu") if t["input"]][0]
    assert (wall["met"], wall["basis"], cpu["met"], cpu["basis"]) == (True, "wall", False, "cpu")
    c[0]["cpu_speedup"] = None  # no CPU times (a GPU report): the wall clock decides
    assert [t["basis"] for t in evaluate_targets(c, "640x480", basis="cpu") if t["input"]] == ["wall"]
    with pytest.raises(ValueError, match="basis: expected 'wall' or 'cpu', got 'gpu'"):
        evaluate_targets(c, "640x480", basis="gpu")


def test_quick_run_is_one_thread_with_cpu_basis_and_enough_repeats(quick_run):
    doc, paths = quick_run
    assert doc["meta"]["threads"]["numba_threads"] == 1
    assert doc["meta"]["load_average_at_end"] is not None
    assert {t["basis"] for t in doc["targets"] if t["input"]} == {"cpu"}
    for r in doc["results"]:
        if r["case"] != "gpu" and r["n_repeat"] > 1:
            assert r["n_repeat"] >= 5, r["impl"]
    from p2i_bench.cli import summary_lines

    lines = summary_lines(doc)
    assert lines[0].startswith("threads: numba 1 ")
    assert all(" wall, " in line and " CPU time " in line for line in lines if line.startswith("target "))
    assert "speed-up, CPU time" in open(paths["markdown"]).read()


def test_threads_option():
    import argparse

    from p2i_bench.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args([])).threads == 1  # the default: one thread
    assert config_from_args(parser.parse_args(["--quick"])).threads == 1
    assert config_from_args(parser.parse_args(["--threads", "all"])).threads is None
    assert config_from_args(parser.parse_args(["--quick", "--threads", "2"])).threads == 2
    for bad in ("0", "two"):
        with pytest.raises(ValueError, match=rf"threads: expected an integer >= 1 or 'all', got '{bad}'"):
            config_from_args(parser.parse_args(["--threads", bad]))
    import numba

    top = int(numba.config.NUMBA_NUM_THREADS)
    with pytest.raises(ValueError, match=rf"threads: expected 1\.\.{top} "):
        run_suite(Config.quick_config(threads=top + 1, cases=["sobel"]), progress=False)
