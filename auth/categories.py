"""Data categories: the unit of consent (DOMAIN.md, "Data categories")."""

from __future__ import annotations

import enum


class DataCategory(enum.Enum):
    """A data category a partner declares and a school grants; names follow the Edu-V scopes."""

    SCHOOL_BASIC = "school.basic"
    GROUP_BASIC = "group.basic"
    STUDENT_BASIC = "student.basic"
    STUDENT_NAME = "student.name"
    STUDENT_DEMOGRAPHICS = "student.demographics"
    STAFF_BASIC = "staff.basic"
    STAFF_NAME = "staff.name"
    STAFF_COMMUNICATION = "staff.communication"
    LICENSE = "license"


ALL_CATEGORIES: frozenset[DataCategory] = frozenset(DataCategory)
