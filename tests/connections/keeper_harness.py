"""The keeper and proxy test harness: the in-process simulator, a store, clients, keeper, proxy."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import event

from billbridge.bill import HttpxTransport, RequestLimits
from billbridge.connections import BillClients, Integration, Proxy, SessionKeeper, utc_now
from billbridge.store import (
    BillCredentials,
    Connection,
    ConnectionRepository,
    Database,
    Keyring,
    SessionState,
)

SIM_GATEWAY = "http://sim.test"
# Always needs an MFA-trusted session in the simulator (BILL: creating an org bank account).
PROTECTED_OPERATION: tuple[str, str, dict[str, str]] = (
    "POST",
    "/v3/funding-accounts/banks",
    {"nameOnAccount": "Northwind Traders", "routingNumber": "011000015", "accountNumber": "123456789"},
)
PRODUCTION_GATEWAY = "http://production.test"


class OffsetClock:
    """Wall time plus an offset that tests move forward, like the simulator's own clock."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class OtherProcess:
    """Another process's limits, clients, keeper and proxy, on the harness's store and simulator."""

    def __init__(self, harness: Harness, limits: RequestLimits) -> None:
        self.limits = limits
        self.clients = BillClients(
            integrations(),
            transport_factory=lambda _: HttpxTransport(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app))
            ),
            limits=limits,
            max_retries=0,
        )
        self.keeper = SessionKeeper(harness.repo, self.clients, clock=harness.clock)
        self.proxy = Proxy(self.keeper, self.clients)

    async def aclose(self) -> None:
        await self.keeper.aclose()
        await self.clients.aclose()
        await self.limits.aclose()


def integrations(gateway: str = SIM_GATEWAY) -> dict[str, Integration]:
    """``bill-sandbox`` on the simulator; ``bill`` (production) on a host no test calls."""
    return {
        "bill-sandbox": Integration(
            unique_key="bill-sandbox",
            display_name="Bill (Connect API Sandbox)",
            environment="sandbox",
            gateway=gateway,
        ),
        "bill": Integration(
            unique_key="bill",
            display_name="Bill (Connect API)",
            environment="production",
            gateway=PRODUCTION_GATEWAY,
        ),
    }


class Harness:
    """A simulator, a store, BILL clients, a keeper and a proxy wired together on one clock."""

    def __init__(
        self, *, app: Any, database: Database, keyring: Keyring, limits: RequestLimits | None = None
    ) -> None:
        self.app = app
        self.database = database
        self.clock = OffsetClock()
        self.sim = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SIM_GATEWAY)
        self.repo = ConnectionRepository(database, keyring, clock=self.clock)
        self.clients = BillClients(
            integrations(),
            transport_factory=lambda _: HttpxTransport(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
            ),
            limits=limits,
            max_retries=0,
        )
        self.keeper = SessionKeeper(self.repo, self.clients, clock=self.clock)
        self.proxy = Proxy(self.keeper, self.clients)
        self.world: dict[str, Any] = {}

    async def start(self) -> None:
        self.world = (await self.sim.get("/_sim/world")).raise_for_status().json()

    async def aclose(self) -> None:
        await self.keeper.aclose()
        await self.clients.aclose()
        await self.sim.aclose()

    def other_process(self, limits: RequestLimits) -> OtherProcess:
        """What another API process on the same store and simulator has (close it when done)."""
        return OtherProcess(self, limits)

    def new_keeper(self, **options: Any) -> SessionKeeper:
        """A second keeper on the same store: what another process would have."""
        return SessionKeeper(self.repo, self.clients, clock=self.clock, **options)

    async def advance(self, seconds: float) -> None:
        """Move simulated time on both sides."""
        (await self.sim.post("/_sim/clock/advance", json={"seconds": seconds})).raise_for_status()
        self.clock.advance(seconds)

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = (await self.sim.get("/_sim/stats")).raise_for_status().json()
        return stats

    async def logins(self) -> int:
        return int((await self.stats())["logins"])

    async def login_failures(self) -> int:
        return int((await self.stats())["login_failures"])

    def credentials(self, org_index: int = 0, *, with_api_token: bool = True) -> BillCredentials:
        return world_credentials(self.world, org_index, with_api_token=with_api_token)

    async def link(
        self,
        connection_id: str = "conn-1",
        *,
        org_index: int = 0,
        credentials: BillCredentials | None = None,
    ) -> Connection:
        """Log in as the linking flow does and store the connection with its fresh session."""
        return await link_connection(
            self.clients,
            self.repo,
            credentials or self.credentials(org_index),
            connection_id=connection_id,
            now=self.clock(),
        )


def world_credentials(
    world: dict[str, Any], org_index: int = 0, *, with_api_token: bool = True
) -> BillCredentials:
    """The first user's credentials for one organization of the simulator's world."""
    org = world["organizations"][org_index]
    user = org["users"][0]
    dev_key = next(k["key"] for k in world["dev_keys"] if org["id"] in k["organization_ids"])
    token = next((t["token"] for t in world["api_tokens"] if t["organization_id"] == org["id"]), None)
    return BillCredentials(
        username=user["username"],
        password=SecretStr(user["password"]),
        organization_id=org["id"],
        dev_key=SecretStr(dev_key),
        api_token=SecretStr(token) if with_api_token and token else None,
    )


async def link_connection(
    clients: BillClients,
    repo: ConnectionRepository,
    credentials: BillCredentials,
    *,
    connection_id: str,
    now: datetime,
) -> Connection:
    """Log in as the linking flow does and store the connection with its fresh session."""
    login = await clients.for_integration("bill-sandbox").login(
        username=credentials.username,
        password=credentials.password,
        organization_id=credentials.organization_id,
        dev_key=credentials.dev_key,
    )
    conn, _ = await repo.upsert_linked(
        connection_id=connection_id,
        provider_config_key="bill-sandbox",
        environment="sandbox",
        credentials=credentials,
        session=SessionState(
            session_id=login.session_id,
            user_id=login.user_id,
            trusted=login.trusted,
            started_at=now,
            last_used_at=now,
            raw=login.raw,
        ),
        end_user=None,
        tags={},
        webhook_url_override=None,
        connection_config={},
    )
    return conn


def set_password(harness: Harness, username: str, password: str) -> None:
    """Change a user's password at "BILL" (the in-process simulator's world, ``app.state.sim``)."""
    state = harness.app.state.sim
    world = state.world
    organizations = tuple(
        dataclasses.replace(
            org,
            users=tuple(
                dataclasses.replace(user, password=password) if user.username == username else user
                for user in org.users
            ),
        )
        for org in world.organizations
    )
    state.world = dataclasses.replace(world, organizations=organizations)


async def change_password(harness: Harness, conn: Connection) -> None:
    """The user changed their password in BILL; billbridge still holds the old one."""
    set_password(
        harness, conn.credentials.username, "changed-" + conn.credentials.password.get_secret_value()
    )


async def restore_password(harness: Harness, conn: Connection) -> None:
    set_password(harness, conn.credentials.username, conn.credentials.password.get_secret_value())


@contextmanager
def count_statements(database: Database) -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block."""
    seen: list[str] = []

    def listener(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", listener)
