"""The built-in integrations, ``bill`` (production) and ``bill-sandbox`` (sandbox), as in Nango."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from billbridge.bill import Environment, environment
from billbridge.errors import NotFoundError
from billbridge.settings import Settings

EnvironmentName = Literal["sandbox", "production"]

PRODUCTION_KEY = "bill"
SANDBOX_KEY = "bill-sandbox"


@dataclass(frozen=True, kw_only=True)
class Integration:
    """One configured BILL integration (a provider config key bound to one gateway).

    Attributes:
        unique_key: The provider config key callers send (``bill`` or ``bill-sandbox``).
        provider: Always ``bill``.
        display_name: Human name, as Nango's providers.yaml spells it.
        environment: Which BILL world the gateway belongs to.
        gateway: Gateway root without trailing slash, e.g. ``https://gateway.stage.bill.com``.
        sync_defaults: Which syncs its new connections start and how often, as
            ``BILLBRIDGE_SYNC_DEFAULTS`` writes it (``BILLBRIDGE_BILL_SYNC_DEFAULTS`` or
            ``BILLBRIDGE_BILL_SANDBOX_SYNC_DEFAULTS`` if set, else the global setting).
    """

    unique_key: str
    provider: str = "bill"
    display_name: str
    environment: EnvironmentName
    gateway: str
    sync_defaults: str = "all"

    @property
    def bill_environment(self) -> Environment:
        """The client's view of this integration's gateway."""
        return environment(self.environment, self.gateway)

    @property
    def api_base(self) -> str:
        """Base URL of BILL's v3 API (the proxy's upstream root)."""
        return self.gateway + "/connect"


def integrations_from_settings(settings: Settings) -> dict[str, Integration]:
    """Build the built-in integrations, with gateways from settings.

    Args:
        settings: Supplies ``bill_production_url`` and ``bill_sandbox_url`` (gateway roots), and
            the syncs each integration's new connections start.

    Returns:
        ``{"bill": ..., "bill-sandbox": ...}``.
    """
    return {
        PRODUCTION_KEY: Integration(
            unique_key=PRODUCTION_KEY,
            display_name="Bill (Connect API)",
            environment="production",
            gateway=_gateway(str(settings.bill_production_url)),
            sync_defaults=_or_global(settings.bill_sync_defaults, settings),
        ),
        SANDBOX_KEY: Integration(
            unique_key=SANDBOX_KEY,
            display_name="Bill (Connect API Sandbox)",
            environment="sandbox",
            gateway=_gateway(str(settings.bill_sandbox_url)),
            sync_defaults=_or_global(settings.bill_sandbox_sync_defaults, settings),
        ),
    }


def get_integration(integrations: Mapping[str, Integration], key: str) -> Integration:
    """Look an integration up by its key.

    Raises:
        NotFoundError: ``unknown_provider_config`` when the key is not configured.
    """
    integration = integrations.get(key)
    if integration is None:
        raise unknown_integration(key)
    return integration


def unknown_integration(key: str) -> NotFoundError:
    """The error for a provider config key that names no configured integration."""
    return NotFoundError(
        f"No integration is configured under the key {key!r}; use 'bill' or 'bill-sandbox'.",
        code="unknown_provider_config",
    )


def _or_global(sync_defaults: str | None, settings: Settings) -> str:
    return settings.sync_defaults if sync_defaults is None else sync_defaults


def _gateway(url: str) -> str:
    # Settings accept the root with or without a trailing slash (pydantic adds one to bare hosts);
    # a configured "/connect" suffix is tolerated because it is what Nango calls the base URL.
    root = url.rstrip("/")
    if root.endswith("/connect"):
        root = root[: -len("/connect")]
    return root
