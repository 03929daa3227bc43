"""How aiohttp's exceptions become BillTransportError: the order of the checks matters, because a
connect timeout is also a TimeoutError but proves nothing was sent (so even a create may be retried)."""

from __future__ import annotations

import aiohttp
import pytest

from billbridge.bill.aiohttp_transport import _FAILURES
from billbridge.errors import BillTransportError


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (aiohttp.ConnectionTimeoutError(), "bill_unreachable"),
        (aiohttp.ServerTimeoutError(), "bill_timeout"),
        (TimeoutError(), "bill_timeout"),
        (aiohttp.ServerDisconnectedError(), "bill_connection_lost"),
        (aiohttp.ClientPayloadError("cut"), "bill_connection_lost"),
    ],
)
def test_each_failure_maps_to_what_it_proves(exc: BaseException, code: str) -> None:
    assert isinstance(exc, _FAILURES.caught)
    error = _FAILURES.translate(exc, 2.5)
    assert isinstance(error, BillTransportError)
    assert error.code == code


def test_a_connect_timeout_is_a_timeout_too() -> None:
    # The reason the not-sent check comes first.
    assert isinstance(aiohttp.ConnectionTimeoutError(), TimeoutError)
