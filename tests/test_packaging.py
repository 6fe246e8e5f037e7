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


def test_public_names_resolve():
    for name in p2i_prior.__all__:
        assert getattr(p2i_prior, name) is not None, name
