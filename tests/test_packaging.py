"""The repository's promises about itself: the README's commands, the package layout."""

import os
import re

import p2i_prior

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def quickstart_commands():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_readme_quickstart_is_two_commands_and_ci_runs_the_second():
    cmds = quickstart_commands()
    assert len(cmds) == 2 and all("\n" not in c for c in cmds)
    assert "p2i demo" in cmds[0]
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci_lines = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    assert cmds[1] in ci_lines
    assert "torch==2.13.0" in cmds[1] and "pytest" in cmds[1]


def test_kernels_install_as_a_subpackage():
    import p2i_prior.kernels as k

    assert k.__name__ == "p2i_prior.kernels"
    assert os.path.samefile(os.path.dirname(k.__file__), os.path.join(ROOT, "kernels"))


def test_bench_installs_as_p2i_bench():
    import p2i_bench

    assert p2i_bench.__name__ == "p2i_bench"
    assert os.path.samefile(os.path.dirname(p2i_bench.__file__), os.path.join(ROOT, "bench"))


def pyproject() -> dict:
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def test_every_package_folder_is_listed_for_the_wheel():
    """A subpackage left out of ``[tool.setuptools] packages`` would be missing from a wheel."""
    st = pyproject()["tool"]["setuptools"]
    folders = {name: st.get("package-dir", {}).get(name, name.replace(".", "/")) for name in st["packages"]}
    for name, folder in folders.items():
        assert os.path.isfile(os.path.join(ROOT, folder, "__init__.py")), (name, folder)
    on_disk = set()
    for top in ("p2i_prior", "kernels", "p2i_net", "bench"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d not in ("__pycache__", "results")]
            if "__init__.py" in filenames:
                on_disk.add(os.path.relpath(dirpath, ROOT))
    assert on_disk == {os.path.normpath(f) for f in folders.values()}


def test_entry_points_are_installed_as_declared():
    """The CLI commands and score sources come from the installed metadata: stale after an edit
    of pyproject.toml until ``pip install -e .`` runs again."""
    from p2i_prior import plugins

    declared = pyproject()["project"]["entry-points"]
    assert set(declared) == {plugins.COMMANDS, plugins.SCORE_SOURCES}
    for group, eps in declared.items():
        installed = {ep.name: ep.value for ep in plugins.entry_points(group)}
        assert {k: installed.get(k) for k in eps} == eps, f"{group}: reinstall (pip install -e . --no-deps)"


def test_public_names_resolve():
    for name in p2i_prior.__all__:
        assert getattr(p2i_prior, name) is not None, name
