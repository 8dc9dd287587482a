"""The store's tables (SQLModel, `table=True`).

Only the datasource layer sees these classes; what crosses into the graph are the frozen records of
`datasources.store.records`. The layout keeps a person (the stable identity) apart from their memberships of
schools, so re-imports, a change of LAS, mergers and splits add and move rows without changing who
someone is. Tables that later flows fill (change events, disclosures) exist from the first migration.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that always comes back zone-aware in UTC. PostgreSQL keeps the zone; SQLite stores
    text without one, so the zone is normalised on the way in and re-attached on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return None if value is None else value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_TZ = UtcDateTime()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Board(SQLModel, table=True):
    """A school board (bestuur, bevoegd gezag), identified by DUO's 5-digit board number."""

    __tablename__ = "boards"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=5, unique=True)
    #: DUO's location file gives board numbers only: until a name is known, a board is named after its
    #: number.
    name: str = Field(max_length=200)
    name_known: bool = False
    dpa_signed_at: dt.datetime | None = Field(default=None, sa_type=_TZ)
    dpa_signed_by: str | None = Field(default=None, max_length=200)
    dpa_chamber_of_commerce_number: str | None = Field(default=None, max_length=20)
    dpa_version: str | None = Field(default=None, max_length=40)


class School(SQLModel, table=True):
    """A school location (vestiging): BRIN plus a 2-digit location code."""

    __tablename__ = "schools"
    __table_args__ = (UniqueConstraint("brin", "location_code"),)

    id: int | None = Field(default=None, primary_key=True)
    brin: str = Field(max_length=4, index=True)
    location_code: str = Field(max_length=2)
    code: str = Field(max_length=6, unique=True)
    name: str = Field(max_length=200)
    board_id: int = Field(foreign_key="boards.id", index=True)
    #: Opaque, unique, stable reference used in login shortcuts; never derived from the BRIN.
    instelling_ref: str = Field(max_length=64, unique=True)
    #: "duo" for registry locations, "manual" for managed locations DUO does not list.
    source: str = Field(default="duo", max_length=10)
    active: bool = True
    merged_into_id: int | None = Field(default=None, foreign_key="schools.id")
    home_login: bool = False
    #: Whether a session started at this school ends when a request of it comes from another address than
    #: the one it started from (`setSessionBinding`): a stolen cookie is of no use elsewhere, at the price
    #: of a new sign-in after a switch from Wi-Fi to 4G.
    sessions_bound: bool = False
    #: "automatic" (LAS push) or "manual" (hand uploads).
    las_coupling: str = Field(default="automatic", max_length=10)
    las_coupling_suspended: bool = False
    created_at: dt.datetime = Field(default_factory=_utc_now, sa_type=_TZ)
    #: When the operator closed the location for good (opheffing, `closeSchool`): its personal data is
    #: deleted once the retention period (`LEERPOORT_CLOSED_RETENTION_DAYS`) has passed since.
    closed_at: dt.datetime | None = Field(default=None, sa_type=_TZ)
    #: When that deletion was done (datasources.lifecycle.closure); null until then.
    purged_at: dt.datetime | None = Field(default=None, sa_type=_TZ)


class SchoolYear(SQLModel, table=True):
    """A school year (schooljaar) such as "2026-2027", with the dates it runs."""

    __tablename__ = "school_years"

    name: str = Field(primary_key=True, max_length=9)
    starts_on: dt.date
    ends_on: dt.date


class Group(SQLModel, table=True):
    """A group (groep) of one school in one school year: a main group (stamgroep) or a composite group."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("school_id", "school_year", "las_key"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="schools.id", index=True)
    school_year: str = Field(foreign_key="school_years.name", max_length=9)
    las_key: str = Field(max_length=100)
    name: str = Field(max_length=200)
    #: The EDEXML year-level code ("0"-"8", "S", "C", ...); null for groups that span levels.
    year_level: str | None = Field(default=None, max_length=4)
    composite: bool = False
    #: The date on which the group becomes current (1 August of its school year unless set otherwise).
    effective_from: dt.date


class SchoolFileYear(SQLModel, table=True):
    """A school year for which a school's LAS (or a hand upload) delivered a file: from that year's start
    the school's current groups are that year's, even if the file has none (datasources.store.current)."""

    __tablename__ = "school_file_years"

    school_id: int = Field(foreign_key="schools.id", primary_key=True)
    school_year: str = Field(foreign_key="school_years.name", primary_key=True, max_length=9)
    received_at: dt.datetime = Field(sa_type=_TZ)


class Person(SQLModel, table=True):
    """The stable identity of a student or staff member; everything that leaves the hub is derived from it."""

    __tablename__ = "persons"

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=_utc_now, sa_type=_TZ)


class Student(SQLModel, table=True):
    """A person's membership of a school as a student (leerling).

    The LAS key is per school and never the identity: that is the person."""

    __tablename__ = "students"
    __table_args__ = (
        UniqueConstraint("school_id", "las_key"),
        Index("ix_students_person", "person_id"),
        Index("ix_students_eck_id", "eck_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="persons.id")
    school_id: int = Field(foreign_key="schools.id", index=True)
    las_key: str = Field(max_length=100)
    eck_id: str | None = Field(default=None, max_length=300)
    first_name: str | None = Field(default=None, max_length=200)
    prefix: str | None = Field(default=None, max_length=50)
    last_name: str = Field(max_length=200)
    initials: str | None = Field(default=None, max_length=30)
    date_of_birth: dt.date | None = None
    year_level: str | None = Field(default=None, max_length=4)
    active: bool = True
    #: The first day of the membership, set when a file for a coming school year brings a new pupil:
    #: nobody outside the import sees them before (null: a member since the import that added them).
    effective_from: dt.date | None = None
    #: The last day of the membership, set when next school year's file no longer has the pupil (a
    #: group-8 leaver): partners stop seeing them the day after (null: no end known).
    effective_until: dt.date | None = None


class StaffMember(SQLModel, table=True):
    """A person's membership of a school as staff (leerkracht and hand-added roles)."""

    __tablename__ = "staff_members"
    __table_args__ = (
        UniqueConstraint("school_id", "las_key"),
        Index("ix_staff_members_person", "person_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="persons.id")
    school_id: int = Field(foreign_key="schools.id", index=True)
    las_key: str = Field(max_length=100)
    eck_id: str | None = Field(default=None, max_length=300)
    first_name: str | None = Field(default=None, max_length=200)
    prefix: str | None = Field(default=None, max_length=50)
    last_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    #: Hub roles (StaffRole names); TEACHER comes from the LAS, the rest only from a coordinator.
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: The EDEXML role codes as delivered; information only, they grant nothing.
    las_roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: Inactive until the account is activated with the current e-mail address.
    active: bool = False
    #: The first and last day of the membership, as for students (set by a coming school year's file).
    effective_from: dt.date | None = None
    effective_until: dt.date | None = None
    #: "las" for members an import delivers; "hub" for members a coordinator added by hand, whom an
    #: import never removes (datasources.access.staff_roles).
    source: str = Field(default="las", max_length=10)


class PastMembership(SQLModel, table=True):
    """The keys a person was known by at a school whose import ended their membership there.

    Removal ends a membership, never the person: a student or staff member who comes back (to the same
    school, or to another school of the same board) is recognised by these keys and gets their person
    again, so every partner sees the same ids and pseudonyms as before (datasources.imports.identities)."""

    __tablename__ = "past_memberships"
    __table_args__ = (
        # Newcomers are looked up by ECK-iD anywhere and by LAS key on the board: the value leads.
        Index("ix_past_memberships_eck_id", "eck_id"),
        Index("ix_past_memberships_las_key", "las_key"),
        Index("ix_past_memberships_school_person", "school_id", "kind", "person_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="persons.id")
    #: "student" or "staff".
    kind: str = Field(max_length=10)
    school_id: int = Field(foreign_key="schools.id")
    #: The LAS key at that school; null for a dummy key (`#...`), which is never a match key.
    las_key: str | None = Field(default=None, max_length=100)
    eck_id: str | None = Field(default=None, max_length=300)
    #: Staff only: the school e-mail address, which recognises a teacher within the school.
    email: str | None = Field(default=None, max_length=320)
    ended_at: dt.datetime = Field(sa_type=_TZ)


class GroupStudent(SQLModel, table=True):
    """A student's membership of a group."""

    __tablename__ = "group_students"
    __table_args__ = (Index("ix_group_students_student", "student_id", "group_id"),)

    group_id: int = Field(foreign_key="groups.id", primary_key=True)
    student_id: int = Field(foreign_key="students.id", primary_key=True)


class GroupStaff(SQLModel, table=True):
    """A staff member's link to a group."""

    __tablename__ = "group_staff"
    __table_args__ = (Index("ix_group_staff_staff", "staff_id", "group_id"),)

    group_id: int = Field(foreign_key="groups.id", primary_key=True)
    staff_id: int = Field(foreign_key="staff_members.id", primary_key=True)
    #: Null for a link the LAS delivered; the StaffRole a coordinator gave the group with (a hand link,
    #: which imports keep).
    role: str | None = Field(default=None, max_length=30)
    #: The last day of a hand link (a substitute's groups); reads leave the link out after it.
    until: dt.date | None = None


class Partner(SQLModel, table=True):
    """A publisher (uitgeverij) or network provider (netwerkaanbieder) that reads data under consent."""

    __tablename__ = "partners"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    #: "PUBLISHER" or "NETWORK_PROVIDER".
    kind: str = Field(max_length=20)
    declared_categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    eck_chain: bool = False
    client_id: str = Field(max_length=64, unique=True)
    #: A strong hash of the client secret; the secret itself is never stored.
    client_secret_hash: str | None = Field(default=None, max_length=300)
    created_at: dt.datetime = Field(default_factory=_utc_now, sa_type=_TZ)


class Product(SQLModel, table=True):
    """A partner's product (method, application) that schools license."""

    __tablename__ = "products"

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partners.id", index=True)
    name: str = Field(max_length=200)
    allowed_at_home: bool = False
    #: Where a user opens the product (the partner's address); null for products from before it was asked.
    launch_url: str | None = Field(default=None, max_length=2000)


class License(SQLModel, table=True):
    """A school's license of a product, coupled to groups."""

    __tablename__ = "licenses"

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="schools.id", index=True)
    product_id: int = Field(foreign_key="products.id", index=True)
    seats: int | None = None
    valid_from: dt.date
    valid_until: dt.date | None = None


class LicenseGroup(SQLModel, table=True):
    """The coupling of a license to a group: only coupled users see the product."""

    __tablename__ = "license_groups"

    license_id: int = Field(foreign_key="licenses.id", primary_key=True)
    group_id: int = Field(foreign_key="groups.id", primary_key=True, index=True)
    #: Made by a year-level rule (`LicenseRule`) rather than by hand: the rule alone adds and removes it,
    #: and it does not follow its group into the next school year (the rule couples that year's groups).
    by_rule: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


class LicenseRule(SQLModel, table=True):
    """A coupling of a license by year level (jaargroep): every main group of that level of the current and
    coming school years is coupled, re-applied after each import and at the school year's start."""

    __tablename__ = "license_rules"

    license_id: int = Field(foreign_key="licenses.id", primary_key=True)
    year_level: str = Field(max_length=4, primary_key=True)


class Consent(SQLModel, table=True):
    """A consent receipt: a school's grant of categories to a partner.

    The newest receipt that is not revoked is the one in force."""

    __tablename__ = "consents"
    __table_args__ = (
        Index("ix_consents_school_partner", "school_id", "partner_id"),
        # At most one receipt in force per school and partner; a new grant supersedes the old one.
        Index(
            "ux_consents_in_force",
            "school_id",
            "partner_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="schools.id")
    partner_id: int = Field(foreign_key="partners.id", index=True)
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    granted_by: str = Field(max_length=200)
    granted_at: dt.datetime = Field(sa_type=_TZ)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=_TZ)
    revoked_by: str | None = Field(default=None, max_length=200)
    policy_version: str = Field(max_length=40)
    #: The feed position at which this consent began (carried over when a grant supersedes it). Kept on the
    #: receipt for the record; what the feed shows follows `scope_periods`, which also knows the DPA and
    #: whether the school was open.
    feed_since: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))


class StaffAccount(SQLModel, table=True):
    """A sign-in account of school staff (coordinators today), with an argon2 password hash."""

    __tablename__ = "staff_accounts"

    id: int | None = Field(default=None, primary_key=True)
    #: Stored lower-cased, so sign-in does not depend on how the address was typed.
    email: str = Field(max_length=320, unique=True)
    password_hash: str = Field(max_length=300)
    active: bool = True
    #: An account a network provider's assertion made for a staff member who never activated one: not
    #: active (no usable password, the member stays inactive), yet not disabled either, so that sessions
    #: started by an assertion may use it (datasources.access.web_sessions). Activation clears it;
    #: an import that removes the member disables it (both false).
    assertion_only: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    created_at: dt.datetime = Field(default_factory=_utc_now, sa_type=_TZ)
    created_by: str = Field(max_length=200)


class StaffAccountRole(SQLModel, table=True):
    """A hub role an account holds at a school (ICT_COORDINATOR, ...): granted in the hub, never by a LAS."""

    __tablename__ = "staff_account_roles"

    account_id: int = Field(foreign_key="staff_accounts.id", primary_key=True)
    school_id: int = Field(foreign_key="schools.id", primary_key=True, index=True)
    role: str = Field(primary_key=True, max_length=30)


class ConsentRequest(SQLModel, table=True):
    """A partner's request for a school's consent; only the school's coordinator decides on it."""

    __tablename__ = "consent_requests"
    __table_args__ = (Index("ix_consent_requests_school_status", "school_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="schools.id")
    partner_id: int = Field(foreign_key="partners.id", index=True)
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    purpose: str = Field(max_length=1000)
    requested_at: dt.datetime = Field(sa_type=_TZ)
    #: PENDING until the school grants (GRANTED) or the partner asks again (SUPERSEDED).
    status: str = Field(default="PENDING", max_length=12)
    decided_at: dt.datetime | None = Field(default=None, sa_type=_TZ)


class LasClient(SQLModel, table=True):
    """A school administration system (LAS) registered to push EDEXML for the schools it serves."""

    __tablename__ = "las_clients"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    client_id: str = Field(max_length=64, unique=True)
    #: A strong hash of the client secret; the secret itself is never stored.
    client_secret_hash: str = Field(max_length=300)
    created_at: dt.datetime = Field(default_factory=_utc_now, sa_type=_TZ)


class LasClientSchool(SQLModel, table=True):
    """A school a LAS client may push imports for (by id, so a new BRIN does not break the link)."""

    __tablename__ = "las_client_schools"

    las_client_id: int = Field(foreign_key="las_clients.id", primary_key=True)
    school_id: int = Field(foreign_key="schools.id", primary_key=True, index=True)


class ChangeEvent(SQLModel, table=True):
    """One change of the graph, numbered in the transaction that makes it (filled by the change feed)."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_school_seq", "school_id", "seq"),)

    # SQLite only auto-increments a column declared INTEGER PRIMARY KEY, hence the variant.
    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    occurred_at: dt.datetime = Field(sa_type=_TZ)
    school_id: int | None = Field(default=None, foreign_key="schools.id")
    entity_type: str = Field(max_length=40)
    entity_id: int
    #: For students and staff: the person, from whom a partner's identifiers are derived (even once the
    #: row is gone).
    person_id: int | None = None
    kind: str = Field(max_length=20)
    #: Set for events meant for one partner only (its consent entering or leaving a school).
    partner_id: int | None = Field(default=None, foreign_key="partners.id")
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ChangeCounter(SQLModel, table=True):
    """The feed's single sequence counter. Writers take the next numbers by updating this one row in the
    transaction that records the change, so numbers commit in order (the row lock serialises writers)."""

    __tablename__ = "change_counter"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    #: Events up to this number were pruned: an older cursor must resync.
    pruned_through: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))


class PolicyVersion(SQLModel, table=True):
    """A random stamp that every transaction changing a table a partner's facts are read from (partners,
    consents, schools, boards, operation_allow_lists) replaces, in that transaction (triggers of migration
    0021): facts read while the stamp stayed the same belong to that stamp for good, so a process may keep
    them while the database shows it (`datasources.access.kept_facts`). A later migration that rebuilds one
    of those tables (SQLite's batch mode) must create its triggers again:
    tests/datasources/test_kept_facts.py checks that every one of them is there."""

    __tablename__ = "policy_versions"

    id: int = Field(default=1, primary_key=True)
    stamp: str = Field(max_length=32)


class PendingChange(SQLModel, table=True):
    """A change that falls due on a date (a coming school year's group): the scheduler numbers and
    publishes it then, so nobody sees it before."""

    __tablename__ = "pending_changes"
    __table_args__ = (Index("ix_pending_changes_due", "due_on"),)

    id: int | None = Field(default=None, primary_key=True)
    due_on: dt.date
    school_id: int = Field(foreign_key="schools.id")
    entity_type: str = Field(max_length=40)
    entity_id: int
    kind: str = Field(max_length=20)
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ScopePeriod(SQLModel, table=True):
    """A stretch of the feed during which a partner could read one category of one school: the feed's
    memory of scope, so an event is shown only if its categories were in scope when it happened.

    It records what the policy disclosed (the consent's categories, and nothing while the school was
    closed or its board's DPA unsigned), measured in feed positions: events numbered above `from_seq`,
    and at most `until_seq` once the period ended (open while `until_seq` is null)."""

    __tablename__ = "scope_periods"
    __table_args__ = (Index("ix_scope_periods_lookup", "partner_id", "school_id", "category", "from_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="schools.id")
    partner_id: int = Field(foreign_key="partners.id")
    category: str = Field(max_length=40)
    from_seq: int = Field(sa_column=Column(BigInteger(), nullable=False))
    until_seq: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))


class DeletionAcknowledgement(SQLModel, table=True):
    """A partner's confirmation that it deleted what it lost of a school."""

    __tablename__ = "deletion_acknowledgements"
    __table_args__ = (Index("ix_deletion_ack_school_partner", "school_id", "partner_id"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="schools.id")
    partner_id: int = Field(foreign_key="partners.id")
    #: The feed position up to which the partner confirms deleting what left its scope.
    through_seq: int = Field(sa_column=Column(BigInteger(), nullable=False))
    acknowledged_at: dt.datetime = Field(sa_type=_TZ)


class Disclosure(SQLModel, table=True):
    """The disclosure audit: what a partner request returned of a school (filled by partner access)."""

    __tablename__ = "disclosures"
    __table_args__ = (Index("ix_disclosures_school_at", "school_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partners.id")
    school_id: int = Field(foreign_key="schools.id")
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    operation_name: str | None = Field(default=None, max_length=200)
    records: int
    at: dt.datetime = Field(sa_type=_TZ)


class SigningKey(SQLModel, table=True):
    """An ES256 signing key; kept in the database so every process and the command line share it."""

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    private_pem: str
    created_at: dt.datetime = Field(sa_type=_TZ)
    #: Set when a newer key took over; the key still verifies tokens until they expire.
    retired_at: dt.datetime | None = Field(default=None, sa_type=_TZ)


class CredentialAttempt(SQLModel, table=True):
    """One failed (or still unfinished) credential check, counted under one key: an account, a client or
    a network address, each as a keyed hash (`auth.attempts`). Rows leave once past the window."""

    __tablename__ = "credential_attempts"
    __table_args__ = (
        Index("ix_credential_attempts_key_at", "key", "attempted_at"),
        Index("ix_credential_attempts_at", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)
    attempted_at: dt.datetime = Field(sa_type=_TZ)


class OutgoingMail(SQLModel, table=True):
    """A message waiting to be sent (or sent): the queue that keeps slow mail servers out of requests.

    The server's background task and `mail send-queued` send what is due; a failure is retried later
    with a growing wait. Only the error's class is kept, never a server's answer (it may quote the
    address). The message is emptied once sent, so the links it carried do not stay in the database."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (Index("ix_outgoing_mail_due", "sent_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(sa_type=_TZ)
    recipient: str = Field(max_length=320)
    #: The whole RFC 5322 message; emptied once sent.
    message: str = Field(sa_type=Text)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_type=_TZ)
    sent_at: dt.datetime | None = Field(default=None, sa_type=_TZ)
    #: The class of the last delivery error (e.g. `SMTPConnectError`), no message.
    last_error: str | None = Field(default=None, max_length=100)


class AccountLink(SQLModel, table=True):
    """A one-time link sent by mail: activating a staff member's account, or resetting a password.

    Only the SHA-256 of the link's random token is stored. An activation link belongs to a staff member
    (a school membership) and the address it was sent to; a reset link to an account. A link is used once
    (`used_at`); an import that changes the address or removes the member deletes its open links."""

    __tablename__ = "account_links"
    __table_args__ = (
        Index("ix_account_links_staff", "staff_member_id"),
        Index("ix_account_links_account", "account_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    #: "activation" or "reset".
    purpose: str = Field(max_length=20)
    staff_member_id: int | None = Field(default=None, foreign_key="staff_members.id")
    account_id: int | None = Field(default=None, foreign_key="staff_accounts.id")
    email: str = Field(max_length=320)
    created_at: dt.datetime = Field(sa_type=_TZ)
    expires_at: dt.datetime = Field(sa_type=_TZ)
    used_at: dt.datetime | None = Field(default=None, sa_type=_TZ)


class BoardCoordinator(SQLModel, table=True):
    """A board coordinator (bovenschools coordinator): a staff account that manages all, or chosen,
    schools of one board. Created by the operator (datasources.access.board_coordinators)."""

    __tablename__ = "board_coordinators"

    account_id: int = Field(foreign_key="staff_accounts.id", primary_key=True)
    board_id: int = Field(foreign_key="boards.id", primary_key=True, index=True)
    #: The chosen schools' ids; null means every school of the board, also those it gains later.
    school_ids: list[int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: dt.datetime = Field(sa_type=_TZ)
    created_by: str = Field(max_length=200)


class AccountRequest(SQLModel, table=True):
    """A board's signed request to open a school account and its first coordinator, as the helpdesk
    received it: no account is opened without one (datasources.access.account_requests)."""

    __tablename__ = "account_requests"
    __table_args__ = (Index("ix_account_requests_school", "school_id"),)

    id: int | None = Field(default=None, primary_key=True)
    board_name: str = Field(max_length=200)
    board_number: str = Field(max_length=5)
    school_name: str = Field(max_length=200)
    school_id: int = Field(foreign_key="schools.id")
    brin: str = Field(max_length=4)
    location_code: str = Field(max_length=2)
    #: The director (directeur) on whose behalf the request was signed.
    director_name: str = Field(max_length=200)
    coordinator_name: str = Field(max_length=200)
    coordinator_email: str = Field(max_length=320)
    #: The SHA-256 of the signed document (64 hex digits); the document itself stays with the helpdesk.
    document_sha256: str = Field(max_length=64)
    received_at: dt.datetime = Field(sa_type=_TZ)
    recorded_at: dt.datetime = Field(sa_type=_TZ)
    recorded_by: str = Field(max_length=200)
    account_id: int = Field(foreign_key="staff_accounts.id")


class Announcement(SQLModel, table=True):
    """A message of the helpdesk to every user (maintenance, incidents), shown while it is current."""

    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_valid", "valid_from", "valid_until"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    #: "INFO", "WARNING" or "OUTAGE".
    severity: str = Field(max_length=10)
    valid_from: dt.datetime = Field(sa_type=_TZ)
    valid_until: dt.datetime | None = Field(default=None, sa_type=_TZ)
    posted_at: dt.datetime = Field(sa_type=_TZ)
    posted_by: str = Field(max_length=200)


class PersistedQuery(SQLModel, table=True):
    """A GraphQL document registered under its SHA-256 (automatic persisted queries), shared by every
    worker; a document never changes under its hash, so rows are only ever added."""

    __tablename__ = "persisted_queries"

    sha256: str = Field(primary_key=True, max_length=64)
    query: str
    registered_at: dt.datetime = Field(sa_type=_TZ)


class OperationAllowListEntry(SQLModel, table=True):
    """One operation (a document's SHA-256) on a partner's allow-list: a partner with a list may run
    only the documents it holds."""

    __tablename__ = "operation_allow_lists"

    partner_id: int = Field(foreign_key="partners.id", primary_key=True)
    sha256: str = Field(primary_key=True, max_length=64)


class SchoolNetwork(SQLModel, table=True):
    """An address range a school's network leaves the internet from: a request from it is "at school".
    `dynamic` marks the one-address range that the school's update command keeps current."""

    __tablename__ = "school_networks"
    __table_args__ = (UniqueConstraint("school_id", "cidr"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="schools.id", index=True)
    #: The normalised range ("192.0.2.0/24", "2001:db8:12::/48").
    cidr: str = Field(max_length=64)
    dynamic: bool = False
    #: The network token that recorded a dynamic range (null for ranges a coordinator added).
    network_token_id: int | None = Field(default=None, foreign_key="network_tokens.id")
    added_at: dt.datetime = Field(sa_type=_TZ)


class NetworkToken(SQLModel, table=True):
    """A long-lived, school-bound token with which a school's scheduled command reports the school's
    current (dynamic) address. Only its SHA-256 is stored: the token is 32 random bytes, so a fast hash
    loses nothing, and a lookup by hash needs no scan."""

    __tablename__ = "network_tokens"

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="schools.id", index=True)
    token_sha256: str = Field(max_length=64, unique=True)
    label: str = Field(max_length=200)
    created_at: dt.datetime = Field(sa_type=_TZ)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=_TZ)
    last_used_at: dt.datetime | None = Field(default=None, sa_type=_TZ)


class WebSession(SQLModel, table=True):
    """A signed-in person's browser session (staff or student) behind the `leerpoort_session` cookie.

    Only the SHA-256 of the cookie's value is stored, so a copy of the table opens no session; the CSRF
    token is no secret on its own (every page of the session shows it) and is kept as is. A session ends
    when its time is up, at sign-out, or when its account is disabled or removed
    (datasources.access.web_sessions)."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_subject", "subject_kind", "subject_id"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    #: "staff" or "student" (ViewerKind values), with the account's or the student's id.
    subject_kind: str = Field(max_length=10)
    subject_id: str = Field(max_length=64)
    #: The scopes a `signIn` token of the same person would carry.
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    csrf_token: str = Field(max_length=64)
    #: The school the person signed in at (a student's; a member of staff's when the page named one).
    school_code: str | None = Field(default=None, max_length=6)
    #: The network address the session was started from.
    address: str = Field(max_length=64)
    started_at: dt.datetime = Field(sa_type=_TZ)
    expires_at: dt.datetime = Field(sa_type=_TZ)
    ended_at: dt.datetime | None = Field(default=None, sa_type=_TZ)
    #: Why the hub ended it, when a page should say so ("address_changed": the school binds sessions to
    #: their start address and a request came from another one); null for sign-out and expiry.
    end_reason: str | None = Field(default=None, max_length=20)
    #: The network provider whose signed assertion started the session (null: signed in on the hub's
    #: own pages). Only such a session may hold an account that is `assertion_only`.
    assertion_partner_id: int | None = Field(default=None, foreign_key="partners.id")


class AssertionKeySet(SQLModel, table=True):
    """A network provider's public keys for its sign-in assertions (auth.assertions): registered as a
    JWK or JWKS document, or fetched from its JWKS URL (then `keys` is the last fetch, a cache)."""

    __tablename__ = "assertion_key_sets"

    partner_id: int = Field(foreign_key="partners.id", primary_key=True)
    #: The public JWKs (normalised: public members, kid, alg, use), never private material.
    keys: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    jwks_url: str | None = Field(default=None, max_length=2000)
    #: When the JWKS URL was last fetched (by the wall clock: it limits refetches to one a minute).
    fetched_at: dt.datetime | None = Field(default=None, sa_type=_TZ)
    updated_at: dt.datetime = Field(sa_type=_TZ)
    updated_by: str = Field(max_length=200)


class UsedAssertion(SQLModel, table=True):
    """The `jti` of every accepted assertion, kept until it expires, so each is used once: the primary
    key refuses a concurrent replay that both requests read as unused."""

    __tablename__ = "used_assertions"

    partner_id: int = Field(foreign_key="partners.id", primary_key=True)
    jti: str = Field(max_length=200, primary_key=True)
    expires_at: dt.datetime = Field(sa_type=_TZ, index=True)


class StudentLogin(SQLModel, table=True):
    """How a student signs in at their school: a username unique within the school, and a password or a
    picture code (leerlingplaatje) or both, set by the school's coordinator (resolvers.student_logins).

    Both secrets are stored as argon2id hashes (the picture code keyed with the hub's secret first, since
    it has few values). The picture code is also kept sealed (AES-GCM under a key derived from the hub's
    secret) so that the coordinator's printable login cards can show it; the API never reads it back."""

    __tablename__ = "student_logins"
    __table_args__ = (UniqueConstraint("school_id", "username"),)

    student_id: int = Field(foreign_key="students.id", primary_key=True)
    school_id: int = Field(foreign_key="schools.id", index=True)
    #: Stored lower-cased, so sign-in does not depend on how the child typed it.
    username: str = Field(max_length=40)
    password_hash: str | None = Field(default=None, max_length=300)
    picture_hash: str | None = Field(default=None, max_length=300)
    picture_sealed: str | None = Field(default=None, max_length=200)
    updated_at: dt.datetime = Field(sa_type=_TZ)
    updated_by: str = Field(max_length=200)


class HomeActivationCode(SQLModel, table=True):
    """A printed code with which a parent activates home login for one student (used once). Only its
    SHA-256 is stored (auth.home_codes); printing a group's codes again replaces the unused ones."""

    __tablename__ = "home_activation_codes"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    student_id: int = Field(foreign_key="students.id", index=True)
    created_at: dt.datetime = Field(sa_type=_TZ)
    expires_at: dt.datetime = Field(sa_type=_TZ)
    used_at: dt.datetime | None = Field(default=None, sa_type=_TZ)
    #: Who printed it (the coordinator's `sub`).
    created_by: str = Field(max_length=200)


class HomeLink(SQLModel, table=True):
    """A student's home login, activated by a parent: a username the hub chose, the parent's e-mail
    address (several children may share one), and the PIN (argon2id hash) the parent chose."""

    __tablename__ = "home_links"
    __table_args__ = (Index("ix_home_links_email", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    #: One home login per student: activating again (a new code) replaces the e-mail and the PIN.
    student_id: int = Field(foreign_key="students.id", unique=True)
    username: str = Field(max_length=40, unique=True)
    #: Stored lower-cased.
    email: str = Field(max_length=320)
    pin_hash: str = Field(max_length=300)
    activated_at: dt.datetime = Field(sa_type=_TZ)


class HomePinLink(SQLModel, table=True):
    """A one-time link in mail to choose a new PIN for a home login (only the token's SHA-256 stored)."""

    __tablename__ = "home_pin_links"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    home_link_id: int = Field(foreign_key="home_links.id", index=True)
    created_at: dt.datetime = Field(sa_type=_TZ)
    expires_at: dt.datetime = Field(sa_type=_TZ)
    used_at: dt.datetime | None = Field(default=None, sa_type=_TZ)


class OidcClient(SQLModel, table=True):
    """A partner's registration as an OpenID Connect client (relying party): the exact redirect URIs the
    code flow may return to, and the login-initiation URI a launch starts the flow at (OIDC Core §4).
    The client's id and secret are the partner's own (`partners.client_id`, `client_secret_hash`)."""

    __tablename__ = "oidc_clients"

    partner_id: int = Field(foreign_key="partners.id", primary_key=True)
    redirect_uris: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    login_initiation_uri: str | None = Field(default=None, max_length=2000)
    registered_at: dt.datetime = Field(sa_type=_TZ)
    registered_by: str = Field(max_length=200)


class OidcCode(SQLModel, table=True):
    """A one-time authorization code of the OpenID Connect code flow, and the grant it became.

    Only the SHA-256 of the code is stored. It is bound to the client, the redirect URI, the PKCE
    challenge, the nonce, the signed-in person (a student or staff membership of one school) and the web
    session; it works once, within its short lifetime. Once exchanged, `access_token_id` names the access
    token issued from it, so that presenting the code again (`revoked_at`) also ends that token
    (RFC 6749 §4.1.2)."""

    __tablename__ = "oidc_codes"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    partner_id: int = Field(foreign_key="partners.id", index=True)
    redirect_uri: str = Field(max_length=2000)
    code_challenge: str = Field(max_length=128)
    nonce: str | None = Field(default=None, max_length=500)
    scope: str = Field(max_length=500)
    #: "student" or "staff": which table `member_id` is a row of.
    person_kind: str = Field(max_length=10)
    member_id: int
    school_id: int = Field(foreign_key="schools.id")
    session_id: str = Field(max_length=64)
    #: When the person signed in (the session's start): the id_token's `auth_time`.
    auth_time: dt.datetime = Field(sa_type=_TZ)
    #: Where the person was when the partner asked (auth.networks.NetworkContext): the claims' `context`.
    context: str = Field(default="SCHOOL", max_length=6)
    created_at: dt.datetime = Field(sa_type=_TZ)
    expires_at: dt.datetime = Field(sa_type=_TZ)
    used_at: dt.datetime | None = Field(default=None, sa_type=_TZ)
    access_token_id: str | None = Field(default=None, max_length=64, unique=True)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=_TZ)


class LifecycleOperation(SQLModel, table=True):
    """A school lifecycle operation the operator carried out (a merger, split, closure, board transfer or
    the end of one), or the deletion of a closed school's personal data: the record of what was done,
    with the counts of its report (never personal data)."""

    __tablename__ = "lifecycle_operations"
    __table_args__ = (Index("ix_lifecycle_operations_school", "school_id"),)

    id: int | None = Field(default=None, primary_key=True)
    #: MERGE, SPLIT, CLOSE, TRANSFER, FINISH or PURGE.
    kind: str = Field(max_length=10)
    #: The school it was about (a merger's or split's target); kept after a closure's deletion.
    school_id: int = Field(foreign_key="schools.id")
    #: The codes of every school involved, in order.
    school_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: The report's counts per kind.
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    performed_by: str = Field(max_length=200)
    performed_at: dt.datetime = Field(sa_type=_TZ)


def _core(model: type[SQLModel]) -> Table:
    # SQLModel types `__table__` loosely; queries use SQLAlchemy Core on these typed handles instead.
    return cast("Table", model.__table__)  # type: ignore[attr-defined]


BOARDS = _core(Board)
SCHOOLS = _core(School)
SCHOOL_YEARS = _core(SchoolYear)
SCHOOL_FILE_YEARS = _core(SchoolFileYear)
GROUPS = _core(Group)
PERSONS = _core(Person)
STUDENTS = _core(Student)
STAFF_MEMBERS = _core(StaffMember)
PAST_MEMBERSHIPS = _core(PastMembership)
GROUP_STUDENTS = _core(GroupStudent)
GROUP_STAFF = _core(GroupStaff)
PARTNERS = _core(Partner)
PRODUCTS = _core(Product)
LICENSES = _core(License)
LICENSE_GROUPS = _core(LicenseGroup)
LICENSE_RULES = _core(LicenseRule)
CONSENTS = _core(Consent)
CHANGE_EVENTS = _core(ChangeEvent)
DISCLOSURES = _core(Disclosure)
STAFF_ACCOUNTS = _core(StaffAccount)
STAFF_ACCOUNT_ROLES = _core(StaffAccountRole)
CONSENT_REQUESTS = _core(ConsentRequest)
LAS_CLIENTS = _core(LasClient)
CHANGE_COUNTER = _core(ChangeCounter)
POLICY_VERSIONS = _core(PolicyVersion)
PENDING_CHANGES = _core(PendingChange)
DELETION_ACKNOWLEDGEMENTS = _core(DeletionAcknowledgement)
LAS_CLIENT_SCHOOLS = _core(LasClientSchool)
SCOPE_PERIODS = _core(ScopePeriod)
SIGNING_KEYS = _core(SigningKey)
CREDENTIAL_ATTEMPTS = _core(CredentialAttempt)
OUTGOING_MAIL = _core(OutgoingMail)
ACCOUNT_LINKS = _core(AccountLink)
BOARD_COORDINATORS = _core(BoardCoordinator)
ACCOUNT_REQUESTS = _core(AccountRequest)
ANNOUNCEMENTS = _core(Announcement)
PERSISTED_QUERIES = _core(PersistedQuery)
OPERATION_ALLOW_LISTS = _core(OperationAllowListEntry)
SCHOOL_NETWORKS = _core(SchoolNetwork)
NETWORK_TOKENS = _core(NetworkToken)
HOME_ACTIVATION_CODES = _core(HomeActivationCode)
HOME_LINKS = _core(HomeLink)
HOME_PIN_LINKS = _core(HomePinLink)
WEB_SESSIONS = _core(WebSession)
ASSERTION_KEY_SETS = _core(AssertionKeySet)
USED_ASSERTIONS = _core(UsedAssertion)
STUDENT_LOGINS = _core(StudentLogin)
OIDC_CLIENTS = _core(OidcClient)
OIDC_CODES = _core(OidcCode)
LIFECYCLE_OPERATIONS = _core(LifecycleOperation)
