"""A regular (non-editable) install holds the whole hub: every package of every room, and nothing else.

An editable install imports straight from the checkout, so a sub-package that pyproject.toml forgets
(datasources/store, say) goes unnoticed until someone installs the wheel and the hub fails to import. So
the wheel is built here, offline with this environment's setuptools, from a copy of the sources, and its
file list is compared with the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Top-level packages that are not the hub: they stay in the checkout.
NOT_SHIPPED = frozenset({"tests", "bench"})
#: The hub's packages (folders with `__init__.py`) at the top of the checkout.
ROOMS = sorted(
    path.parent.name for path in REPO_ROOT.glob("*/__init__.py") if path.parent.name not in NOT_SHIPPED
)
ROOT_MODULES = sorted(path.name for path in REPO_ROOT.glob("*.py"))
#: Generous for a build on a busy machine; a build that takes longer is hanging.
BUILD_TIMEOUT_SECONDS = 120


def _project() -> dict[str, dict[str, object]]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> frozenset[str]:
    """The names in the wheel that `pip wheel` builds from a copy of the checkout's sources."""
    source = tmp_path_factory.mktemp("source")
    for room in ROOMS:
        shutil.copytree(REPO_ROOT / room, source / room, ignore=shutil.ignore_patterns("__pycache__"))
    for name in [*ROOT_MODULES, "pyproject.toml"]:
        shutil.copy2(REPO_ROOT / name, source / name)
    output = tmp_path_factory.mktemp("wheel")
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    completed = subprocess.run(  # noqa: S603 - the interpreter running this suite, fixed arguments
        [sys.executable, "-m", "pip", "wheel", "--quiet", *offline, "--wheel-dir", str(output), str(source)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    (wheel,) = output.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return frozenset(archive.namelist())


def test_the_wheel_holds_every_module_of_every_room(wheel_files: frozenset[str]) -> None:
    sources = [
        path.relative_to(REPO_ROOT).as_posix()
        for room in ROOMS
        for path in (REPO_ROOT / room).rglob("*.py")
        if "__pycache__" not in path.parts
    ]
    packages = sorted({name.rsplit("/", 1)[0] for name in sources if name.endswith("/__init__.py")})
    assert "datasources/store" in packages, "the checkout is not where this test looks"

    missing = sorted(name for name in [*sources, *ROOT_MODULES] if name not in wheel_files)

    assert not missing, f"pyproject.toml leaves these out of a regular install: {missing}"


def test_the_wheel_ships_the_migration_template_and_nothing_of_tests_or_benchmarks(
    wheel_files: frozenset[str],
) -> None:
    top_level = {name.split("/", 1)[0] for name in wheel_files if ".dist-info/" not in name}

    assert "migrations/script.py.mako" in wheel_files
    assert top_level == {*ROOMS, *ROOT_MODULES}


def test_every_package_data_pattern_names_a_file_that_exists() -> None:
    setuptools = _project()["tool"]["setuptools"]
    assert isinstance(setuptools, dict)
    phantoms = [
        f"{package}: {pattern}"
        for package, patterns in setuptools.get("package-data", {}).items()
        for pattern in patterns
        if not any((REPO_ROOT / package.replace(".", "/")).glob(pattern))
    ]
    assert not phantoms, f"package data in pyproject.toml that does not exist: {phantoms}"
