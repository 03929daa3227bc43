"""Hourly budgets and the in-flight limit, on an injected clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from billbridge.bill import LOGINS_PER_HOUR, MAX_IN_FLIGHT, REQUESTS_PER_HOUR, Limits
from billbridge.bill.limits import hour_start, next_hour
from billbridge.errors import ValidationError

# 2030-01-01T10:59:59Z
LAST_SECOND = 1893495599.0


def test_bill_defaults() -> None:
    assert (MAX_IN_FLIGHT, REQUESTS_PER_HOUR, LOGINS_PER_HOUR) == (3, 20_000, 200)
    limits = Limits()
    assert limits.requests_left("k") == 20_000
    assert limits.logins_left("k") == 200


def test_next_hour_is_the_top_of_the_following_utc_hour() -> None:
    assert next_hour(LAST_SECOND) == datetime(2030, 1, 1, 11, tzinfo=UTC)
    assert next_hour(LAST_SECOND + 1) == datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert hour_start(LAST_SECOND) == LAST_SECOND - 3599


def test_budgets_count_per_dev_key_and_return_at_the_hour() -> None:
    now = [LAST_SECOND - 10]
    limits = Limits(requests_per_hour=3, logins_per_hour=1, clock=lambda: now[0])
    assert limits.take_request("a", login=True) is None
    assert (limits.requests_left("a"), limits.logins_left("a")) == (2, 0)
    # A second login is refused, and refusing counts nothing.
    assert limits.take_request("a", login=True) == datetime(2030, 1, 1, 11, tzinfo=UTC)
    assert limits.requests_left("a") == 2
    assert limits.take_request("a") is None
    assert limits.take_request("a") is None
    assert limits.take_request("a") == limits.reset_at()
    assert limits.requests_left("a") == 0
    # Another developer key has its own budget.
    assert limits.requests_left("b") == 3
    now[0] = LAST_SECOND + 1
    assert (limits.requests_left("a"), limits.logins_left("a")) == (3, 1)
    assert limits.reset_at() == datetime(2030, 1, 1, 12, tzinfo=UTC)


def test_bill_refusal_spends_the_budget() -> None:
    limits = Limits(clock=lambda: LAST_SECOND)
    assert limits.exhaust("a") == datetime(2030, 1, 1, 11, tzinfo=UTC)
    assert limits.requests_left("a") == 0
    assert limits.logins_left("a") == 200
    limits.exhaust("a", login=True)
    assert limits.logins_left("a") == 0


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        Limits(max_in_flight=0)


def test_repr_shows_no_keys() -> None:
    limits = Limits()
    limits.take_request("secret-dev-key")
    assert "secret-dev-key" not in repr(limits)


async def test_slots_are_per_dev_key_and_organization() -> None:
    limits = Limits()
    holders: list[asyncio.Task[None]] = []
    release = asyncio.Event()

    async def hold(key: str, org: str) -> None:
        async with limits.slot(key, org):
            await release.wait()

    for _ in range(5):
        holders.append(asyncio.create_task(hold("k", "org1")))
    holders.append(asyncio.create_task(hold("k", "org2")))
    holders.append(asyncio.create_task(hold("k2", "org1")))
    await asyncio.sleep(0)
    assert limits.in_flight("k", "org1") == 3
    assert limits.in_flight("k", "org2") == 1
    assert limits.in_flight("k2", "org1") == 1
    release.set()
    await asyncio.gather(*holders)
    assert limits.in_flight("k", "org1") == 0
