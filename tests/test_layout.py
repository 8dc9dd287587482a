"""The layout of the rooms (ARCHITECTURE.md): our own packages are what gets imported, and arrows point down.

`schema` and `auth` are also names of unrelated PyPI packages, so an install that shadows ours would run
someone else's code; and an import that points up (say `resolvers` importing `schema`) is the start of a
cycle, which the architecture calls a design error. Both are cheap to check here and costly to find later.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

#: The layers from top to bottom: each may import itself and the layers below it, never one above.
LAYERS = ("bench", "cli", "server", "schema", "resolvers", "datasources", "auth")

#: Leaf modules of the project that every layer may import and that import nothing of the project.
LEAVES = frozenset({"settings", "errors"})

#: What each scanned room may import of the project (itself included). `migrations` builds on the store only.
ALLOWED: dict[str, frozenset[str]] = {
    **{layer: frozenset(LAYERS[index:]) | LEAVES for index, layer in enumerate(LAYERS)},
    "migrations": frozenset({"migrations", "datasources"}),
    **{leaf: frozenset({leaf}) for leaf in LEAVES},
}

#: The only module allowed to import the JOSE library (python-jose's import name is `jose`).
TOKENS_MODULE = REPO_ROOT / "auth" / "tokens.py"


def _project_names() -> frozenset[str]:
    """Top-level names the project defines: packages (folders with `__init__.py`) and root modules."""
    packages = {path.parent.name for path in REPO_ROOT.glob("*/__init__.py")}
    modules = {path.stem for path in REPO_ROOT.glob("*.py")}
    return frozenset((packages | modules) - {"tests"})


def _module_name(path: Path) -> str:
    """The dotted module name of a file under the repo root (`auth/tokens.py` -> `auth.tokens`)."""
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """Every module that `source` (the text of `module`) imports, absolute and dotted, with line numbers.

    Imports under `if TYPE_CHECKING:` count too: a type-only import from a higher layer is still an arrow
    pointing up. Relative imports are resolved against the module's own package.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, node.module or ""))
                continue
            base = package[: len(package) - node.level + 1]
            # `from . import x` names modules, not attributes: record each so `from .. import schema` is seen.
            if node.module:
                found.append((node.lineno, ".".join([*base, node.module])))
            else:
                found.extend((node.lineno, ".".join([*base, alias.name])) for alias in node.names)
    return sorted(found)


def _file_imports(path: Path) -> list[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    return imported_modules(source, _module_name(path), is_package=path.name == "__init__.py")


def _python_files(room: str) -> list[Path]:
    folder = REPO_ROOT / room
    if folder.is_dir():
        return sorted(folder.rglob("*.py"))
    single = REPO_ROOT / f"{room}.py"
    return [single] if single.exists() else []


@pytest.mark.parametrize("name", ["schema", "auth", "datasources", "resolvers", "server", "settings"])
def test_imported_module_is_the_projects_own(name: str) -> None:
    module = importlib.import_module(name)
    location = getattr(module, "__file__", None)
    assert location is not None, f"`{name}` imports as a namespace package: its __init__.py is missing"
    assert Path(location).resolve().is_relative_to(REPO_ROOT), (
        f"`import {name}` loads {location}, not the project's own `{name}` under {REPO_ROOT}; "
        f"a PyPI package of that name shadows it (pip uninstall it, or fix how pyproject.toml packages ours)"
    )


def test_every_top_level_module_has_a_place_in_the_layers() -> None:
    unplaced = _project_names() - set(ALLOWED)
    assert not unplaced, (
        f"new top-level module(s) {sorted(unplaced)}: add them to LAYERS or LEAVES in tests/test_layout.py "
        f"so the import rule covers them"
    )


@pytest.mark.parametrize("room", [room for room in ALLOWED if room != "server"])
def test_imports_point_down_only(room: str) -> None:
    files = _python_files(room)
    if room in {"schema", "auth", "datasources", "resolvers", "migrations", "settings"}:
        assert files, f"found no Python files for `{room}`: the layout test is looking in the wrong place"
    project = _project_names() | set(LAYERS)
    allowed = ALLOWED[room]
    violations = [
        f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
        for path in files
        for line, module in _file_imports(path)
        if (top := module.split(".", 1)[0]) in project and top not in allowed
    ]
    assert not violations, (
        f"`{room}` may import only {sorted(allowed)} of the project (arrows point down: "
        f"{' -> '.join(LAYERS)}):\n" + "\n".join(violations)
    )


def test_only_the_tokens_module_imports_jose() -> None:
    scanned = [path for room in ALLOWED for path in _python_files(room)]
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in scanned
        if path != TOKENS_MODULE
        for line, module in _file_imports(path)
        if module == "jose" or module.startswith("jose.")
    ]
    assert not offenders, (
        "only auth/tokens.py may import the JOSE library (it pins the algorithm before decoding); "
        "found imports at: " + ", ".join(offenders)
    )


def test_import_reader_sees_relative_and_type_only_imports() -> None:
    # The rules above are only as good as this reader: prove it resolves the import forms people write.
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from ..schema import types\n"
        "from . import loaders\n"
        "if TYPE_CHECKING:\n"
        "    import server\n"
    )
    modules = [module for _line, module in imported_modules(source, "resolvers.probe")]
    assert modules == ["__future__", "typing", "schema", "resolvers.loaders", "server"]
    package_modules = [
        module for _line, module in imported_modules("from . import x", "auth", is_package=True)
    ]
    assert package_modules == ["auth.x"]
