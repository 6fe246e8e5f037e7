"""The ``p2i`` command line.

Subcommands are registered by the modules that own them; each module exposes
``register(subparsers)`` that adds its parsers with ``set_defaults(func=...)``.  A ``register``
must stay cheap: heavy imports (numba kernels, torch) happen inside the command function.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (module, why it may be absent): modules whose subcommands join the CLI.
_COMMAND_MODULES = (
    "p2i_prior.commands",  # demo, segment
    "p2i_prior.evaluate",  # eval
    "p2i_net.cli",  # train, eval-net
    "bench.cli",  # bench
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
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that part of the toolkit is not in this checkout
            raise
        module.register(sub)
    return parser


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
