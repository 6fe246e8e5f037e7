"""Extension points: how other packages add commands and person-score sources to ``p2i``.

``p2i_prior`` names no other package.  A package joins through entry points in its metadata
(``pyproject.toml``); two groups are read:

``p2i.commands``
    Each entry point is a callable ``register(subparsers)``, or a module with such a function,
    that adds its subcommands with ``subparsers.add_parser(...)`` and ``set_defaults(func=...)``.
    ``register`` must stay cheap (argparse only): heavy imports happen in the command function.
    ``p2i``'s own commands (``demo``, ``segment``, ``eval``) join the same way.
``p2i.score_sources``
    The entry point's name is the spec name (``p2i eval --score NAME[:ARGUMENT]``); its object is
    a factory ``factory(argument: str | None, **options) -> source``, as for
    :func:`p2i_prior.scores.register_score_source`.  It is loaded when its name is first asked for.

For example::

    [project.entry-points."p2i.commands"]
    mytool = "mypackage.cli:register"

    [project.entry-points."p2i.score_sources"]
    mynet = "mypackage.scores:mynet_source"

(``pip install -e .`` writes the metadata; an entry point edited in ``pyproject.toml`` is seen
after that.)

A plugin whose code is absent (its own module or package is not installed), or that needs an
optional dependency of its distribution that is not installed (a requirement under an extra,
such as ``torch`` of ``pose2instance[net]``), is skipped: :func:`load` returns None.  Any other
import error is the plugin's bug and is raised, never hidden.

Examples
--------
>>> {"commands", "evaluate"} <= {ep.name for ep in entry_points(COMMANDS)}  # p2i's own
True
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Any

__all__ = ["COMMANDS", "SCORE_SOURCES", "entry_points", "load", "optional_part_missing"]

#: Entry-point group of the ``p2i`` subcommands.
COMMANDS = "p2i.commands"
#: Entry-point group of the person-score sources.
SCORE_SOURCES = "p2i.score_sources"

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"\bextra\s*==")


def entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """The entry points of ``group``, in the order the installed metadata lists them.

    A name declared twice (by two distributions) is kept once: the first, as Python's import
    path would find it.
    """
    seen: set[str] = set()
    out = []
    for ep in importlib.metadata.entry_points(group=group):
        if ep.name not in seen:
            seen.add(ep.name)
            out.append(ep)
    return out


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _optional_requirements(dist: Any) -> set[str]:
    """Normalised names of the requirements of ``dist`` that only an extra brings."""
    names = set()
    for req in (dist.requires or []) if dist is not None else []:
        m = _NAME.match(req)
        if m and _EXTRA.search(req):
            names.add(_normalise(m.group(1)))
    return names


def optional_part_missing(ep: importlib.metadata.EntryPoint, exc: ModuleNotFoundError) -> bool:
    """Whether ``exc``, raised while loading ``ep``, means an optional part is not installed.

    True when the missing module is the plugin's own module or one of its parent packages, or
    the top-level module of a requirement its distribution lists under an extra.

    Examples
    --------
    >>> ep = importlib.metadata.EntryPoint("x", "somepkg.cli:register", COMMANDS)
    >>> optional_part_missing(ep, ModuleNotFoundError("No module named 'somepkg'", name="somepkg"))
    True
    >>> optional_part_missing(ep, ModuleNotFoundError("No module named 'numpyy'", name="numpyy"))
    False
    """
    missing = exc.name
    if not missing:
        return False
    module = ep.module
    if module == missing or module.startswith(missing + "."):
        return True
    return _normalise(missing.split(".")[0]) in _optional_requirements(getattr(ep, "dist", None))


def load(ep: importlib.metadata.EntryPoint) -> Any | None:
    """``ep.load()``, or None when an optional part is missing (see :func:`optional_part_missing`).

    Raises
    ------
    ModuleNotFoundError, ImportError, Exception
        Whatever else loading raises: a broken plugin is reported, not skipped.
    """
    try:
        return ep.load()
    except ModuleNotFoundError as exc:
        if optional_part_missing(ep, exc):
            return None
        raise
