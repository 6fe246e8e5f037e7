"""How many CPU threads the library's kernels use: one home for the setting.

The CPU kernels are numba ``parallel=True`` functions; their thread count is numba's
(``numba.set_num_threads``), bounded by ``numba.config.NUMBA_NUM_THREADS`` (the size of numba's
pool, fixed when numba starts: the usable cores unless the environment variable
``NUMBA_NUM_THREADS`` says otherwise).  When torch has already been imported (the learned models, a torch
person-score source) its intra-op thread count follows too; torch is never imported here.

``p2i ... --threads N`` goes through :func:`set_threads` (with ``name="--threads"``), and so does
the benchmark suite.  (The module is ``cpu_threads``, not ``threads``: ``p2i_prior.threads`` is
the context manager.)  On a machine shared with other jobs one thread is often as fast as two
(``bench/results/2026-11-29-vm-threads-under-load.md``).
"""

from __future__ import annotations

import contextlib
import operator
import sys
from typing import Iterator

__all__ = ["set_threads", "get_threads", "max_threads", "threads"]


def max_threads() -> int:
    """The most threads :func:`set_threads` accepts: ``numba.config.NUMBA_NUM_THREADS``.

    Examples
    --------
    >>> max_threads() >= 1
    True
    """
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def get_threads() -> int:
    """The thread count the CPU kernels use now (``numba.get_num_threads()``).

    Examples
    --------
    >>> 1 <= get_threads() <= max_threads()
    True
    """
    import numba

    return int(numba.get_num_threads())


def _check(n: object, name: str) -> int:
    top = max_threads()
    try:
        if isinstance(n, (bool, float)):
            raise TypeError
        value = operator.index(n)  # Python and numpy integers
    except TypeError:
        raise TypeError(f"{name}: expected an integer 1..{top}, got {type(n).__name__} {n!r}") from None
    if not 1 <= value <= top:
        raise ValueError(f"{name}: expected 1..{top} (numba's NUMBA_NUM_THREADS on this machine), got {value}")
    return value


def set_threads(n: int, *, name: str = "threads") -> int:
    """Use ``n`` CPU threads in the library's kernels (and torch's, when torch is imported).

    Parameters
    ----------
    n : int in [1, max_threads()]
        Threads for numba's parallel kernels.  ``max_threads()`` is numba's pool size; set the
        environment variable ``NUMBA_NUM_THREADS`` before the first import of numba for more.
    name : str
        The name the error messages give the value (``"--threads"`` on the command line).

    Returns
    -------
    int
        The numba thread count before the call.

    Raises
    ------
    TypeError
        ``n`` is not an integer (a bool or a float is refused too).
    ValueError
        ``n`` is outside ``[1, max_threads()]``.

    Notes
    -----
    numba's setting is per calling thread: a thread the caller starts begins with numba's
    default (all of the pool) again.

    Examples
    --------
    >>> before = set_threads(1)
    >>> get_threads()
    1
    >>> _ = set_threads(before)
    """
    import numba

    value = _check(n, name)
    before = int(numba.get_num_threads())
    numba.set_num_threads(value)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(value)
    return before


@contextlib.contextmanager
def threads(n: int) -> Iterator[int]:
    """Run a block with ``n`` CPU threads; the previous counts come back on exit.

    Restores numba's count, and torch's when torch is imported, even when the block raises.
    Bad ``n`` raises as :func:`set_threads` does, before the block runs.

    Examples
    --------
    >>> import p2i_prior as P
    >>> with P.threads(1):
    ...     get_threads()
    1
    """
    torch = sys.modules.get("torch")
    torch_before = int(torch.get_num_threads()) if torch is not None else None
    before = set_threads(n)
    try:
        yield int(n)
    finally:
        import numba

        numba.set_num_threads(before)
        if torch_before is not None:
            torch.set_num_threads(torch_before)
