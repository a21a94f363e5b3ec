"""The chat page talks to the gateway over HTTP only: no module of `thinkingthoughts.ui`
imports anything of `thinkingthoughts` outside `thinkingthoughts.ui`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import thinkingthoughts.ui

UI_PACKAGE = "thinkingthoughts.ui"
UI_DIR = Path(thinkingthoughts.ui.__file__).parent
UI_MODULES = sorted(UI_DIR.rglob("*.py"))


def imported_modules(source: str, package: str) -> list[str]:
    """Every module `source` imports (and each name imported from one, as `module.name`),
    relative imports resolved against `package`."""
    package_parts = package.split(".")
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def outside_the_ui(names: list[str]) -> list[str]:
    return [
        name
        for name in names
        if (name == "thinkingthoughts" or name.startswith("thinkingthoughts."))
        and name != UI_PACKAGE
        and not name.startswith(UI_PACKAGE + ".")
    ]


def package_of(path: Path) -> str:
    return ".".join([UI_PACKAGE, *path.relative_to(UI_DIR).parent.parts])


def test_the_ui_package_has_its_modules() -> None:
    assert {p.name for p in UI_MODULES} >= {
        "app.py",
        "config.py",
        "gateway.py",
        "gateway_problems.py",
        "sse.py",
        "chat_page.py",
        "reply_settings.py",
        "sessions_sidebar.py",
    }


@pytest.mark.parametrize("path", UI_MODULES, ids=lambda p: p.name)
def test_ui_modules_import_nothing_of_the_gateway(path: Path) -> None:
    names = imported_modules(path.read_text(encoding="utf-8"), package_of(path))
    assert outside_the_ui(names) == []


def test_the_check_catches_every_form_of_importing_the_gateway() -> None:
    source = (
        "from thinkingthoughts.storage import models\n"
        "import thinkingthoughts.settings\n"
        "from .. import errors\n"
        "from ..engine.pipeline import ChatService\n"
        "from thinkingthoughts import app\n"
        "from . import gateway\n"
        "from thinkingthoughts.ui.sse import parse_sse\n"
    )
    caught = outside_the_ui(imported_modules(source, UI_PACKAGE))
    assert set(caught) == {
        "thinkingthoughts.storage",
        "thinkingthoughts.storage.models",
        "thinkingthoughts.settings",
        "thinkingthoughts",
        "thinkingthoughts.errors",
        "thinkingthoughts.engine.pipeline",
        "thinkingthoughts.engine.pipeline.ChatService",
        "thinkingthoughts.app",
    }
