"""BILL's sandbox and production gateways, with an overridable root for the simulator or a proxy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

from billbridge.errors import ValidationError

EnvironmentName = Literal["sandbox", "production"]

_GATEWAYS: dict[str, str] = {
    "sandbox": "https://gateway.stage.bill.com",
    "production": "https://gateway.prod.bill.com",
}


@dataclass(frozen=True, slots=True)
class Environment:
    """One BILL environment: its name and the gateway root every API lives under.

    The AP/AR API is ``{gateway}/connect/v3/...`` (Spend & Expense under ``/connect/v3/spend``)
    and webhooks ("Connect Events") are ``{gateway}/connect-events/v3/...``.
    """

    name: EnvironmentName
    gateway: str

    @property
    def api_base(self) -> str:
        """Root of the AP/AR and Spend & Expense API (paths start with ``/v3/``)."""
        return self.gateway + "/connect"

    @property
    def events_base(self) -> str:
        """Root of the Connect Events (webhook subscriptions) API."""
        return self.gateway + "/connect-events"

    @property
    def spend_base(self) -> str:
        """Root of the Spend & Expense API (``apiToken`` auth)."""
        return self.api_base + "/v3/spend"


SANDBOX = Environment("sandbox", _GATEWAYS["sandbox"])
PRODUCTION = Environment("production", _GATEWAYS["production"])


def environment(name: str, gateway: str | None = None) -> Environment:
    """Return the named environment, optionally pointed at another gateway root.

    Args:
        name: ``"sandbox"`` or ``"production"``; credentials of one are refused by the other.
        gateway: a root such as ``http://127.0.0.1:8111`` (the simulator) to use instead of BILL's.

    Raises:
        ValidationError: for an unknown name or a gateway that is not an http(s) URL.
    """
    if name not in get_args(EnvironmentName):
        raise ValidationError(
            f"unknown BILL environment {name!r}; use 'sandbox' or 'production'", field="environment"
        )
    root = _GATEWAYS[name] if gateway is None else gateway.strip().rstrip("/")
    if not root.startswith(("http://", "https://")) or "?" in root or "#" in root:
        raise ValidationError(
            "the BILL gateway must be an http(s) URL without query or fragment, "
            "e.g. https://gateway.stage.bill.com",
            field="gateway",
        )
    for suffix in ("/connect", "/connect-events"):
        # A root given with the API suffix would double it in every URL.
        if root.endswith(suffix):
            root = root[: -len(suffix)]
    return Environment(cast(EnvironmentName, name), root)
