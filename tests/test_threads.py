"""p2i_prior.set_threads / threads(n): the one home of the CPU thread setting (numba, torch)."""

import sys
import threading

import numba
import numpy as np
import pytest

import p2i_prior as P
from p2i_prior import cpu_threads

TOP = int(numba.config.NUMBA_NUM_THREADS)


@pytest.fixture(autouse=True)
def _restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def test_set_threads_sets_numba_and_returns_the_previous_count():
    numba.set_num_threads(TOP)
    assert P.set_threads(1) == TOP
    assert numba.get_num_threads() == 1 == P.get_threads()
    assert P.set_threads(np.int64(TOP)) == 1  # numpy integers are integers
    assert numba.get_num_threads() == TOP
    assert cpu_threads.max_threads() == TOP


def test_threads_context_restores_even_when_the_block_raises():
    numba.set_num_threads(TOP)
    with P.threads(1) as n:
        assert n == 1 and numba.get_num_threads() == 1
    assert numba.get_num_threads() == TOP
    with pytest.raises(RuntimeError, match="inside"):
        with P.threads(1):
            raise RuntimeError("inside")
    assert numba.get_num_threads() == TOP


def test_kernels_run_with_the_setting():
    # a kernel of the library after set_threads(1) gives the same result as with all threads
    img = np.random.default_rng(3).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    with P.threads(1):
        one = P.slic(img, n_segments=30)
    every = P.slic(img, n_segments=30)
    np.testing.assert_array_equal(one, every)


@pytest.mark.parametrize("bad, err, message", [
    (0, ValueError, f"threads: expected 1..{TOP} (numba's NUMBA_NUM_THREADS on this machine), got 0"),
    (TOP + 1, ValueError, f"threads: expected 1..{TOP} (numba's NUMBA_NUM_THREADS on this machine), got {TOP + 1}"),
    (-2, ValueError, f"threads: expected 1..{TOP} (numba's NUMBA_NUM_THREADS on this machine), got -2"),
    (1.0, TypeError, f"threads: expected an integer 1..{TOP}, got float 1.0"),
    (True, TypeError, f"threads: expected an integer 1..{TOP}, got bool True"),
    ("2", TypeError, f"threads: expected an integer 1..{TOP}, got str '2'"),
    (None, TypeError, f"threads: expected an integer 1..{TOP}, got NoneType None"),
])
def test_bad_counts_are_refused_with_name_expected_and_actual(bad, err, message):
    numba.set_num_threads(TOP)
    with pytest.raises(err) as info:
        P.set_threads(bad)
    assert str(info.value) == message
    with pytest.raises(err):
        with P.threads(bad):
            pytest.fail("the block must not run")
    assert numba.get_num_threads() == TOP  # nothing changed


def test_the_cli_uses_the_same_function():
    from p2i_prior.cli import set_threads as cli_set_threads

    numba.set_num_threads(TOP)
    cli_set_threads(None)  # no --threads: numba's default stays
    assert numba.get_num_threads() == TOP
    cli_set_threads(1)
    assert numba.get_num_threads() == 1
    with pytest.raises(ValueError, match=rf"^--threads: expected 1\.\.{TOP} \(numba's NUMBA_NUM_THREADS"):
        cli_set_threads(TOP + 1)
    with pytest.raises(TypeError, match=r"^--threads: expected an integer"):
        cli_set_threads(1.5)


def test_torch_follows_when_imported():
    torch = pytest.importorskip("torch")
    assert "torch" in sys.modules
    before = torch.get_num_threads()
    try:
        with P.threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == before
        P.set_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_torch_is_never_imported_by_the_setting():
    import subprocess

    code = ("import sys, p2i_prior as P\n"
            "P.set_threads(1)\n"
            "with P.threads(1): pass\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_setting_is_per_calling_thread():
    # documented: numba's count is per thread; a new thread starts from the default
    numba.set_num_threads(1)
    seen = []
    t = threading.Thread(target=lambda: seen.append(numba.get_num_threads()))
    t.start()
    t.join()
    assert seen == [TOP]
    assert numba.get_num_threads() == 1
