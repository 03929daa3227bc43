"""The sync test harness: the in-process simulator, a store, the BILL clients, keeper and DBOS engine."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from dbos import DBOS

from billbridge.bill import HttpxTransport, Limits
from billbridge.connections import BillClients, Proxy, SessionKeeper
from billbridge.store import Connection, ConnectionRepository, Database, Keyring
from billbridge.store.records import RecordRepository
from billbridge.store.sync_state import SyncStateRepository
from billbridge.sync import DbosOptions, PageFetcher, StepContext, SyncEngine, SyncPlan, get_sync
from billbridge.sync.definitions import SyncDefinition
from connections.keeper_harness import (
    SIM_GATEWAY,
    OffsetClock,
    integrations,
    link_connection,
    world_credentials,
)


def sim_family(definition: SyncDefinition) -> tuple[str, str]:
    """The simulator's (space, family) of a sync: ``/v3/spend/cards`` -> (spend, cards)."""
    path = definition.path.removeprefix("/v3/")
    if path.startswith("spend/"):
        return "spend", path.removeprefix("spend/")
    return "v3", path


class SyncHarness:
    """A simulator, a store, BILL clients, a keeper and a DBOS sync engine on one clock."""

    def __init__(
        self,
        *,
        app: Any,
        database: Database,
        keyring: Keyring,
        dbos_url: str,
        dbos_schema: str = "dbos",
        windows: int = 6,
        max_retries: int = 4,
        timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.database = database
        self.clock = OffsetClock()
        # BILL's hourly budgets counted on the simulated clock, so a moved clock ends a pause.
        limits = Limits(clock=lambda: self.clock().timestamp())
        self.sim = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SIM_GATEWAY)
        self.repo = ConnectionRepository(database, keyring, clock=self.clock)
        self.clients = BillClients(
            integrations(),
            transport_factory=lambda _: HttpxTransport(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
            ),
            limits=limits,
            max_retries=max_retries,
            timeout=timeout,
        )
        self.keeper = SessionKeeper(self.repo, self.clients, clock=self.clock)
        self.proxy = Proxy(self.keeper, self.clients)
        self.records = RecordRepository(database)
        self.states = SyncStateRepository(database, clock=self.clock)
        self.context = StepContext(
            fetcher=PageFetcher(connections=self.repo, keeper=self.keeper, clients=self.clients),
            records=self.records,
            states=self.states,
            clock=self.clock,
            windows=windows,
            pause_poll=0.05,
        )
        self.engine = SyncEngine(
            self.context,
            DbosOptions(
                system_database_url=dbos_url, polling_interval=0.05, tick_cron=None, system_schema=dbos_schema
            ),
            plan=SyncPlan.default(),
        )
        self.world: dict[str, Any] = {}

    async def start(self) -> None:
        self.world = (await self.sim.get("/_sim/world")).raise_for_status().json()
        await self.engine.start()

    async def aclose(self) -> None:
        await self.engine.stop()
        await self.keeper.aclose()
        await self.clients.aclose()
        await self.sim.aclose()

    async def link(self, connection_id: str = "conn-1", *, org_index: int = 0) -> Connection:
        return await link_connection(
            self.clients,
            self.repo,
            world_credentials(self.world, org_index),
            connection_id=connection_id,
            now=self.clock(),
        )

    async def run(self, conn: Connection, sync: str, *, full: bool = False) -> dict[str, Any]:
        """Queue one run and wait for its result."""
        [queued] = await self.engine.trigger(conn.pk, [sync], full=full)
        assert queued.new, f"a run of {sync} was already queued"
        assert queued.workflow_id is not None
        return await self.run_result(queued.workflow_id)

    async def run_result(self, workflow_id: str) -> dict[str, Any]:
        """Wait for a run to end and return its result."""
        handle = await DBOS.retrieve_workflow_async(workflow_id)
        result: dict[str, Any] = await handle.get_result()
        return result

    def org_id(self, org_index: int = 0) -> str:
        return str(self.world["organizations"][org_index]["id"])

    async def sim_objects(self, sync: str, *, org_index: int = 0) -> list[dict[str, Any]]:
        """Every record the simulator holds for a sync's list (``GET /_sim/objects``)."""
        space, family = sim_family(get_sync(sync))
        params = {"family": family, "space": space, "organization_id": self.org_id(org_index)}
        answer = (await self.sim.get("/_sim/objects", params=params)).raise_for_status().json()
        results: list[dict[str, Any]] = answer["results"]
        return results

    async def mutate(
        self, sync: str, action: str, *, org_index: int = 0, **body: Any
    ) -> list[dict[str, Any]]:
        """Change records behind billbridge's back (``POST /_sim/objects``)."""
        space, family = sim_family(get_sync(sync))
        payload = {
            "action": action,
            "family": family,
            "space": space,
            "organization_id": self.org_id(org_index),
            **body,
        }
        answer = (await self.sim.post("/_sim/objects", json=payload)).raise_for_status().json()
        results: list[dict[str, Any]] = answer["results"]
        return results

    async def stored(self, conn: Connection, sync: str) -> dict[str, dict[str, Any]]:
        """Every stored record of a sync's model by id (payload plus ``_nango_metadata``)."""
        model = get_sync(sync).model
        found: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            page = await self.records.list(conn.pk, model, cursor=cursor, limit=10_000)
            for record in page.records():
                found[str(record["id"])] = record
            cursor = page.next_cursor
            if cursor is None:
                return found

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = (await self.sim.get("/_sim/stats")).raise_for_status().json()
        return stats

    async def advance(self, seconds: float) -> None:
        (await self.sim.post("/_sim/clock/advance", json={"seconds": seconds})).raise_for_status()
        self.clock.advance(seconds)


def payloads(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stored records without Nango's metadata, for comparison with the simulator's."""
    return {rid: {k: v for k, v in r.items() if k != "_nango_metadata"} for rid, r in records.items()}


def dbos_location(database: Database, tmp_path: Path) -> dict[str, str]:
    """DBOS state beside the test's database: a SQLite file, or a fresh schema in its PostgreSQL."""
    if not database.is_postgres:
        return {"dbos_url": f"sqlite:///{tmp_path / 'dbos.sqlite'}"}
    url = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return {"dbos_url": url, "dbos_schema": f"dbos_{uuid.uuid4().hex[:12]}"}
