"""The published SDL describes itself: every part has a description, and the categories say what they open.

Partners in production may not introspect; the SDL is all they read. So it must describe every type, field,
argument and enum value, and say, from the policy's own classification, which fields each data category opens.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    FieldDefinitionNode,
    InputObjectTypeDefinitionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    TypeDefinitionNode,
    parse,
)

from auth.categories import DataCategory
from schema.assembly import build_schema


def _sdl_definitions() -> list[Any]:
    """The definitions of the SDL as published (`server.py export-schema`), parsed without validation."""
    return list(parse(build_schema().as_str()).definitions)


def _undescribed(definitions: list[Any]) -> list[str]:
    missing: list[str] = []
    for definition in definitions:
        if not isinstance(definition, TypeDefinitionNode):
            continue  # `extend schema @link(...)`: the federation header, no part of the API
        type_name = definition.name.value
        if definition.description is None:
            missing.append(f"type {type_name}")
        if isinstance(
            definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode | InputObjectTypeDefinitionNode
        ):
            for field in definition.fields or ():
                coordinate = f"{type_name}.{field.name.value}"
                if field.description is None:
                    missing.append(f"field {coordinate}")
                if isinstance(field, FieldDefinitionNode):
                    missing.extend(
                        f"argument {coordinate}({argument.name.value}:)"
                        for argument in field.arguments or ()
                        if isinstance(argument, InputValueDefinitionNode) and argument.description is None
                    )
        if isinstance(definition, EnumTypeDefinitionNode | EnumTypeExtensionNode):
            missing.extend(
                f"enum value {type_name}.{value.name.value}"
                for value in definition.values or ()
                if value.description is None
            )
    return missing


def _descriptions() -> dict[str, str]:
    """Every description of the SDL by its schema coordinate (`Type`, `Type.field`, `Enum.VALUE`)."""
    found: dict[str, str] = {}
    for definition in _sdl_definitions():
        if not isinstance(definition, TypeDefinitionNode):
            continue
        name = definition.name.value
        if definition.description:
            found[name] = definition.description.value
        parts = [*(getattr(definition, "fields", None) or ()), *(getattr(definition, "values", None) or ())]
        for part in parts:
            if part.description:
                found[f"{name}.{part.name.value}"] = part.description.value
    return found


def test_every_type_field_argument_and_enum_value_of_the_sdl_has_a_description() -> None:
    assert _undescribed(_sdl_definitions()) == []


def test_each_data_category_lists_the_fields_it_opens() -> None:
    descriptions = _descriptions()
    name = descriptions["DataCategory.STUDENT_NAME"]
    assert "Student.firstName" in name
    assert "Student.lastName" in name
    assert "Student.dateOfBirth" not in name
    assert "Student.dateOfBirth" in descriptions["DataCategory.STUDENT_DEMOGRAPHICS"]
    assert "StaffMember.email" in descriptions["DataCategory.STAFF_COMMUNICATION"]
    assert "School.students" in descriptions["DataCategory.STUDENT_BASIC"]


def test_the_category_lists_and_the_field_notes_tell_the_same_story() -> None:
    """Each field saying "Category: X." is listed under X, and under no other category."""
    descriptions = _descriptions()
    noted = {
        coordinate: match.group(1)
        for coordinate, text in descriptions.items()
        if (match := re.search(r"Category: ([A-Z_]+)\.$", text))
    }
    assert len(noted) > 30
    for category in DataCategory:
        listed = set(re.findall(r"\b[A-Z]\w*\.\w+\b", descriptions[f"DataCategory.{category.name}"]))
        listed.discard("Change.lostCategories")
        expected = {coordinate for coordinate, name in noted.items() if name == category.name}
        assert listed == expected, category


def test_a_governed_field_names_its_category_and_an_ungoverned_one_does_not() -> None:
    descriptions = _descriptions()
    assert descriptions["Student.firstName"].endswith("Category: STUDENT_NAME.")
    assert descriptions["Student.dateOfBirth"].endswith("Category: STUDENT_DEMOGRAPHICS.")
    assert descriptions["School.groups"].endswith("Category: GROUP_BASIC.")
    assert "Category:" not in descriptions["Student.id"]


def test_lost_categories_points_to_the_fields_to_delete() -> None:
    assert "lists the fields it opens" in _descriptions()["Change.lostCategories"]


def test_descriptions_name_categories_as_the_enum_does() -> None:
    """`STUDENT_NAME`, never the scope string `student.name`, in every description."""
    scope_strings = {category.value for category in DataCategory if "." in category.value}
    offending = {
        coordinate: scope
        for coordinate, text in _descriptions().items()
        for scope in scope_strings
        if re.search(rf"(?<![\w.]){re.escape(scope)}(?![\w])", text)
    }
    assert offending == {}
