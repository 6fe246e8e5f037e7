#!/usr/bin/env bash
# The one command a session with a lent GPU runs first (README, "GPU"); about 5-7 minutes.
#   scripts/gpu_check.sh            # writes everything under $OUT (the device tool's folder)
# 1. installs the project into the machine's python with --no-deps (the device image has numpy,
#    numba, numba-cuda, CuPy, torch, scikit-image; wheels for what it lacks, e.g. a cp312
#    pycocotools, are taken from the ignored folder .whl/ when present);
# 2. runs scripts/gpu_check.py (correctness, streams, throughput, stages, memcheck);
# 3. runs the CUDA test files on the device;
# and prints gpu_check's table last.  Exit status: gpu_check.py's.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-p2i_out/gpu_check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
{ date -u; nvidia-smi; "$PY" --version; "$PY" -m pip list 2>/dev/null | grep -i -E "numba|cupy|torch|numpy|scipy|scikit"; } > "$OUT/env.txt" 2>&1
if compgen -G ".whl/*.whl" > /dev/null; then
    "$PY" -m pip install --no-deps --no-index .whl/*.whl > "$OUT/install.log" 2>&1
fi
"$PY" -m pip install --no-deps --no-build-isolation -e . >> "$OUT/install.log" 2>&1 \
    || echo "gpu_check.sh: pip install -e . failed (see install.log); running from the tree" | tee -a "$OUT/install.log"
timeout 330 "$PY" scripts/gpu_check.py --out "$OUT" > "$OUT/gpu_check.log" 2>&1
rc=$?
timeout 120 "$PY" -m pytest -q -p no:cacheprovider -x tests/test_cuda_sobel.py tests/test_cuda_fusion.py \
    tests/test_cuda_rag.py tests/test_cuda_shortest_paths.py tests/test_cuda_sweep.py tests/test_cuda_slic.py \
    tests/test_cuda_edt.py tests/test_cuda_gpu.py tests/test_gpu_safety.py > "$OUT/pytest_cuda.log" 2>&1
echo "CUDA tests on the device: exit $? (tail of $OUT/pytest_cuda.log):"
tail -n 5 "$OUT/pytest_cuda.log"
tail -n 25 "$OUT/gpu_check.log"
exit $rc
