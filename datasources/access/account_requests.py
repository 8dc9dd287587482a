"""A school account is opened only on a board's signed request: the helpdesk records the request (who asked,
for which location, on whose behalf, for which coordinator, and the SHA-256 of the signed document with when
it arrived) in the same transaction that opens the school's first coordinator account."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sqlalchemy import insert, select

from datasources.access.accounts import normalise_email
from datasources.access.viewer_facts import COORDINATOR
from datasources.store.tables import ACCOUNT_REQUESTS, BOARDS, SCHOOLS, STAFF_ACCOUNT_ROLES, STAFF_ACCOUNTS
from errors import BadUserInput, Conflict

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")
_BRIN: Final = re.compile(r"^[0-9]{2}[A-Z]{2}$")
_LOCATION: Final = re.compile(r"^[0-9]{2}$")
_BOARD: Final = re.compile(r"^[0-9]{1,5}$")
_NAME_MAX: Final = 200


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the board's signed request says, as the helpdesk types it in (or reads it from a JSON file)."""

    board_name: str
    board_number: str
    school_name: str
    brin: str
    location_code: str
    #: The director (directeur) on whose behalf the request was signed.
    director_name: str
    coordinator_name: str
    coordinator_email: str
    #: The SHA-256 of the signed document, 64 hexadecimal digits.
    document_sha256: str
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A recorded request and what it opened."""

    id: int
    school_id: int
    school_code: str
    account_id: int
    request: SignedRequest


def checked(request: SignedRequest, now: dt.datetime) -> SignedRequest:
    """The request normalised (trimmed names, upper-case BRIN, lower-case address and hash, five-digit
    board number); refused with the first field that is missing or malformed."""
    names = {
        "boardName": request.board_name,
        "schoolName": request.school_name,
        "directorName": request.director_name,
        "coordinatorName": request.coordinator_name,
    }
    for field, value in names.items():
        if not value.strip():
            raise BadUserInput(f"the request needs `{field}`")
        if len(value.strip()) > _NAME_MAX:
            raise BadUserInput(f"`{field}` is longer than {_NAME_MAX} characters")
    brin, location = request.brin.strip().upper(), request.location_code.strip()
    if not _BRIN.fullmatch(brin) or not _LOCATION.fullmatch(location):
        raise BadUserInput("`brin` is 2 digits and 2 letters (16AH), `locationCode` 2 digits (00)")
    board = request.board_number.strip()
    if not _BOARD.fullmatch(board):
        raise BadUserInput("`boardNumber` is DUO's board number of at most 5 digits")
    digest = request.document_sha256.strip().lower()
    if not _SHA256.fullmatch(digest):
        raise BadUserInput("`documentSha256` is the SHA-256 of the signed document: 64 hexadecimal digits")
    if request.received_at.tzinfo is None:
        raise BadUserInput("give `receivedAt` with a time zone")
    if request.received_at > now:
        raise BadUserInput("`receivedAt` lies in the future: record a request once it has arrived")
    return SignedRequest(
        board_name=" ".join(request.board_name.split()),
        board_number=board.zfill(5),
        school_name=" ".join(request.school_name.split()),
        brin=brin,
        location_code=location,
        director_name=" ".join(request.director_name.split()),
        coordinator_name=" ".join(request.coordinator_name.split()),
        coordinator_email=normalise_email(request.coordinator_email),
        document_sha256=digest,
        received_at=request.received_at,
    )


async def open_school_account(
    engine: AsyncEngine, request: SignedRequest, *, password_hash: str, recorded_by: str, now: dt.datetime
) -> RecordedRequest:
    """Record the signed request and make its coordinator the school's coordinator (a new account with
    `password_hash`, or an existing account that gains the school), in one transaction. The location must
    be in the hub (DUO's registry, or a managed location) and belong to the board the request names."""
    request = checked(request, now)
    async with engine.begin() as connection:
        school = await _school(connection, request)
        address = request.coordinator_email
        account_id = await connection.scalar(
            select(STAFF_ACCOUNTS.c.id).where(STAFF_ACCOUNTS.c.email == address)
        )
        if account_id is None:
            account_id = await connection.scalar(
                insert(STAFF_ACCOUNTS)
                .values(
                    email=address,
                    password_hash=password_hash,
                    active=True,
                    created_at=now,
                    created_by=recorded_by,
                )
                .returning(STAFF_ACCOUNTS.c.id)
            )
        role = {"account_id": account_id, "school_id": school.id, "role": COORDINATOR}
        held = await connection.scalar(
            select(STAFF_ACCOUNT_ROLES.c.role).where(
                *(STAFF_ACCOUNT_ROLES.c[column] == value for column, value in role.items())
            )
        )
        if held is not None:
            raise Conflict(f"{address} is already a coordinator of {school.code}")
        await connection.execute(insert(STAFF_ACCOUNT_ROLES).values(**role))
        request_id = await connection.scalar(
            insert(ACCOUNT_REQUESTS)
            .values(
                board_name=request.board_name,
                board_number=request.board_number,
                school_name=request.school_name,
                school_id=school.id,
                brin=request.brin,
                location_code=request.location_code,
                director_name=request.director_name,
                coordinator_name=request.coordinator_name,
                coordinator_email=address,
                document_sha256=request.document_sha256,
                received_at=request.received_at,
                recorded_at=now,
                recorded_by=recorded_by,
                account_id=account_id,
            )
            .returning(ACCOUNT_REQUESTS.c.id)
        )
    return RecordedRequest(
        id=int(request_id),
        school_id=school.id,
        school_code=school.code,
        account_id=int(account_id),
        request=request,
    )


@dataclass(frozen=True, slots=True)
class _School:
    id: int
    code: str


async def _school(connection: AsyncConnection, request: SignedRequest) -> _School:
    found = (
        await connection.execute(
            select(SCHOOLS.c.id, SCHOOLS.c.code, SCHOOLS.c.active, BOARDS.c.number)
            .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
            .where(SCHOOLS.c.brin == request.brin, SCHOOLS.c.location_code == request.location_code)
        )
    ).one_or_none()
    code = f"{request.brin}{request.location_code}"
    if found is None:
        raise BadUserInput(
            f"the hub has no location {code}: load DUO's registry, or add it as a managed location first"
        )
    if not found.active:
        raise BadUserInput(f"the location {code} has ended")
    if found.number != request.board_number:
        raise BadUserInput(
            f"the location {code} belongs to board {found.number}, not to board {request.board_number}"
        )
    return _School(id=found.id, code=found.code)
