"""The REST binding's JSON objects of the roster records (OneRoster 1.2 Rostering Service, JSON binding).

A property the hub does not hold, or that the partner was not granted, is left out; the binding's
required strings (a user's `username`, `givenName`, `familyName`) are sent empty instead, never filled.
References are GUIDRefs (`{"href", "sourcedId", "type"}`) to the objects' own endpoints under `base`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datasources.oneroster.records import RosterClass, RosterEnrollment, RosterOrg, RosterUser

if TYPE_CHECKING:
    from collections.abc import Iterable

#: The user's identifier types in `userIds`: the partner's pseudonym, and the ECK-iD where shown.
PSEUDONYM_ID_TYPE = "pseudonym"
ECK_ID_TYPE = "ECK-iD"


def guid_ref(base: str, collection: str, sourced_id: str, type_name: str) -> dict[str, str]:
    """A reference to another object of the binding."""
    return {"href": f"{base}/{collection}/{sourced_id}", "sourcedId": sourced_id, "type": type_name}


def _without_none(properties: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in properties.items() if value is not None}


def _common(sourced_id: str, modified: str) -> dict[str, Any]:
    return {"sourcedId": sourced_id, "status": "active", "dateLastModified": modified}


def org_object(org: RosterOrg, base: str, modified: str) -> dict[str, Any]:
    """An Org."""
    parent = org.parent_sourced_id
    return _without_none(
        {
            **_common(org.sourced_id, modified),
            "name": org.name,
            "type": org.type,
            "identifier": org.identifier,
            "parent": None if parent is None else guid_ref(base, "orgs", parent, "org"),
        }
    )


def class_object(klass: RosterClass, base: str, modified: str) -> dict[str, Any]:
    """A Class; its course and term are in the CSV bulk export (courses.csv, academicSessions.csv)."""
    return _without_none(
        {
            **_common(klass.sourced_id, modified),
            "title": klass.title,
            "classType": klass.class_type,
            "grades": list(klass.grades) or None,
            "course": guid_ref(base, "courses", klass.course_sourced_id, "course"),
            "school": guid_ref(base, "schools", klass.school_sourced_id, "org"),
            "terms": None
            if klass.school_year is None
            else [guid_ref(base, "academicSessions", klass.school_year, "academicSession")],
        }
    )


def user_ids(user: RosterUser) -> list[dict[str, str]]:
    """The user's identifiers: its pseudonym for this partner, and its ECK-iD where the partner sees it."""
    found = [(PSEUDONYM_ID_TYPE, user.username), (ECK_ID_TYPE, user.eck_id)]
    return [{"type": kind, "identifier": value} for kind, value in found if value is not None]


def user_object(user: RosterUser, base: str, modified: str) -> dict[str, Any]:
    """A User with its one role at its school."""
    school = guid_ref(base, "schools", user.school_sourced_id, "org")
    return _without_none(
        {
            **_common(user.sourced_id, modified),
            "username": user.username or "",
            "userIds": user_ids(user),
            "enabledUser": user.enabled_user,
            "givenName": user.given_name or "",
            "familyName": user.family_name or "",
            "roles": None
            if user.role is None
            else [{"roleType": "primary", "role": user.role, "org": school}],
            "email": user.email,
            "grades": list(user.grades) or None,
            "primaryOrg": school,
        }
    )


def enrollment_object(enrollment: RosterEnrollment, base: str, modified: str) -> dict[str, Any]:
    """An Enrollment."""
    return _without_none(
        {
            **_common(enrollment.sourced_id, modified),
            "user": guid_ref(base, "users", enrollment.user_sourced_id, "user"),
            "class": guid_ref(base, "classes", enrollment.class_sourced_id, "class"),
            "school": guid_ref(base, "schools", enrollment.school_sourced_id, "org"),
            "role": enrollment.role,
            "beginDate": None if enrollment.begin_date is None else enrollment.begin_date.isoformat(),
            "endDate": None if enrollment.end_date is None else enrollment.end_date.isoformat(),
        }
    )


def json_object(record: Any, base: str, modified: str) -> dict[str, Any]:
    """The JSON object of any roster record."""
    if isinstance(record, RosterOrg):
        return org_object(record, base, modified)
    if isinstance(record, RosterClass):
        return class_object(record, base, modified)
    if isinstance(record, RosterUser):
        return user_object(record, base, modified)
    if isinstance(record, RosterEnrollment):
        return enrollment_object(record, base, modified)
    raise TypeError(f"not a roster record: {type(record).__name__}")


def selected(objects: Iterable[dict[str, Any]], fields: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """The objects with only the `fields` asked for (all when None)."""
    if fields is None:
        return list(objects)
    return [{name: value for name, value in item.items() if name in fields} for item in objects]
