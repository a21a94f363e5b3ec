from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import thinkingthoughts
from thinkingthoughts import simulator


def test_public_names_match_all() -> None:
    assert set(thinkingthoughts.__all__) <= set(dir(thinkingthoughts))
    for name in thinkingthoughts.__all__:
        assert getattr(thinkingthoughts, name) is not None
    assert set(simulator.__all__) <= set(vars(simulator))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = thinkingthoughts.nothing_here


def test_version_is_the_one_in_pyproject() -> None:
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert thinkingthoughts.__version__ == declared


def modules_loaded_by(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running `statement`."""
    probe = f"{statement}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return set(output.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import thinkingthoughts",
        "import thinkingthoughts.ui.sse",
        "import thinkingthoughts.ui.gateway",
    ],
)
def test_the_package_and_the_ui_load_no_server_libraries(statement: str) -> None:
    loaded = {name.split(".")[0] for name in modules_loaded_by(statement)}
    assert loaded.isdisjoint({"fastapi", "sqlalchemy", "aiohttp", "starlette"}), loaded


def test_the_command_line_loads_the_benchmark_harness_only_for_bench() -> None:
    loaded = modules_loaded_by("import thinkingthoughts.cli")
    assert "thinkingthoughts.cli" in loaded
    assert not {name for name in loaded if name.startswith("thinkingthoughts.bench")}
