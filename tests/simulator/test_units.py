"""Pure parts: IDs, timestamps, filter parsing, page tokens."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billbridge.simulator.clock import SimClock, bill_date, bill_timestamp, next_hour
from billbridge.simulator.errors import CODES, SimError
from billbridge.simulator.families import CATALOG, FieldRule
from billbridge.simulator.ids import _MULTIPLIER, _SPACE, object_id
from billbridge.simulator.listing import decode_token, encode_token
from billbridge.simulator.query import parse_filters, split_terms


def test_id_scramble_is_a_bijection() -> None:
    assert _MULTIPLIER % 2 == 1
    assert _MULTIPLIER % 13 != 0
    assert _MULTIPLIER < _SPACE


@given(st.integers(0, 99), st.integers(0, 2**26 - 1), st.integers(0, 99), st.integers(0, 2**26 - 1))
def test_ids_are_unique_and_shaped(org_a: int, serial_a: int, org_b: int, serial_b: int) -> None:
    a = object_id("009", salt=123, org_index=org_a, serial=serial_a)
    b = object_id("009", salt=123, org_index=org_b, serial=serial_b)
    assert len(a) == 20
    assert a.startswith("00902")
    assert a[5:16].isupper()
    assert a[16:].islower()
    assert (a == b) == ((org_a, serial_a) == (org_b, serial_b))


def test_timestamps() -> None:
    assert bill_timestamp(1_729_085_791) == "2024-10-16T13:36:31.000+00:00"
    assert bill_timestamp(1_729_085_791.127) == "2024-10-16T13:36:31.127+00:00"
    assert bill_date(1_729_085_791) == "2024-10-16"
    assert next_hour(1_729_085_791) == 1_729_087_200


def test_frozen_clock() -> None:
    clock = SimClock(100.0)
    assert clock.now() == 100.0
    assert clock.advance(5) == 105.0
    with pytest.raises(ValueError):
        clock.advance(-1)
    clock.reset()
    assert clock.now() == 100.0


def test_split_terms_respects_quotes() -> None:
    assert split_terms('a:in:"x,y",b:eq:"c:d", c:eq:1') == ['a:in:"x,y"', 'b:eq:"c:d"', "c:eq:1"]


def test_filters_parse_typed_values() -> None:
    # No documented list filters on a number; the parser still types them.
    fields = {**CATALOG["bills"].filters, "amount": FieldRule("num", frozenset({"gt"}), ("amount",))}
    parsed = parse_filters('amount:gt:10,dueDate:lte:"2025-01-31",createdTime:gte:2024-01-01', fields)
    assert [c.value for c in parsed] == [10.0, "2025-01-31", "2024-01-01T00:00:00.000+00:00"]
    with pytest.raises(SimError) as info:
        parse_filters("amount:gt:ten", fields)
    assert info.value.code == "BDC_1129"


def test_page_tokens_round_trip() -> None:
    token = encode_token("vendors", "name:sw:A", "name:asc", 40)
    assert decode_token(token, "vendors") == ("name:sw:A", "name:asc", 40)
    with pytest.raises(SimError):
        decode_token(token, "bills")


def test_error_table_statuses_are_client_errors_or_server_errors() -> None:
    for code, info in CODES.items():
        assert code.startswith("BDC_")
        assert 400 <= info.status < 600
        assert info.status != 429  # BILL's limits are 4xx but not 429
