from __future__ import annotations

import tomllib
from pathlib import Path

import thinkingthoughts
from thinkingthoughts import simulator


def test_public_names_match_all() -> None:
    public = {name for name in vars(thinkingthoughts) if not name.startswith("_")}
    modules = {
        name for name in public if type(getattr(thinkingthoughts, name)).__name__ == "module"
    }
    assert set(thinkingthoughts.__all__) - {"__version__"} == public - modules
    assert set(simulator.__all__) <= set(vars(simulator))


def test_version_is_the_one_in_pyproject() -> None:
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert thinkingthoughts.__version__ == declared
