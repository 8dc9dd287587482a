"""The hub is an Apollo Federation 2 subgraph: its SDL composes and the committed `schema.graphql` is current.

Composition runs the Guild's open composer (`tests/federation/compose.mjs`) in Node.js: the check a
partner's router runs when it adds our subgraph, so a change that would break their build fails here first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import graphql
import pytest

from schema.assembly import build_schema

if TYPE_CHECKING:
    from strawberry.federation import Schema

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSER_DIR = REPO_ROOT / "tests" / "federation"
COMMITTED_SCHEMA = REPO_ROOT / "schema.graphql"
COMMITTED_CLIENT_SCHEMA = REPO_ROOT / "schema.client.graphql"
FEDERATION_LINK = '@link(url: "https://specs.apollo.dev/federation/v2.9"'
REGENERATE = "run `python server.py export-schema > schema.graphql` and commit the result"
REGENERATE_CLIENT = (
    "run `python server.py export-schema --client > schema.client.graphql` and commit the result"
)

#: A partner's own subgraph that adds a field to our School by its code: what a router would compose us with.
PARTNER_SUBGRAPH = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])

type School @key(fields: "code") {
  code: String!
  learningResultsUrl: String
}
"""


class Composition(TypedDict):
    """What compose.mjs prints: whether the subgraphs compose, and the composer's error messages."""

    ok: bool
    errors: list[str]


def _cannot_compose(problem: str) -> None:
    # Locally a missing Node.js is a skip with its reason; on CI a failure, so the check never goes quiet.
    if os.environ.get("CI"):
        pytest.fail(f"federation composition cannot run on CI: {problem}")
    pytest.skip(f"federation composition check skipped: {problem}")


def compose(subgraphs: list[dict[str, str]]) -> Composition:
    """Compose named subgraph SDLs with the Guild's composer (tests/federation/compose.mjs)."""
    node = shutil.which("node")
    if node is None:
        _cannot_compose("Node.js (`node`) is not installed")
    if not (COMPOSER_DIR / "node_modules" / "@theguild" / "federation-composition").is_dir():
        _cannot_compose(
            "the composer is not installed: run `npm ci` in tests/federation (scripts/test.sh does)"
        )
    assert node is not None
    completed = subprocess.run(  # noqa: S603 - fixed script, our own SDL on stdin
        [node, "compose.mjs"],
        input=json.dumps(subgraphs),
        capture_output=True,
        text=True,
        cwd=COMPOSER_DIR,
        timeout=120,
        check=False,
    )
    try:
        result: Composition = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"compose.mjs did not answer JSON (exit {completed.returncode}): {completed.stderr}")
    assert completed.returncode == (0 if result["ok"] else 1), completed.stderr
    return result


@pytest.fixture(scope="module")
def federation_schema() -> Schema:
    """The hub's schema as the server assembles it."""
    built: Schema = build_schema()
    return built


@pytest.fixture(scope="module")
async def subgraph_sdl(federation_schema: Schema) -> str:
    """The SDL a router reads from the running subgraph: `{ _service { sdl } }`."""
    result = await federation_schema.execute("{ _service { sdl } }", context_value=None)
    assert result.errors is None, result.errors
    assert result.data is not None
    sdl: str = result.data["_service"]["sdl"]
    return sdl


def test_subgraph_declares_federation_2_9(subgraph_sdl: str) -> None:
    # 2.9 is the newest version the common open composers accept; strawberry's default is newer.
    assert FEDERATION_LINK in subgraph_sdl, f"the SDL must declare {FEDERATION_LINK} ...)"


def test_subgraph_composes_on_its_own(subgraph_sdl: str) -> None:
    result = compose([{"name": "leerpoort", "sdl": subgraph_sdl}])
    assert result["ok"], "the subgraph does not compose:\n" + "\n".join(result["errors"])


def test_subgraph_composes_with_a_partner_subgraph_keyed_on_school_code(subgraph_sdl: str) -> None:
    result = compose(
        [{"name": "leerpoort", "sdl": subgraph_sdl}, {"name": "partner", "sdl": PARTNER_SUBGRAPH}]
    )
    assert result["ok"], "composition with a partner's subgraph fails:\n" + "\n".join(result["errors"])


def test_composer_rejects_a_federation_version_it_does_not_support(subgraph_sdl: str) -> None:
    # Proves the check above can fail: the same SDL declaring strawberry's default (2.11) is refused.
    too_new = subgraph_sdl.replace("federation/v2.9", "federation/v2.11")
    result = compose([{"name": "leerpoort", "sdl": too_new}])
    assert not result["ok"]
    assert any("v2.11" in error for error in result["errors"]), result["errors"]


def _export(*flags: str) -> str:
    """What `python server.py export-schema FLAGS` prints, run the way a developer runs it."""
    completed = subprocess.run(  # noqa: S603 - our own script with fixed arguments
        [sys.executable, "server.py", "export-schema", *flags],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, f"`server.py export-schema` failed:\n{completed.stderr}"
    return completed.stdout


@pytest.fixture(scope="module")
def exported_schema() -> str:
    """The federation SDL as `python server.py export-schema` prints it."""
    return _export()


@pytest.fixture(scope="module")
def exported_client_schema() -> str:
    """The client SDL as `python server.py export-schema --client` prints it."""
    return _export("--client")


def test_committed_schema_matches_the_export(exported_schema: str) -> None:
    assert COMMITTED_SCHEMA.exists(), f"schema.graphql is missing: {REGENERATE}"
    committed = COMMITTED_SCHEMA.read_text(encoding="utf-8")
    assert committed == exported_schema, f"schema.graphql is out of date: {REGENERATE}"


def test_export_prints_the_assembled_schema(exported_schema: str, federation_schema: Schema) -> None:
    # The export must be the schema itself, not a hand-kept copy: compare with strawberry's printer.
    assert exported_schema.rstrip("\n") == federation_schema.as_str().rstrip("\n"), (
        f"`server.py export-schema` does not print the assembled schema; fix the command, then {REGENERATE}"
    )
    assert FEDERATION_LINK in exported_schema


def test_committed_client_schema_matches_the_export(exported_client_schema: str) -> None:
    assert COMMITTED_CLIENT_SCHEMA.exists(), f"schema.client.graphql is missing: {REGENERATE_CLIENT}"
    committed = COMMITTED_CLIENT_SCHEMA.read_text(encoding="utf-8")
    assert committed == exported_client_schema, f"schema.client.graphql is out of date: {REGENERATE_CLIENT}"


def test_the_federation_sdl_is_what_standard_tools_refuse() -> None:
    # Why the client SDL exists: graphql-core (gql, and graphql-js alike) refuses the federation SDL.
    with pytest.raises(TypeError, match="Unknown directive"):
        graphql.build_schema(COMMITTED_SCHEMA.read_text(encoding="utf-8"))


def _fields(schema: graphql.GraphQLSchema) -> dict[str, dict[str, list[str]]]:
    """Every named type of `schema` (introspection's own aside): its fields, each with its arguments
    (or, for an enum, its values), so that two schemas can be compared piece by piece."""
    shape: dict[str, dict[str, list[str]]] = {}
    for name, named in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(named, graphql.GraphQLEnumType):
            shape[name] = {value: [] for value in named.values}
        elif isinstance(named, graphql.GraphQLUnionType):
            shape[name] = {member.name: [] for member in named.types}
        elif isinstance(named, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
            shape[name] = {
                field_name: [
                    *sorted(f"{argument}: {value.type}" for argument, value in field.args.items()),
                    str(field.type),
                ]
                for field_name, field in named.fields.items()
            }
        elif isinstance(named, graphql.GraphQLInputObjectType):
            shape[name] = {field_name: [str(field.type)] for field_name, field in named.fields.items()}
        else:
            shape[name] = {}
    return shape


def test_graphql_core_loads_the_client_sdl_as_the_live_schema_minus_federation_plumbing(
    federation_schema: Schema,
) -> None:
    loaded = graphql.build_schema(COMMITTED_CLIENT_SCHEMA.read_text(encoding="utf-8"))

    live = _fields(federation_schema._schema)
    for plumbing in ("_Any", "_Entity", "_Service"):
        del live[plumbing]
    live.pop("_FieldSet", None)  # declared by strawberry for `@key`, unused by the graph itself
    del live["Query"]["_service"], live["Query"]["_entities"]
    assert _fields(loaded) == live
    assert {directive.name for directive in loaded.directives} == {
        directive.name for directive in graphql.specified_directives
    }
    student = loaded.get_type("Student")
    assert student is not None
    assert student.description == federation_schema._schema.type_map["Student"].description
