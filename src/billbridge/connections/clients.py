"""One BILL client per integration, all sharing one set of BILL limits and budgets."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from billbridge.bill import AiohttpTransport, BillClient, Limits, RequestLimits, Transport
from billbridge.connections.integrations import (
    Integration,
    get_integration,
    integrations_from_settings,
    unknown_integration,
)
from billbridge.settings import Settings

TransportFactory = Callable[[Integration], Transport]


class BillClients:
    """The BILL clients of this process, one per integration.

    Every client shares the same :class:`Limits`, so the per-organization in-flight limit and the
    per-developer-key hourly budgets hold across integrations and callers.
    """

    def __init__(
        self,
        settings_or_integrations: Settings | Mapping[str, Integration],
        *,
        transport_factory: TransportFactory | None = None,
        limits: RequestLimits | None = None,
        timeout: float = 30.0,
        max_retries: int = 4,
    ) -> None:
        """Build the clients.

        Args:
            settings_or_integrations: Settings (the built-in integrations are derived from them)
                or the integrations themselves.
            transport_factory: Makes the transport of each integration's client; the default is
                aiohttp, the fast choice for the proxy. Tests pass an httpx ASGI transport.
            limits: Shared limits (``limits_for_database(db)``); a new in-process set when omitted.
            timeout: Seconds before a BILL call counts as unreachable.
            max_retries: The client's own retries for safe cases (5xx, timeouts, BDC_1322).
        """
        if isinstance(settings_or_integrations, Settings):
            integrations: Mapping[str, Integration] = integrations_from_settings(settings_or_integrations)
        else:
            integrations = settings_or_integrations
        self.integrations: dict[str, Integration] = dict(integrations)
        self.limits: RequestLimits = limits if limits is not None else Limits()
        self._clients: dict[str, BillClient] = {}
        self._transports: list[Transport] = []
        for key, integration in self.integrations.items():
            transport = (
                transport_factory(integration) if transport_factory is not None else AiohttpTransport()
            )
            self._transports.append(transport)
            self._clients[key] = BillClient(
                integration.bill_environment,
                transport=transport,
                limits=self.limits,
                timeout=timeout,
                max_retries=max_retries,
            )

    def for_integration(self, key: str) -> BillClient:
        """The client of the integration ``key``.

        Raises:
            NotFoundError: ``unknown_provider_config`` for a key that is not configured.
        """
        client = self._clients.get(key)
        if client is None:
            raise unknown_integration(key)
        return client

    def integration(self, key: str) -> Integration:
        """The integration ``key`` (see :func:`get_integration`)."""
        return get_integration(self.integrations, key)

    async def aclose(self) -> None:
        """Close every client and the transports made for them."""
        for client in self._clients.values():
            await client.aclose()
        for transport in self._transports:
            await transport.aclose()
