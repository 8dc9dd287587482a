"""The OneRoster 1.2 vocabulary the hub speaks: CSV headers, REST fields, and the hub's words mapped onto it.

The CSV headers are those of 1EdTech's *OneRoster: CSV Binding 1.2.1* (Final Release, 22 August 2023,
<https://www.imsglobal.org/spec/oneroster/v1p2/bind/csv/>), in the binding's order, which is normative
("the header fields for a file must be supplied in the same order as defined"):

- manifest.csv: propertyName, value
- orgs.csv: sourcedId, status, dateLastModified, name, type, identifier, parentSourcedId
- academicSessions.csv: sourcedId, status, dateLastModified, title, type, startDate, endDate,
  parentSourcedId, schoolYear
- courses.csv: sourcedId, status, dateLastModified, schoolYearSourcedId, title, courseCode, grades,
  orgSourcedId, subjects, subjectCodes
- classes.csv: sourcedId, status, dateLastModified, title, grades, courseSourcedId, classCode, classType,
  location, schoolSourcedId, termSourcedIds, subjects, subjectCodes, periods
- users.csv: sourcedId, status, dateLastModified, enabledUser, username, userIds, givenName, familyName,
  middleName, identifier, email, sms, phone, agentSourcedIds, grades, password, userMasterIdentifier,
  resourceSourcedIds, preferredGivenName, preferredMiddleName, preferredFamilyName, primaryOrgSourcedId,
  pronouns (1.2 moved a user's role and orgs out of users.csv into roles.csv)
- roles.csv: sourcedId, status, dateLastModified, userSourcedId, roleType, role, beginDate, endDate,
  orgSourcedId, userProfileSourcedId
- enrollments.csv: sourcedId, status, dateLastModified, classSourcedId, schoolSourcedId, userSourcedId,
  role, primary, beginDate, endDate
- demographics.csv: sourcedId, status, dateLastModified, birthDate, sex, americanIndianOrAlaskaNative,
  asian, blackOrAfricanAmerican, nativeHawaiianOrOtherPacificIslander, white, demographicRaceTwoOrMoreRaces,
  hispanicOrLatinoEthnicity, countryOfBirthCode, stateOfBirthAbbreviation, cityOfBirth,
  publicSchoolResidenceStatus

The REST fields are the 1.2 Rostering Service's (*OneRoster Rostering Service REST/JSON Binding 1.2*, Final
Release 19 September 2022, <https://www.imsglobal.org/sites/default/files/spec/oneroster/v1p2/
rostering-restbinding/OneRosterv1p2RosteringService_RESTBindv1p0.html>): the properties of Org, User, Class
and Enrollment that `fields=` may select. The hub fills what it holds and a partner was granted; the rest
(sms, phone, agents, pronouns, …) it never has, so those properties are never sent.
"""

from __future__ import annotations

from typing import Final

MANIFEST_HEADER: Final = ("propertyName", "value")


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


CSV_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "orgs.csv": _names("sourcedId status dateLastModified name type identifier parentSourcedId"),
    "academicSessions.csv": _names(
        "sourcedId status dateLastModified title type startDate endDate parentSourcedId schoolYear"
    ),
    "courses.csv": _names(
        "sourcedId status dateLastModified schoolYearSourcedId title courseCode grades orgSourcedId "
        "subjects subjectCodes"
    ),
    "classes.csv": _names(
        "sourcedId status dateLastModified title grades courseSourcedId classCode classType location "
        "schoolSourcedId termSourcedIds subjects subjectCodes periods"
    ),
    "users.csv": _names(
        "sourcedId status dateLastModified enabledUser username userIds givenName familyName middleName "
        "identifier email sms phone agentSourcedIds grades password userMasterIdentifier "
        "resourceSourcedIds preferredGivenName preferredMiddleName preferredFamilyName "
        "primaryOrgSourcedId pronouns"
    ),
    "roles.csv": _names(
        "sourcedId status dateLastModified userSourcedId roleType role beginDate endDate orgSourcedId "
        "userProfileSourcedId"
    ),
    "enrollments.csv": _names(
        "sourcedId status dateLastModified classSourcedId schoolSourcedId userSourcedId role primary "
        "beginDate endDate"
    ),
    "demographics.csv": _names(
        "sourcedId status dateLastModified birthDate sex americanIndianOrAlaskaNative asian "
        "blackOrAfricanAmerican nativeHawaiianOrOtherPacificIslander white demographicRaceTwoOrMoreRaces "
        "hispanicOrLatinoEthnicity countryOfBirthCode stateOfBirthAbbreviation cityOfBirth "
        "publicSchoolResidenceStatus"
    ),
}

#: Every data file the 1.2 manifest lists (`file.<name>`), in the binding's order: absent unless written.
MANIFEST_FILES: Final = (
    "academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
    "demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItems", "lineItemScoreScales", "orgs",
    "resources", "resultLearningObjectiveIds", "results", "resultScoreScales", "roles", "scoreScales",
    "userProfiles", "userResources", "users",
)  # fmt: skip

#: The properties of each REST object (the 1.2 JSON binding's), which `fields=` may select.
REST_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "org": (
        "sourcedId", "status", "dateLastModified", "metadata", "name", "type", "identifier", "parent",
        "children",
    ),
    "class": (
        "sourcedId", "status", "dateLastModified", "metadata", "title", "classCode", "classType", "location",
        "grades", "subjects", "course", "school", "terms", "subjectCodes", "periods", "resources",
    ),
    "user": (
        "sourcedId", "status", "dateLastModified", "metadata", "userMasterIdentifier", "username", "userIds",
        "enabledUser", "givenName", "familyName", "middleName", "preferredFirstName", "preferredMiddleName",
        "preferredLastName", "pronouns", "roles", "userProfiles", "identifier", "email", "sms", "phone",
        "agents", "grades", "password", "resources", "primaryOrg",
    ),
    "enrollment": (
        "sourcedId", "status", "dateLastModified", "metadata", "user", "class", "school", "role", "primary",
        "beginDate", "endDate",
    ),
}  # fmt: skip

#: OneRoster grades (CEDS entry grade levels) of the Dutch year levels (jaargroep, EDEXML codes) by age:
#: groep 1 (age 4) is pre-kindergarten, groep 2 kindergarten, groep 3-8 the first to sixth grade.
_GRADES: Final = {"1": "PK", "2": "KG", **{str(level): f"{level - 2:02d}" for level in range(3, 9)}}

#: The OneRoster role of a staff member by the hub roles it holds, strongest first; "aide" otherwise.
STAFF_ROLES: Final = (
    ("teacher", ("TEACHER", "REMEDIAL_TEACHER", "SUBSTITUTE")),
    ("siteAdministrator", ("ICT_COORDINATOR",)),
    ("counselor", ("INTERNAL_SUPERVISOR",)),
)
OTHER_STAFF_ROLE: Final = "aide"


def grades_of(year_level: str | None) -> list[str]:
    """The OneRoster grades of a year level: none when it is unknown or withheld, "Other" for levels
    outside the primary years (special education, combination groups, …)."""
    if year_level is None:
        return []
    return [_GRADES.get(year_level, "Other")]


def staff_role_of(roles: tuple[str, ...] | list[str]) -> str:
    """The OneRoster role of a staff member holding these hub roles (`STAFF_ROLES`, strongest first), as
    the rosters show it; the single sign-on's `role` claim uses the same vocabulary."""
    for oneroster_role, hub_roles in STAFF_ROLES:
        if any(role in roles for role in hub_roles):
            return oneroster_role
    return OTHER_STAFF_ROLE
