"""filters= and sort= are written the way BILL reads them, and bad ones are refused early."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billbridge.bill import OPERATORS, Filter, Sort, format_datetime
from billbridge.bill.query import filters_param, list_params, sort_param
from billbridge.errors import ValidationError


def test_all_nine_operators() -> None:
    assert OPERATORS == ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "sw")


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        (Filter("accountType", "eq", "BUSINESS"), "accountType:eq:BUSINESS"),
        (Filter("accountType", "ne", "PERSON"), "accountType:ne:PERSON"),
        (Filter("archived", "eq", False), "archived:eq:false"),
        (Filter("archived", "ne", True), "archived:ne:true"),
        (Filter("amount", "gt", 100), "amount:gt:100"),
        (Filter("amount", "gte", 99.5), "amount:gte:99.5"),
        (Filter("amount", "lt", Decimal("10.25")), "amount:lt:10.25"),
        (Filter("dueDate", "lte", date(2025, 9, 1)), "dueDate:lte:2025-09-01"),
        (Filter("invoiceCurrency", "in", ["USD", "CAD"]), 'invoiceCurrency:in:"USD,CAD"'),
        (Filter("paymentStatus", "nin", ("PAID",)), 'paymentStatus:nin:"PAID"'),
        (Filter("name", "sw", "Hap"), "name:sw:Hap"),
        (Filter("name", "eq", "Acme, Inc."), 'name:eq:"Acme, Inc."'),
        (Filter("name", "eq", "10:30 Club"), 'name:eq:"10:30 Club"'),
        (Filter("name", "eq", ""), 'name:eq:""'),
        (Filter("name", "eq", " padded "), 'name:eq:" padded "'),
        (
            Filter("createdTime", "gte", datetime(2025, 9, 1, tzinfo=UTC)),
            'createdTime:gte:"2025-09-01T00:00:00.000Z"',
        ),
    ],
)
def test_filter_text(condition: Filter, text: str) -> None:
    assert condition.to_param() == text


def test_datetimes_are_utc_with_milliseconds() -> None:
    eastern = timezone(timedelta(hours=-5))
    moment = datetime(2025, 9, 1, 7, 30, 15, 123456, tzinfo=eastern)
    assert format_datetime(moment) == "2025-09-01T12:30:15.123Z"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        Filter("updatedTime", "gte", datetime(2025, 9, 1)).to_param()
    assert caught.value.field == "filters"


@pytest.mark.parametrize(
    ("field", "op", "value"),
    [
        ("name", "like", "x"),  # unknown operator
        ("name", "in", "USD"),  # in needs a list
        ("name", "eq", ["a", "b"]),  # eq needs one value
        ("na:me", "eq", "x"),  # field with a colon
        ("", "eq", "x"),
    ],
)
def test_malformed_filters_are_refused(field: str, op: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Filter(field, op, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "condition",
    [
        Filter("id", "in", []),
        Filter("name", "in", ["a,b"]),
        Filter("name", "eq", 'say "hi", then go'),
    ],
)
def test_unrepresentable_values_are_refused(condition: Filter) -> None:
    with pytest.raises(ValidationError):
        condition.to_param()


def split_terms(text: str) -> list[str]:
    """Split a filters value on commas outside double quotes (as a BILL server reads it)."""
    terms, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return terms


def read_value(raw: str) -> str:
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw


safe_text = st.text(st.characters(exclude_characters='"', exclude_categories=["Cs"]), max_size=20)


@given(st.lists(st.tuples(st.sampled_from(["name", "email", "id"]), safe_text), min_size=1, max_size=4))
def test_string_values_survive_a_server_side_parse(pairs: list[tuple[str, str]]) -> None:
    text = filters_param([Filter(field, "eq", value) for field, value in pairs])
    assert text is not None
    terms = split_terms(text)
    assert len(terms) == len(pairs)
    for term, (field, value) in zip(terms, pairs, strict=True):
        name, op, raw = term.split(":", 2)
        assert (name, op, read_value(raw)) == (field, "eq", value)


@given(
    st.lists(
        st.text(st.characters(exclude_characters='",', exclude_categories=["Cs"]), min_size=1, max_size=8),
        min_size=1,
        max_size=5,
    )
)
def test_in_lists_survive_a_server_side_parse(values: list[str]) -> None:
    text = Filter("id", "in", values).to_param()
    (term,) = split_terms(text)
    _, _, raw = term.split(":", 2)
    assert read_value(raw).split(",") == values


def test_sort_text() -> None:
    assert sort_param(Sort("updatedTime")) == "updatedTime:asc"
    assert sort_param([Sort("name", desc=True), Sort("id")]) == "name:desc,id:asc"
    assert sort_param("createdTime:desc") == "createdTime:desc"
    assert sort_param([]) is None
    with pytest.raises(ValidationError):
        Sort("bad,field")


@pytest.mark.parametrize("value", [0, 101, -1, True, 5.0, "20", None])
def test_max_must_be_1_to_100(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        list_params(max=value)  # type: ignore[arg-type]
    assert caught.value.field == "max"
    assert "max" in str(caught.value)


def test_list_params_order_and_omissions() -> None:
    assert list_params(max=100) == [("max", "100")]
    assert list_params(max=1, sort=Sort("name"), filters=Filter("archived", "eq", False), page="tok") == [
        ("max", "1"),
        ("sort", "name:asc"),
        ("filters", "archived:eq:false"),
        ("page", "tok"),
    ]
