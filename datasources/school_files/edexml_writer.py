"""A `SchoolFile` written as EDEXML 2.1, for a school or partner that wants the hub's data in the LAS format.

The output validates against the shipped 2.1 schema (with the school year checked by pattern, see
`datasources.school_files.edexml_schemas`), and reading it back with `read_edexml` gives the same
`SchoolFile` but for `source` and `warnings`. It carries only what the hub keeps: no gender, BSN, address
or free text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from datasources.school_files.model import ImportedStaff, ImportedStudent, SchoolFile


def write_edexml(school: SchoolFile) -> bytes:
    """The school's groups, students and staff as an EDEXML 2.1 document (UTF-8, with declaration).

    Raises ValueError for what EDEXML cannot say: a school without students (the schema needs at least
    one), a person with neither surname nor first name, or a staff member linked to a group that is not
    among the school's groups. Values are written as they are; `read_edexml` and the CSV reader only let
    through what fits the schema's lengths and codes.
    """
    if not school.students:
        raise ValueError(f"{school.code} {school.school_year}: EDEXML needs at least one student")
    root = etree.Element("EDEX")
    head = etree.SubElement(root, "school")
    _add(head, "schooljaar", school.school_year)
    _add(head, "peildatum", school.reference_date.isoformat() if school.reference_date else None)
    _add(head, "brincode", school.brin)
    _add(head, "dependancecode", school.location_code)
    _add(head, "xsdversie", "2.1")
    composite: dict[str, bool] = {}
    if school.groups:
        groups = etree.SubElement(root, "groepen")
        for group in school.groups:
            composite[group.key] = group.composite
            element = etree.SubElement(groups, "samengestelde_groep" if group.composite else "groep")
            element.set("key", group.key)
            _add(element, "naam", group.name)
            if not group.composite:
                _add(element, "jaargroep", group.year_level)
    students = etree.SubElement(root, "leerlingen")
    for student in school.students:
        _student(etree.SubElement(students, "leerling"), student)
    if school.staff:
        staff = etree.SubElement(root, "leerkrachten")
        for member in school.staff:
            _staff(etree.SubElement(staff, "leerkracht"), member, composite)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


def _student(element: etree._Element, student: ImportedStudent) -> None:
    _identity(element, student.key, student.eck_id)
    _names(
        element,
        student.key,
        last_name=student.last_name,
        prefix=student.prefix,
        initials=student.initials,
        first_name=student.first_name,
    )
    _add(element, "geboortedatum", student.date_of_birth.isoformat() if student.date_of_birth else None)
    _add(element, "jaargroep", student.year_level)
    if student.main_group is not None:
        etree.SubElement(element, "groep").set("key", student.main_group)
    if student.composite_groups:
        groups = etree.SubElement(element, "samengestelde_groepen")
        for key in student.composite_groups:
            etree.SubElement(groups, "samengestelde_groep").set("key", key)


def _staff(element: etree._Element, member: ImportedStaff, composite: dict[str, bool]) -> None:
    _identity(element, member.key, member.eck_id)
    _names(
        element,
        member.key,
        last_name=member.last_name,
        prefix=member.prefix,
        initials=None,
        first_name=member.first_name,
    )
    _add(element, "emailadres", member.email)
    for role in member.las_roles:
        _add(element, "rol", role)
    if member.groups:
        groups = etree.SubElement(element, "groepen")
        for key in member.groups:
            if key not in composite:
                raise ValueError(
                    f"staff {member.key} is linked to group {key}, which the school does not have"
                )
            kind = "samengestelde_groep" if composite[key] else "groep"
            etree.SubElement(groups, kind).set("key", key)


def _identity(element: etree._Element, key: str, eck_id: str | None) -> None:
    element.set("key", key)
    if eck_id is not None:
        element.set("eckid", eck_id)


def _names(
    element: etree._Element,
    key: str,
    *,
    last_name: str,
    prefix: str | None,
    initials: str | None,
    first_name: str | None,
) -> None:
    # EDEXML has two forms: the name parts starting with the surname, or a roepnaam alone (a person the
    # LAS knows by first name only); prefix and initials exist only in the first form.
    if last_name:
        _add(element, "achternaam", last_name)
        _add(element, "voorvoegsel", prefix)
        _add(element, "voorletters-1", initials)
    elif not first_name:
        raise ValueError(f"{element.tag!s} {key} has neither a surname nor a first name")
    _add(element, "roepnaam", first_name)


def _add(parent: etree._Element, tag: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, tag).text = text
