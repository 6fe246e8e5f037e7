"""Running ``p2i annotate``'s shards on a Dask distributed cluster (``--scheduler ADDRESS``).

Dask is optional (``pip install 'pose2instance[cluster]'``) and imported only here, only when a
scheduler is given.  The workers need ``pose2instance`` installed and must see the images at
the same path as the driver; each task is one shard and returns its result to the driver, which
writes it (the workers write nothing, so the shards need no shared file system).  Each task sets
its own numba threads (``config["numba_threads"]``, 1 by default): size the cluster with
``threads_per_worker`` x workers per host = cores.

The shard function is passed in (this module imports nothing from :mod:`p2i_prior.annotate`).
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

__all__ = ["run_on_cluster"]

#: How long to wait for the scheduler before giving up.
CONNECT_TIMEOUT = "20s"


def _client(address: str) -> tuple[Any, Any]:
    """A client of the scheduler at ``address`` and distributed's ``as_completed``."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise ValueError(
            f"--scheduler: Dask distributed is not installed ({exc}); install the cluster extra: "
            "pip install 'pose2instance[cluster]'"
        ) from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False), as_completed
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(f"--scheduler: cannot connect to a Dask scheduler at {address!r} ({exc})") from None


def run_on_cluster(address: str, shard_fn: Callable[[list, dict], dict], shards: dict[int, list],
                   config: dict, done: Callable[[int, dict], None]) -> None:
    """Run ``shard_fn(shards[k], config)`` for every ``k`` on the cluster at ``address``.

    Parameters
    ----------
    address : str
        The scheduler, e.g. ``tcp://10.0.0.1:8786`` or ``LocalCluster().scheduler_address``.
    shard_fn : callable
        A module-level function (workers import it by name).
    shards : dict
        Shard number -> the shard's image tasks.
    config : dict
        The second argument of every call.
    done : callable
        ``done(k, result)``, called in this process as each shard finishes (in completion order).

    Raises
    ------
    ValueError
        Dask is not installed, or no scheduler answers at ``address``.
    Exception
        The first error a shard raised (the remaining shards are cancelled).

    Examples
    --------
    >>> run_on_cluster(cluster.scheduler_address, annotate_shard, {0: tasks}, config, done)  # doctest: +SKIP
    """
    client, as_completed = _client(address)
    try:
        run = uuid.uuid4().hex[:12]
        futures = {client.submit(shard_fn, tasks, config, pure=False, key=f"p2i-annotate-{run}-shard-{k}"): k
                   for k, tasks in shards.items()}
        try:
            with client.as_current():  # as_completed looks for the current client
                for fut in as_completed(list(futures)):
                    done(futures[fut], fut.result())
        except BaseException:
            client.cancel(list(futures))
            raise
    finally:
        client.close()
