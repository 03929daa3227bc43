"""Sync state store: creation, runs, schedule, checkpoints saved with record pages, frequencies."""

from __future__ import annotations

import pytest
from store_samples import T0, FakeClock, link

from billbridge.errors import NotFoundError, ValidationError
from billbridge.store import ConnectionRepository, Database
from billbridge.store.records import RecordRepository
from billbridge.store.sync_frequency import parse_frequency
from billbridge.store.sync_state import SyncCheckpoint, SyncResult, SyncStateRepository


@pytest.fixture
def syncs(database: Database, clock: FakeClock) -> SyncStateRepository:
    return SyncStateRepository(database, clock=clock)


@pytest.fixture
async def conn_pk(connections: ConnectionRepository) -> int:
    connection, _ = await link(connections)
    return connection.pk


async def test_ensure_creates_once_and_keeps_what_changed(syncs: SyncStateRepository, conn_pk: int) -> None:
    state = await syncs.ensure(
        conn_pk, "vendors", model="Vendor", frequency="every 60 minutes", frequency_seconds=3600
    )
    assert state.connection_id == "conn-1"
    assert state.provider_config_key == "bill-sandbox"
    assert (state.status, state.reported_status, state.sync_type) == ("SUCCESS", "SUCCESS", "INITIAL")
    assert state.enabled
    assert state.latest_result is None
    assert state.checkpoint is None
    assert await syncs.set_frequency(conn_pk, "vendors", "every 2h", 7200) == 1
    again = await syncs.ensure(
        conn_pk, "vendors", model="Vendor", frequency="every 60 minutes", frequency_seconds=3600
    )
    assert (again.frequency, again.frequency_seconds) == ("every 2h", 7200)
    with pytest.raises(NotFoundError):
        await syncs.ensure(
            conn_pk + 99, "vendors", model="Vendor", frequency="every 1h", frequency_seconds=3600
        )


async def test_run_lifecycle_and_reported_status(
    syncs: SyncStateRepository, conn_pk: int, clock: FakeClock
) -> None:
    await syncs.ensure(conn_pk, "bills", model="Bill", frequency="every 1h", frequency_seconds=3600)
    await syncs.run_started(conn_pk, "bills", run_id="wf-1", sync_type="INITIAL")
    running = await syncs.get(conn_pk, "bills")
    assert running is not None
    assert running.reported_status == "RUNNING"
    assert running.run_id == "wf-1"
    assert running.started_at == T0
    # Pausing while running still reports RUNNING (Nango's order), then PAUSED.
    await syncs.set_enabled(conn_pk, ["bills"], enabled=False)
    clock.advance(minutes=2)
    await syncs.run_finished(
        conn_pk, "bills", status="SUCCESS", result=SyncResult(added=3), next_scheduled_at=clock.now
    )
    done = await syncs.get(conn_pk, "bills")
    assert done is not None
    assert (done.status, done.reported_status) == ("SUCCESS", "PAUSED")
    assert done.latest_result == SyncResult(added=3)
    assert done.finished_at == clock.now
    await syncs.set_enabled(conn_pk, ["bills"], enabled=True)
    await syncs.run_started(conn_pk, "bills", run_id="wf-2", sync_type="INCREMENTAL")
    await syncs.run_finished(conn_pk, "bills", status="ERROR", error="BILL answered 503 three times")
    failed = await syncs.get(conn_pk, "bills")
    assert failed is not None
    assert (failed.reported_status, failed.sync_type) == ("ERROR", "INCREMENTAL")
    assert failed.last_error == "BILL answered 503 three times"
    assert failed.latest_result == SyncResult(added=3)  # the last result stays
    await syncs.run_finished(conn_pk, "bills", status="SUCCESS", result=SyncResult(updated=1))
    ok = await syncs.get(conn_pk, "bills")
    assert ok is not None
    assert ok.last_error is None


async def test_checkpoint_is_saved_with_the_page(
    syncs: SyncStateRepository, database: Database, clock: FakeClock, conn_pk: int
) -> None:
    records = RecordRepository(database, clock=clock)
    await syncs.ensure(conn_pk, "vendors", model="Vendor", frequency="every 1h", frequency_seconds=3600)
    checkpoint = SyncCheckpoint("vendors", {"updatedTime": "2025-03-01T10:00:00.000+00:00", "ids": ["0091"]})
    await records.upsert_page(conn_pk, "Vendor", [{"id": "0091"}], checkpoint=checkpoint)
    state = await syncs.get(conn_pk, "vendors")
    assert state is not None
    assert state.checkpoint == checkpoint.value
    # A checkpoint for an unknown sync rolls the page back with it.
    with pytest.raises(NotFoundError):
        await records.upsert_page(conn_pk, "Vendor", [{"id": "0092"}], checkpoint=SyncCheckpoint("nope", {}))
    assert await records.counts(conn_pk) == {"Vendor": 1}
    await syncs.reset(conn_pk, "vendors")
    reset = await syncs.get(conn_pk, "vendors")
    assert reset is not None
    assert reset.checkpoint is None


async def test_listing_filters_and_connection_delete(
    syncs: SyncStateRepository, connections: ConnectionRepository, conn_pk: int
) -> None:
    other, _ = await link(connections, "conn-2", provider_config_key="bill", tag="b")
    for pk in (conn_pk, other.pk):
        for name, model in (("vendors", "Vendor"), ("bills", "Bill")):
            await syncs.ensure(pk, name, model=model, frequency="every 1h", frequency_seconds=3600)
    assert [(s.connection_id, s.name) for s in await syncs.list()] == [
        ("conn-1", "bills"),
        ("conn-1", "vendors"),
        ("conn-2", "bills"),
        ("conn-2", "vendors"),
    ]
    assert [s.name for s in await syncs.list(provider_config_key="bill", names=["vendors"])] == ["vendors"]
    assert await syncs.delete_connection_syncs(conn_pk) == 2
    await connections.delete(other.pk)
    assert await syncs.list() == []


@pytest.mark.parametrize(
    ("text", "interval", "seconds"),
    [
        ("every 1h", "1h", 3600),
        ("every 30 minutes", "30m", 1800),
        ("every day", "1d", 86400),
        ("every half hour", "30m", 1800),
        ("2 hours", "2h", 7200),
        ("every 45s", "45s", 45),
        ("every week", "1w", 604800),
    ],
)
def test_frequencies_nango_accepts(text: str, interval: str, seconds: int) -> None:
    parsed = parse_frequency(text)
    assert (parsed.interval, parsed.seconds) == (interval, seconds)


@pytest.mark.parametrize("text", ["every 10s", "hourly", "every -1h", "every 1 fortnight", ""])
def test_frequencies_refused(text: str) -> None:
    with pytest.raises(ValidationError) as bad:
        parse_frequency(text)
    assert bad.value.field == "frequency"
