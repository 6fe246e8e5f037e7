"""scripts/gpu_check.py --tiny runs green under the simulator (on a GPU, on the GPU) and reports
every section; scripts/gpu_check.sh is a valid shell script."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cuda_sim import needs_cuda

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


@needs_cuda
def test_gpu_check_tiny_passes_and_reports_every_section(tmp_path):
    # the simulator runs one Python thread per CUDA thread, so its cost is pixels x launches:
    # --tiny alone (80x60, B=2, batches 2 and 4) takes about 15 minutes there; one 16x16 image
    # per call keeps every section and code path within the suite's time budget
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "gpu_check.py"), "--tiny", "--size", "16x16",
           "--batch", "1", "--batches", "1", "--segments", "4", "--seed", "5", "--out", str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    names = [c["check"] for c in report["correctness"]]
    for want in ("rag: GPU map vs CPU", "sweep: GPU labels vs CPU", "geodesic: GPU map vs CPU",
                 "slic: GPU labels vs CPU", "rag: two runs bit-identical",
                 "geodesic: garbage-filled allocations, same bits"):
        assert want in names
    assert all(c["ok"] for c in report["correctness"])
    assert {(t["B"], t["method"], t["score"]) for t in report["throughput"]} == {
        (1, m, s) for m in ("rag", "sweep") for s in (True, False)}
    assert set(report["stages"]["ms"]) == {"sobel", "slic", "rag", "distances (sssp)", "fusion", "pipeline"}
    assert report["stages"]["launches"] > 0
    tail = r.stdout.splitlines()[-9:]  # the table is printed last
    assert any(line.startswith("| gpu_check |") for line in tail)
    n = len(report["correctness"])
    assert any(line.startswith(f"| correctness | {n}/{n} passed") for line in tail), tail


def test_gpu_check_rejects_bad_sizes():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gpu_check.py"), "--size", "8x8"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2 and "--size: expected W and H >= 16" in r.stderr


def test_gpu_check_sh_is_valid_bash():
    assert subprocess.run(["bash", "-n", os.path.join(ROOT, "scripts", "gpu_check.sh")]).returncode == 0
    with open(os.path.join(ROOT, "scripts", "gpu_check.sh")) as f:
        text = f.read()
    assert "--no-deps" in text and "$OUT" in text and "scripts/gpu_check.py" in text
