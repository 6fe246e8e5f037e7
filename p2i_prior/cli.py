"""The ``p2i`` command line.

Subcommands are registered through the ``p2i.commands`` entry-point group
(:mod:`p2i_prior.plugins`): each entry point is ``register(subparsers)`` (or a module with one),
which adds its parsers with ``set_defaults(func=...)``.  ``p2i``'s own commands (``demo``,
``segment``, ``eval``) are registered that way too, beside the commands of other packages.  A
``register`` must stay cheap: heavy imports (numba kernels, torch) happen inside the command
function.
"""

from __future__ import annotations

import argparse
import sys
import types

from . import plugins

_NO_COMMANDS = (
    f"no commands are registered (no entry points in the group {plugins.COMMANDS!r}): is the\n"
    "package installed? From a checkout: pip install -e ."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p2i",
        description=(
            "pose2instance: person instance segmentation from human keypoints.\n"
            "Start with `p2i demo`: it makes a synthetic scene of overlapping people, runs the\n"
            "whole pipeline and writes a figure. `p2i COMMAND --help` explains each command."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from p2i_prior import __version__

    parser.add_argument("--version", action="version", version=f"pose2instance {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    eps = plugins.entry_points(plugins.COMMANDS)
    own = __name__.partition(".")[0]
    # ours (demo and segment first), then the others
    eps.sort(key=lambda ep: (ep.module.partition(".")[0] != own, ep.module != f"{own}.commands"))
    for ep in eps:
        register = plugins.load(ep)
        if register is None:
            continue  # that part of the toolkit (or its optional dependency) is not installed
        if isinstance(register, types.ModuleType):
            register = register.register
        register(sub)
    if not eps:
        parser.epilog = _NO_COMMANDS
    return parser


def set_threads(threads: int | None) -> None:
    """``--threads``: :func:`p2i_prior.set_threads` (None: leave numba's default)."""
    if threads is None:
        return
    from .cpu_threads import set_threads as _set

    _set(threads, name="--threads")


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; user errors print one line and return 2."""
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"p2i {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
