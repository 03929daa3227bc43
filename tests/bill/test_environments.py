"""Environments and their gateways."""

from __future__ import annotations

import pytest

from billbridge.bill import PRODUCTION, SANDBOX, environment
from billbridge.errors import ValidationError


def test_bill_gateways() -> None:
    assert SANDBOX.api_base == "https://gateway.stage.bill.com/connect"
    assert SANDBOX.events_base == "https://gateway.stage.bill.com/connect-events"
    assert SANDBOX.spend_base == "https://gateway.stage.bill.com/connect/v3/spend"
    assert PRODUCTION.api_base == "https://gateway.prod.bill.com/connect"
    assert environment("production") == PRODUCTION


@pytest.mark.parametrize(
    "gateway", ["http://127.0.0.1:8111", "http://127.0.0.1:8111/", "http://127.0.0.1:8111/connect"]
)
def test_gateway_override(gateway: str) -> None:
    env = environment("sandbox", gateway)
    assert env.name == "sandbox"
    assert env.api_base == "http://127.0.0.1:8111/connect"
    assert env.events_base == "http://127.0.0.1:8111/connect-events"


@pytest.mark.parametrize(
    ("name", "gateway", "field"),
    [
        ("staging", None, "environment"),
        ("sandbox", "ftp://x", "gateway"),
        ("sandbox", "http://x/?a=1", "gateway"),
    ],
)
def test_bad_environments(name: str, gateway: str | None, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        environment(name, gateway)
    assert caught.value.field == field
