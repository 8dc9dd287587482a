"""The OneRoster 1.2 query grammar: filters as the binding writes them are read, anything else is refused."""

from __future__ import annotations

import pytest

from datasources.oneroster.queries import BadQuery, Filter, Predicate, parse_filter, parse_query

SELECTABLE = ("sourcedId", "givenName", "familyName")
FILTERABLE = frozenset({"givenName", "familyName", "school.sourcedId"})
SORTABLE = frozenset({"givenName"})


def _query(**parameters: str) -> object:
    return parse_query(
        parameters, selectable=SELECTABLE, sortable=SORTABLE, filterable=FILTERABLE, page_cap=1000
    )


def test_a_predicate_and_joins_of_two_are_read_as_the_binding_writes_them() -> None:
    assert parse_filter("givenName='Sanne'") == Filter((Predicate("givenName", "=", "Sanne"),))
    assert parse_filter("school.sourcedId!='abc' AND familyName~'berg'") == Filter(
        (Predicate("school.sourcedId", "!=", "abc"), Predicate("familyName", "~", "berg")), "AND"
    )
    assert parse_filter("givenName>='A' OR givenName<'C'") == Filter(
        (Predicate("givenName", ">=", "A"), Predicate("givenName", "<", "C")), "OR"
    )
    # A value may hold spaces, operators and the join words themselves.
    assert parse_filter("familyName='van der AND Berg'").predicates == (
        Predicate("familyName", "=", "van der AND Berg"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "givenName=Sanne",
        "givenName='Sanne",
        "givenName=='Sanne'",
        "givenName='a' and familyName='b'",
        "givenName='a' AND",
        "givenName='a' AND familyName='b' OR familyName='c'",
        "'a'='a'",
        "given Name='a'",
        "a.b.c='x'",
    ],
)
def test_anything_else_is_an_invalid_filter(text: str) -> None:
    with pytest.raises(BadQuery) as refused:
        parse_filter(text)
    assert refused.value.code_minor == "invalid_filter_field"


def test_parameters_outside_what_the_object_offers_are_refused_with_their_code_minor() -> None:
    cases = {
        "invalid_filter_field": {"filter": "password='x'"},
        "invalid_selection_field": {"fields": "sourcedId,password"},
        "invaliddata": {"sort": "familyName"},
    }
    for code_minor, parameters in cases.items():
        with pytest.raises(BadQuery) as refused:
            _query(**parameters)
        assert refused.value.code_minor == code_minor


def test_limit_is_capped_at_the_page_cap_and_defaults_to_a_hundred() -> None:
    assert (
        parse_query({}, selectable=SELECTABLE, sortable=SORTABLE, filterable=FILTERABLE, page_cap=1000).limit
        == 100
    )
    capped = parse_query(
        {"limit": "5000", "offset": "20"},
        selectable=SELECTABLE,
        sortable=SORTABLE,
        filterable=FILTERABLE,
        page_cap=1000,
    )
    assert (capped.limit, capped.offset) == (1000, 20)
