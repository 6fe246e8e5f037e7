"""Installed-looking plug-in distributions for the entry-point tests (no pip, no network).

:func:`make_distribution` writes ``NAME-0.1.dist-info`` (METADATA with its ``Requires-Dist``
lines, entry_points.txt) and the plug-in's modules into a folder; with that folder on
``sys.path`` (``monkeypatch.syspath_prepend``) ``importlib.metadata`` lists its entry points as
it lists an installed package's.
"""

from __future__ import annotations

import os


def make_distribution(root, name: str, entry_points: dict[str, dict[str, str]],
                      modules: dict[str, str] | None = None, requires: list[str] | None = None) -> str:
    """Write the distribution ``name`` under ``root``; returns ``root`` as a str.

    ``entry_points`` is ``{group: {name: "module:attr"}}``; ``modules`` is ``{"pkg/mod.py": source}``;
    ``requires`` are ``Requires-Dist`` lines (``'somedep; extra == "fancy"'``).
    """
    root = os.fspath(root)
    info = os.path.join(root, f"{name}-0.1.dist-info")
    os.makedirs(info, exist_ok=True)
    meta = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 0.1"]
    meta += [f"Requires-Dist: {r}" for r in requires or []]
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write("\n".join(meta) + "\n")
    with open(os.path.join(info, "entry_points.txt"), "w") as f:
        for group, eps in entry_points.items():
            f.write(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n")
    for path, source in (modules or {}).items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(source)
    return root
