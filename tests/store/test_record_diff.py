"""Canonical payloads and BILL's ``updatedTime`` as microseconds, as stored for every record."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billbridge.store.record_diff import is_archived, prepare
from billbridge.store.sqltypes import to_micros


@pytest.mark.parametrize(
    ("updated", "expected"),
    [
        ("2025-03-01T10:00:00.000+00:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        ("2025-03-01T10:00:00.123456Z", datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2025-03-01T12:30:00.5+02:30", datetime(2025, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2025-03-01T10:00:00", datetime(2025, 3, 1, 10, tzinfo=UTC)),  # no offset: UTC
        ("1969-12-31T23:59:59.999999+00:00", datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_updated_time_is_stored_as_utc_microseconds(updated: str, expected: datetime) -> None:
    (item,) = prepare([{"id": "1", "updatedTime": updated}], "id", "updatedTime", is_archived).values()
    assert item.source_modified_us == to_micros(expected)


@pytest.mark.parametrize("updated", [None, 17, "", "yesterday", "2025-13-01T00:00:00Z"])
def test_an_unreadable_updated_time_is_none(updated: object) -> None:
    (item,) = prepare([{"id": "1", "updatedTime": updated}], "id", "updatedTime", is_archived).values()
    assert item.source_modified_us is None


def test_payloads_are_canonical_and_the_later_copy_wins() -> None:
    older = {"name": "Old", "id": "v1", "updatedTime": "2025-03-01T10:00:00Z"}
    newer = {"updatedTime": "2025-03-01T11:00:00Z", "id": "v1", "name": "New", "archived": True}
    prepared = prepare([newer, older], "id", "updatedTime", is_archived)
    item = prepared["v1"]
    assert item.payload == '{"archived":true,"id":"v1","name":"New","updatedTime":"2025-03-01T11:00:00Z"}'
    assert item.archived is True
    # The same record with its keys in another order hashes the same.
    again = prepare([dict(reversed(list(newer.items())))], "id", "updatedTime", is_archived)["v1"]
    assert again.data_hash == item.data_hash
