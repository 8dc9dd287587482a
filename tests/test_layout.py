"""The layout of the rooms (ARCHITECTURE.md): our own packages are what gets imported, and arrows point down.

`schema` and `auth` are also names of unrelated PyPI packages, so an install that shadows ours would run
someone else's code; and an import that points up (say `resolvers` importing `schema`) is the start of a
cycle, which the architecture calls a design error. Both are cheap to check here and costly to find later.
The same holds inside `datasources/`: its rooms (store, graph, feed, …) import each other only as
DATASOURCES_RULES allows.
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
    # examples/ holds partners' clients (partner_sync.py): they speak the public contract over HTTP, so they
    # import nothing of the hub, not even its leaves (a partner's copy has none of them).
    "examples": frozenset(),
    **{leaf: frozenset({leaf}) for leaf in sorted(LEAVES)},  # sorted: the same test ids in every xdist worker
}

#: The only modules allowed to import the JOSE library (python-jose's import name is `jose`): hub tokens, and
#: network providers' sign-in assertions; both pin the algorithm before the library decodes anything.
JOSE_MODULES = frozenset({REPO_ROOT / "auth" / "tokens.py", REPO_ROOT / "auth" / "assertions.py"})

#: `python server.py …` hands over to the command line, which sits above the server (it builds the app). That
#: import runs only when the file is the program, under `if __name__ == "__main__":`; elsewhere it would be an
#: arrow pointing up.
ENTRY_POINTS = frozenset({"cli"})

#: The rooms inside `datasources/`, and which of the others each may import (itself always; auth, settings and
#: errors as the `datasources` room may). A newcomer puts a feature where its folder name says; these arrows
#: keep the rooms from growing into each other. No circles: `test_the_datasources_rules_have_no_circle`.
DATASOURCES_RULES: dict[str, frozenset[str]] = {
    # engines and migrations, tables, frozen records, the per-request reader, scopes as SQL, keyset pages
    "store": frozenset(),
    # school files in and out (EDEXML, the CSV template): formats, checked, knowing nothing of the store but
    # its calendar
    "school_files": frozenset({"store"}),
    # the DUO registry of school locations and the operator's own locations; a board move, a closure or a
    # reopening changes partners' scope, so the registry writes its feed events
    "registry": frozenset({"store", "feed"}),
    # the change feed: numbering, dated events, retention, deletion acknowledgements, consent events
    "feed": frozenset({"store"}),
    # the scoped reads behind the graph and the per-request loaders that batch them
    "graph": frozenset({"store"}),
    # who may come in: accounts, LAS clients, signing keys, the consent lifecycle (its receipts are graph
    # records, its changes feed events)
    "access": frozenset({"store", "feed", "graph"}),
    # full sync of a school file: plan, apply, the events it records, the export back out
    "imports": frozenset({"store", "school_files", "feed"}),
    # school lifecycle (mergers, splits, closures, board transfers): moves memberships under the import
    # locks, tells partners through the feed, parses codes as the registry does
    "lifecycle": frozenset({"store", "feed", "imports", "registry"}),
    # OneRoster 1.2: the rosters as the REST binding and the CSV bulk export read them, minimised as the
    # graph's reads are (with the store's scoping)
    "oneroster": frozenset({"store"}),
    # the sandbox seed: a whole synthetic world, built with any of the rooms above
    "sandbox": frozenset({"store", "school_files", "registry", "feed", "graph", "access", "imports"}),
}

#: Arrows that cross the rules today, each with the way out. An entry that no longer crosses fails the test,
#: so the list only shrinks.
KNOWN_DATASOURCES_CROSSINGS: dict[tuple[str, str], str] = {}


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


def main_guard_lines(source: str) -> frozenset[int]:
    """The lines inside `if __name__ == "__main__":` blocks, which run only when the file is the program."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.If)
            and isinstance(test := node.test, ast.Compare)
            and isinstance(test.left, ast.Name)
            and test.left.id == "__name__"
            and [type(op) for op in test.ops] == [ast.Eq]
            and isinstance(constant := test.comparators[0], ast.Constant)
            and constant.value == "__main__"
        ):
            for statement in node.body:
                lines.update(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
    return frozenset(lines)


def _file_imports(path: Path) -> list[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    return imported_modules(source, _module_name(path), is_package=path.name == "__init__.py")


def _library_imports(path: Path) -> list[tuple[int, str]]:
    """The file's imports, except an entry point's under the main guard (see ENTRY_POINTS)."""
    guarded = main_guard_lines(path.read_text(encoding="utf-8"))
    return [
        (line, module)
        for line, module in _file_imports(path)
        if not (line in guarded and module.split(".", 1)[0] in ENTRY_POINTS)
    ]


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


@pytest.mark.parametrize("room", list(ALLOWED))
def test_imports_point_down_only(room: str) -> None:
    files = _python_files(room)
    if room in {
        "cli",
        "server",
        "schema",
        "auth",
        "datasources",
        "resolvers",
        "migrations",
        "settings",
        "examples",
    }:
        assert files, f"found no Python files for `{room}`: the layout test is looking in the wrong place"
    project = _project_names() | set(LAYERS)
    allowed = ALLOWED[room]
    violations = [
        f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
        for path in files
        for line, module in _library_imports(path)
        if (top := module.split(".", 1)[0]) in project and top not in allowed
    ]
    assert not violations, (
        f"`{room}` may import only {sorted(allowed)} of the project (arrows point down: "
        f"{' -> '.join(LAYERS)}):\n" + "\n".join(violations)
    )


def _datasources_crossings() -> dict[tuple[str, str], list[str]]:
    """Imports between datasources' rooms that DATASOURCES_RULES does not allow: (file, room) -> lines."""
    crossings: dict[tuple[str, str], list[str]] = {}
    for path in _python_files("datasources"):
        parts = path.relative_to(REPO_ROOT).parts
        room = parts[1] if len(parts) > 2 else ""  # "": datasources/__init__.py itself
        allowed = DATASOURCES_RULES.get(room, frozenset()) | {room}
        for line, module in _file_imports(path):
            names = module.split(".")
            if names[0] == "datasources" and len(names) > 1 and names[1] not in allowed:
                key = (path.relative_to(REPO_ROOT).as_posix(), names[1])
                crossings.setdefault(key, []).append(f"{key[0]}:{line} imports {module}")
    return crossings


def test_every_datasources_room_has_its_rule() -> None:
    rooms = {path.parent.name for path in (REPO_ROOT / "datasources").glob("*/__init__.py")}
    assert rooms == set(DATASOURCES_RULES), (
        f"datasources' sub-packages {sorted(rooms)} and the rules in tests/test_layout.py "
        f"{sorted(DATASOURCES_RULES)} differ: give a new room its line (what lives there, what it may import)"
    )


def test_the_datasources_rules_have_no_circle() -> None:
    def reachable(room: str, seen: frozenset[str]) -> frozenset[str]:
        below = DATASOURCES_RULES[room] - seen
        return below.union(*(reachable(other, seen | below) for other in below))

    circles = [room for room in DATASOURCES_RULES if room in reachable(room, frozenset())]
    assert not circles, f"the datasources rules let {circles} import themselves through other rooms"


def test_datasources_rooms_import_only_what_their_rule_allows() -> None:
    crossings = _datasources_crossings()
    new = [
        line for key, lines in crossings.items() if key not in KNOWN_DATASOURCES_CROSSINGS for line in lines
    ]
    assert not new, (
        "a datasources room imports a room its rule in tests/test_layout.py does not allow (move the code to "
        "the room that owns it, or change the rule if the design changed):\n" + "\n".join(new)
    )
    gone = sorted(set(KNOWN_DATASOURCES_CROSSINGS) - set(crossings))
    assert not gone, f"no longer crossing, remove from KNOWN_DATASOURCES_CROSSINGS: {gone}"


def test_only_the_token_modules_import_jose() -> None:
    scanned = [path for room in ALLOWED for path in _python_files(room)]
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in scanned
        if path not in JOSE_MODULES
        for line, module in _file_imports(path)
        if module == "jose" or module.startswith("jose.")
    ]
    assert not offenders, (
        "only auth/tokens.py and auth/assertions.py may import the JOSE library (they pin the algorithm "
        "before decoding); "
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


def test_only_the_main_guard_counts_as_the_programs_entry_point() -> None:
    source = (
        "import sys\n"
        "if __name__ == '__main__':\n"
        "    from cli import main\n"
        "\n"
        "    sys.exit(main())\n"
        "if __name__ != '__main__':\n"
        "    import cli\n"
    )
    assert main_guard_lines(source) == frozenset({3, 5})


#: SQL lives in datasources/ only; the rooms above may name the engine's type to pass it down, nothing else.
_ENGINE_TYPE_MODULE = "sqlalchemy.ext.asyncio"


@pytest.mark.parametrize("room", ["server", "cli", "schema", "resolvers", "auth"])
def test_sql_lives_in_datasources_only(room: str) -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
        for path in _python_files(room)
        for line, module in _file_imports(path)
        if (module == "sqlalchemy" or module.startswith(("sqlalchemy.", "sqlmodel")))
        and module != _ENGINE_TYPE_MODULE
    ]
    assert not offenders, (
        "queries, tables and SQL expressions belong in datasources/ (README, Layout); found:\n"
        + "\n".join(offenders)
    )
