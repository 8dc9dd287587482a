"""A partner's starting point: keep a local copy of what the schools consented to share with you.

This is a client of Leerpoort, written as a partner would write it, with nothing of the hub but its public
contract: the OAuth token endpoint, the published SDL and the GraphQL graph (through the `gql` client).

    pip install 'gql[httpx]'        # or, in the hub's repository: pip install -e '.[examples]'
    export LEERPOORT_CLIENT_SECRET=...   # or put it in a file and pass --client-secret-file FILE
    python examples/partner_sync.py --url http://127.0.0.1:8000 --client-id CLIENT_ID --state sync.db

Each run:

1. gets a 15-minute token with your client credentials (`POST /oauth/token`), and a new one when it runs out;
2. loads the published client SDL (`GET /schema.graphql`), so that `gql` checks every document before
   sending it;
3. the first time (no state file yet, `--full`, or a feed cursor the hub no longer keeps): notes where the
   change feed ends now, then does a full sync of every school you may see (its groups, students and staff,
   page by page with cursors), and keeps that feed position;
4. follows the feed `changes(after:)` from the saved cursor: CREATED, UPDATED and ENTERED_SCOPE store the
   event's `node`, DELETED deletes the entity, LEFT_SCOPE deletes the fields of every category in
   `lostCategories` (or the entity, when the category its rows need is among them; a School's LEFT_SCOPE
   applies to everything of that school); each page of events is applied and its cursor saved in one
   SQLite transaction, so a run that stops half-way resumes exactly where it stopped;
5. confirms to the hub (`acknowledgeDeletion`) that it deleted a school it lost;
6. prints a summary as JSON on stdout.

The state file is a small SQLite database: the tables `schools`, `groups`, `students` and `staff` hold
the data (ids and pseudonyms as the hub shows them to you, fields you were not granted as NULL) and
`sync_state` the feed cursor. Run it from cron (every few minutes) or with `--follow SECONDS`.

Exit codes: 0 done, 1 the hub refused or could not be reached (one line on stderr), 2 a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.httpx import HTTPXTransport

SECRET_VARIABLE = "LEERPOORT_CLIENT_SECRET"  # noqa: S105 - the name of a variable, not a secret
#: Items per page of every list (the hub allows 1 to 1,000).
DEFAULT_PAGE_SIZE = 500
#: A token is renewed this long before it expires, so that no request goes out with one about to lapse.
TOKEN_MARGIN_SECONDS = 60

# --- the documents: what this client reads ----------------------------------------------------------------

FRAGMENTS = """
fragment SchoolFields on School { id code schoolName: name brin locationCode grantedCategories }
fragment GroupFields on Group { id name yearLevel schoolYear composite }
fragment StudentFields on Student {
  id pseudonym eckId firstName prefix lastName initials dateOfBirth yearLevel mainGroup { id } groups { id }
}
fragment StaffFields on StaffMember {
  id pseudonym eckId firstName prefix lastName email roles groups { id }
}
"""
SCHOOLS = """query Schools($first: Int, $after: String) {
  schools(first: $first, after: $after) {
    edges { node { ...SchoolFields } } pageInfo { hasNextPage endCursor } } }"""
#: One list of a school: `LIST` is groups, students or staff, `FRAGMENT` the fields of its items.
SCHOOL_LIST = """query School_LIST($code: String!, $first: Int, $after: String) {
  school(code: $code) { LIST(first: $first, after: $after) {
    edges { node { ...FRAGMENT } } pageInfo { hasNextPage endCursor } } } }"""
FEED = """query Feed($first: Int, $after: String) {
  changes(first: $first, after: $after) {
    edges { node { cursor kind entityType entityId schoolCode lostCategories
      node { __typename ...SchoolFields ...GroupFields ...StudentFields ...StaffFields } } }
    pageInfo { hasNextPage endCursor } } }"""
#: Only where the feed ends: no events' contents are read.
FEED_END = """query FeedEnd($after: String) {
  changes(first: 1000, after: $after) { pageInfo { hasNextPage endCursor } } }"""
ACKNOWLEDGE = """mutation Acknowledge($code: String!) {
  acknowledgeDeletion(schoolCode: $code) { throughCursor } }"""


# --- what is stored, and under which data category --------------------------------------------------------


def _value(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda node: node.get(name)


def _id_of(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda node: (node.get(name) or {}).get("id")


def _ids_of(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda node: None if node.get(name) is None else json.dumps([item["id"] for item in node[name]])


def _json(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda node: None if node.get(name) is None else json.dumps(node[name])


def _flag(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda node: None if node.get(name) is None else int(node[name])


@dataclass(frozen=True)
class Column:
    """A stored column: the graph field it comes from, its data category (as the SDL's description of the
    field says), and how its value is read from a node."""

    name: str
    graph_field: str
    category: str | None
    read: Callable[[dict[str, Any]], Any]
    sql_type: str = "TEXT"


@dataclass(frozen=True)
class Entity:
    """A stored entity type: its table, the category its rows need (losing it deletes the row) and its
    columns besides `id` and `school_code`."""

    table: str
    row_category: str
    columns: tuple[Column, ...] = field(default=())

    def lost_columns(self, lost: set[str]) -> list[str]:
        """The columns to clear when these categories are lost."""
        return [column.name for column in self.columns if column.category in lost]


def _columns(
    *specs: tuple[str, str, str | None, Callable[[str], Callable[[dict[str, Any]], Any]]],
) -> tuple[Column, ...]:
    """Columns from (column, graph field, category, reader); a field may be selected under an alias
    ("alias: field"), which the reader then reads."""
    columns = []
    for name, selected, category, reader in specs:
        key, _, graph_field = selected.rpartition(": ")
        sql_type = "INTEGER" if reader is _flag else "TEXT"
        columns.append(Column(name, graph_field, category, reader(key or graph_field), sql_type))
    return tuple(columns)


ENTITIES: dict[str, Entity] = {
    "School": Entity("schools", "SCHOOL_BASIC", _columns(
        ("code", "code", "SCHOOL_BASIC", _value),
        # Aliased: the feed selects Schools and Groups side by side, and their `name`s differ in type.
        ("name", "schoolName: name", "SCHOOL_BASIC", _value),
        ("brin", "brin", "SCHOOL_BASIC", _value),
        ("location_code", "locationCode", "SCHOOL_BASIC", _value),
        ("granted_categories", "grantedCategories", None, _json),
    )),
    "Group": Entity("groups", "GROUP_BASIC", _columns(
        ("name", "name", "GROUP_BASIC", _value),
        ("year_level", "yearLevel", "GROUP_BASIC", _value),
        ("school_year", "schoolYear", "GROUP_BASIC", _value),
        ("composite", "composite", "GROUP_BASIC", _flag),
    )),
    "Student": Entity("students", "STUDENT_BASIC", _columns(
        ("pseudonym", "pseudonym", "STUDENT_BASIC", _value),
        ("eck_id", "eckId", "STUDENT_BASIC", _value),
        ("first_name", "firstName", "STUDENT_NAME", _value),
        ("prefix", "prefix", "STUDENT_NAME", _value),
        ("last_name", "lastName", "STUDENT_NAME", _value),
        ("initials", "initials", "STUDENT_NAME", _value),
        ("date_of_birth", "dateOfBirth", "STUDENT_DEMOGRAPHICS", _value),
        ("year_level", "yearLevel", "STUDENT_BASIC", _value),
        ("main_group_id", "mainGroup", "STUDENT_BASIC", _id_of),
        ("group_ids", "groups", "STUDENT_BASIC", _ids_of),
    )),
    "StaffMember": Entity("staff", "STAFF_BASIC", _columns(
        ("pseudonym", "pseudonym", "STAFF_BASIC", _value),
        ("eck_id", "eckId", "STAFF_BASIC", _value),
        ("first_name", "firstName", "STAFF_NAME", _value),
        ("prefix", "prefix", "STAFF_NAME", _value),
        ("last_name", "lastName", "STAFF_NAME", _value),
        ("email", "email", "STAFF_COMMUNICATION", _value),
        ("roles", "roles", "STAFF_BASIC", _json),
        ("group_ids", "groups", "STAFF_BASIC", _ids_of),
    )),
}  # fmt: skip

#: The lists of a school that the full sync reads, with the entity type and fragment of their items.
SCHOOL_LISTS = (("groups", "Group", "GroupFields"), ("students", "Student", "StudentFields"),
                ("staff", "StaffMember", "StaffFields"))  # fmt: skip


class SyncError(Exception):
    """The hub refused, or could not be reached: the message says what to do."""


# --- the local copy ---------------------------------------------------------------------------------------


class Store:
    """The state file: the data as the hub showed it to this partner, and the feed cursor, in SQLite."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        with self.transaction():
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS sync_state (name TEXT PRIMARY KEY, value TEXT)"
            )
            for entity in ENTITIES.values():
                columns = ", ".join(
                    f"{column.name} {column.sql_type}" for column in entity.columns if column.name != "code"
                )
                code = (
                    "code TEXT NOT NULL UNIQUE" if entity.table == "schools" else "school_code TEXT NOT NULL"
                )
                self.connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {entity.table} (id TEXT PRIMARY KEY, {code}, {columns})"
                )

    def close(self) -> None:
        """Close the database."""
        self.connection.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """`with store.transaction():` runs the block in one transaction (all of it is kept, or none)."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    @property
    def cursor(self) -> str | None:
        """The feed cursor of the last event applied (None: nothing synced yet)."""
        row = self.connection.execute("SELECT value FROM sync_state WHERE name = 'cursor'").fetchone()
        return None if row is None else str(row[0])

    @property
    def synced(self) -> bool:
        """Whether a full sync completed (a fresh state file has none)."""
        row = self.connection.execute("SELECT value FROM sync_state WHERE name = 'synced'").fetchone()
        return row is not None

    def save_position(self, cursor: str | None) -> None:
        """Keep the feed position (inside the transaction that applied what led to it)."""
        self.connection.execute("INSERT OR REPLACE INTO sync_state VALUES ('synced', '1')")
        if cursor is None:
            self.connection.execute("DELETE FROM sync_state WHERE name = 'cursor'")
        else:
            self.connection.execute("INSERT OR REPLACE INTO sync_state VALUES ('cursor', ?)", (cursor,))

    def clear(self) -> None:
        """Forget all data (before a full sync)."""
        for entity in ENTITIES.values():
            self.connection.execute(f"DELETE FROM {entity.table}")  # noqa: S608 - our own table names

    def put(self, entity_type: str, school_code: str, node: dict[str, Any]) -> None:
        """Store an entity's state as the hub gave it (fields not granted are null, and stay null here)."""
        entity = ENTITIES[entity_type]
        names = ["id"] + ([] if entity.table == "schools" else ["school_code"])
        values: list[Any] = [node["id"]] + ([] if entity.table == "schools" else [school_code])
        names += [column.name for column in entity.columns]
        values += [column.read(node) for column in entity.columns]
        placeholders = ", ".join("?" for _ in names)
        self.connection.execute(
            f"INSERT OR REPLACE INTO {entity.table} ({', '.join(names)}) VALUES ({placeholders})",  # noqa: S608
            values,
        )

    def delete(self, entity_type: str, entity_id: str) -> None:
        """Forget one entity (a School: everything of that school)."""
        if entity_type == "School":
            row = self.connection.execute("SELECT code FROM schools WHERE id = ?", (entity_id,)).fetchone()
            if row is not None:
                self.delete_school(str(row[0]))
        elif entity_type in ENTITIES:
            self.connection.execute(
                f"DELETE FROM {ENTITIES[entity_type].table} WHERE id = ?",  # noqa: S608
                (entity_id,),
            )

    def delete_school(self, code: str) -> None:
        """Forget a school and everything of it."""
        for entity in ENTITIES.values():
            key = "code" if entity.table == "schools" else "school_code"
            self.connection.execute(f"DELETE FROM {entity.table} WHERE {key} = ?", (code,))  # noqa: S608

    def lose(self, entity_type: str, entity_id: str, lost: set[str]) -> None:
        """Apply a LEFT_SCOPE to one entity: delete it when its row category is lost, else clear the
        fields of the lost categories."""
        entity = ENTITIES.get(entity_type)
        if entity is None:
            return
        if entity.row_category in lost:
            self.delete(entity_type, entity_id)
            return
        if cleared := entity.lost_columns(lost):
            assignments = ", ".join(f"{name} = NULL" for name in cleared)
            self.connection.execute(
                f"UPDATE {entity.table} SET {assignments} WHERE id = ?",  # noqa: S608
                (entity_id,),
            )

    def lose_at_school(self, code: str, lost: set[str]) -> None:
        """Apply a School's LEFT_SCOPE to everything of that school."""
        if "SCHOOL_BASIC" in lost:
            self.delete_school(code)
            return
        for entity in ENTITIES.values():
            key = "code" if entity.table == "schools" else "school_code"
            if entity.row_category in lost:
                self.connection.execute(f"DELETE FROM {entity.table} WHERE {key} = ?", (code,))  # noqa: S608
            elif cleared := entity.lost_columns(lost):
                assignments = ", ".join(f"{name} = NULL" for name in cleared)
                self.connection.execute(
                    f"UPDATE {entity.table} SET {assignments} WHERE {key} = ?",  # noqa: S608
                    (code,),
                )
        row = self.connection.execute(
            "SELECT granted_categories FROM schools WHERE code = ?", (code,)
        ).fetchone()
        if row is not None and row[0] is not None:
            kept = [category for category in json.loads(row[0]) if category not in lost]
            self.connection.execute(
                "UPDATE schools SET granted_categories = ? WHERE code = ?", (json.dumps(kept), code)
            )

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {
            entity.table: int(self.connection.execute(f"SELECT count(*) FROM {entity.table}").fetchone()[0])  # noqa: S608
            for entity in ENTITIES.values()
        }


# --- the hub ----------------------------------------------------------------------------------------------


class ClientCredentials(httpx.Auth):
    """Bearer tokens from the hub's token endpoint (OAuth 2 client credentials, HTTP Basic), renewed
    shortly before they expire and once more when the hub answers 401."""

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.token: str | None = None
        self.expires_at = 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send the request with a current token; on a 401, once more with a new one."""
        if self.token is None or time.monotonic() > self.expires_at - TOKEN_MARGIN_SECONDS:
            self.renew()
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:
            self.renew()
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request

    def renew(self) -> None:
        """Get a new token."""
        try:
            response = httpx.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self.client_secret),
                timeout=30.0,
            )
        except httpx.HTTPError as error:
            raise SyncError(f"the token endpoint {self.token_url} cannot be reached: {error}") from None
        if response.status_code != 200:
            try:
                reason = response.json().get("error", response.status_code)
            except ValueError:
                reason = response.status_code
            raise SyncError(f"the token endpoint refused the client credentials ({reason})")
        body = response.json()
        self.token = str(body["access_token"])
        self.expires_at = time.monotonic() + float(body.get("expires_in", 900))


class Hub:
    """The hub's graph through `gql`, every document checked against the published SDL first."""

    def __init__(self, base_url: str, credentials: ClientCredentials, page_size: int) -> None:
        base = base_url.rstrip("/")
        try:
            sdl = httpx.get(f"{base}/schema.graphql", timeout=30.0)
            sdl.raise_for_status()
        except httpx.HTTPError as error:
            raise SyncError(f"the published SDL at {base}/schema.graphql cannot be read: {error}") from None
        transport = HTTPXTransport(url=f"{base}/graphql", auth=credentials, timeout=60.0)
        self.client = Client(transport=transport, schema=sdl.text, execute_timeout=120)
        self.session: Any = self.client.connect_sync()  # type: ignore[no-untyped-call]  # gql leaves it unannotated
        self.page_size = page_size

    def close(self) -> None:
        """Close the connection."""
        self.client.close_sync()  # type: ignore[no-untyped-call]  # as connect_sync

    def run(self, document: str, **variables: Any) -> dict[str, Any]:
        """Execute a document; its `data`. A GraphQL error becomes a SyncError with the hub's message."""
        request = GraphQLRequest(_with_fragments(document), variable_values=variables)
        try:
            data: dict[str, Any] = self.session.execute(request)
        except TransportQueryError as error:
            first = (error.errors or [{}])[0]
            code = (first.get("extensions") or {}).get("code", "ERROR")
            raise SyncError(f"{code}: {first.get('message', error)}") from None
        except TransportError as error:
            if isinstance(error.__cause__, SyncError):  # the token endpoint's refusal, raised in `auth_flow`
                raise error.__cause__ from None
            raise SyncError(f"the hub cannot be reached or refused the request: {error}") from None
        return data

    def pages(self, document: str, path: tuple[str, ...], **variables: Any) -> Iterator[list[dict[str, Any]]]:
        """Every page of a connection (at `path` in the answer), following `endCursor`."""
        after: str | None = None
        while True:
            connection: Any = self.run(document, first=self.page_size, after=after, **variables)
            for key in path:
                connection = connection[key] if connection is not None else None
            if connection is None:
                return  # the school is no longer visible: the feed will say so
            yield [edge["node"] for edge in connection["edges"]]
            if not connection["pageInfo"]["hasNextPage"]:
                return
            after = connection["pageInfo"]["endCursor"]

    def feed_end(self, after: str | None) -> str | None:
        """The cursor where the feed ends now (None when it has no events for you yet)."""
        while True:
            info = self.run(FEED_END, after=after)["changes"]["pageInfo"]
            after = info["endCursor"] or after
            if not info["hasNextPage"]:
                return after


def _with_fragments(document: str) -> str:
    """The document with the fragment definitions it spreads (GraphQL refuses unused ones)."""
    wanted = [document]
    for definition in FRAGMENTS.strip().split("\nfragment "):
        name = definition.removeprefix("fragment ").split(" ", 1)[0]
        if f"...{name}" in document:
            wanted.append("\nfragment " + definition.removeprefix("fragment "))
    return "".join(wanted)


# --- the sync ---------------------------------------------------------------------------------------------


@dataclass
class Summary:
    """What a run did, printed as JSON."""

    full_sync: bool = False
    events: int = 0
    deleted_schools: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    cursor: str | None = None


def full_sync(hub: Hub, store: Store, summary: Summary) -> None:
    """Replace the local copy with everything the hub shows now, and keep the feed position from before
    the reads (events during the sync are applied again afterwards; applying an event twice is harmless)."""
    position = hub.feed_end(None)
    schools = [school for page in hub.pages(SCHOOLS, ("schools",)) for school in page]
    lists: list[tuple[str, str, dict[str, Any]]] = []
    for school in schools:
        for name, entity_type, fragment in SCHOOL_LISTS:
            document = SCHOOL_LIST.replace("LIST", name).replace("FRAGMENT", fragment)
            for page in hub.pages(document, ("school", name), code=school["code"]):
                lists += [(entity_type, school["code"], node) for node in page]
    with store.transaction():
        store.clear()
        for school in schools:
            store.put("School", school["code"], school)
        for entity_type, code, node in lists:
            store.put(entity_type, code, node)
        store.save_position(position)
    summary.full_sync = True


def apply_event(store: Store, event: dict[str, Any]) -> str | None:
    """Apply one feed event; the code of a school deleted as a whole (to confirm), else None."""
    kind, entity_type, code = event["kind"], event["entityType"], event["schoolCode"]
    node = event["node"]
    if kind in ("CREATED", "UPDATED", "ENTERED_SCOPE"):
        if node is not None and entity_type in ENTITIES:
            store.put(entity_type, code, node)
    elif kind == "DELETED":
        store.delete(entity_type, event["entityId"])
        return code if entity_type == "School" else None
    elif kind == "LEFT_SCOPE":
        lost = set(event["lostCategories"])
        if entity_type == "School":
            store.lose_at_school(code, lost)
            return code if "SCHOOL_BASIC" in lost else None
        store.lose(entity_type, event["entityId"], lost)
    return None


def follow_feed(hub: Hub, store: Store, summary: Summary) -> None:
    """Apply the feed from the saved cursor to its end, a page a transaction, the cursor saved with it."""
    after = store.cursor
    while True:
        changes = hub.run(FEED, first=hub.page_size, after=after)["changes"]
        events = [edge["node"] for edge in changes["edges"]]
        with store.transaction():
            for event in events:
                deleted = apply_event(store, event)
                if deleted is not None and deleted not in summary.deleted_schools:
                    summary.deleted_schools.append(deleted)
            after = changes["pageInfo"]["endCursor"] or after
            store.save_position(after)
        summary.events += len(events)
        if not changes["pageInfo"]["hasNextPage"]:
            return


def sync(hub: Hub, store: Store, *, full: bool) -> Summary:
    """One run: a full sync when needed, then the feed; the schools deleted are confirmed to the hub."""
    summary = Summary()
    if full or not store.synced:
        full_sync(hub, store, summary)
    try:
        follow_feed(hub, store, summary)
    except SyncError as error:
        if "older than the feed keeps events" not in str(error):
            raise
        # The hub no longer keeps events from our cursor: start over, as its message says.
        full_sync(hub, store, summary)
        follow_feed(hub, store, summary)
    for code in summary.deleted_schools:
        # Telling the school that its data is gone here is part of the agreement, not a courtesy.
        hub.run(ACKNOWLEDGE, code=code)
    summary.counts, summary.cursor = store.counts(), store.cursor
    return summary


# --- the command line -------------------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Keep a local SQLite copy of what schools share with you through Leerpoort."
    )
    parser.add_argument("--url", required=True, help="the hub's base URL, such as http://127.0.0.1:8000")
    parser.add_argument("--client-id", required=True, help="your OAuth client id")
    parser.add_argument(
        "--client-secret-file",
        type=Path,
        help=f"a file holding your client secret (default: the {SECRET_VARIABLE} environment variable)",
    )
    parser.add_argument("--state", required=True, type=Path, help="the state file (SQLite): data and cursor")
    parser.add_argument("--full", action="store_true", help="do a full sync first, even with a saved cursor")
    parser.add_argument(
        "--page-size", type=int, default=DEFAULT_PAGE_SIZE, help="items per page, 1 to 1000 (default 500)"
    )
    parser.add_argument(
        "--follow", type=float, metavar="SECONDS", help="keep running, following the feed every SECONDS"
    )
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.page_size <= 1000:
        parser.error("--page-size must be between 1 and 1000")
    return arguments


def _secret(path: Path | None) -> str:
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SyncError(f"cannot read the client secret file: {error.strerror}") from None
    secret = os.environ.get(SECRET_VARIABLE, "").strip()
    if not secret:
        raise SyncError(f"no client secret: pass --client-secret-file FILE or set {SECRET_VARIABLE}")
    return secret


def main(argv: list[str] | None = None) -> int:
    """Run the sync; the exit code."""
    arguments = _arguments(argv)
    try:
        credentials = ClientCredentials(
            arguments.url.rstrip("/") + "/oauth/token",
            arguments.client_id,
            _secret(arguments.client_secret_file),
        )
        credentials.renew()  # wrong credentials end the run here, before anything else is read
        hub = Hub(arguments.url, credentials, arguments.page_size)
    except SyncError as error:
        print(f"partner_sync: {error}", file=sys.stderr)
        return 1
    store = Store(arguments.state)
    try:
        full = arguments.full
        while True:
            summary = sync(hub, store, full=full)
            print(json.dumps(summary.__dict__), flush=True)
            if arguments.follow is None:
                return 0
            full = False
            time.sleep(arguments.follow)
    except SyncError as error:
        print(f"partner_sync: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()
        hub.close()


if __name__ == "__main__":
    sys.exit(main())
