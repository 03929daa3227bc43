"""OperationRepository on both databases."""

from __future__ import annotations

from store_samples import FakeClock

from billbridge.store import Database, OperationRepository


async def test_record_and_list_newest_first_with_filters(database: Database, clock: FakeClock) -> None:
    repo = OperationRepository(database, clock=clock)
    first = await repo.record(kind="link", outcome="ok", connection_id="c1", provider_config_key="bill")
    clock.advance(seconds=1)
    await repo.record(
        kind="login",
        outcome="invalid_credentials",
        connection_id="c1",
        provider_config_key="bill",
        detail={"code": "BDC_1101"},
    )
    clock.advance(seconds=1)
    await repo.record(kind="login", outcome="ok", connection_id="c2", provider_config_key="bill-sandbox")
    await repo.record(kind="startup", outcome="ok")

    assert first.created_at == clock.now.replace(second=0)
    assert first.detail is None
    assert first.pk > 0
    assert [o.kind for o in await repo.list()] == ["startup", "login", "login", "link"]
    assert [o.outcome for o in await repo.list(connection_id="c1")] == ["invalid_credentials", "ok"]
    assert [o.connection_id for o in await repo.list(kind="login")] == ["c2", "c1"]
    assert [o.kind for o in await repo.list(provider_config_key="bill", outcome="ok")] == ["link"]
    failed = await repo.list(outcome="invalid_credentials")
    assert failed[0].detail == {"code": "BDC_1101"}
    assert len(await repo.list(limit=2)) == 2
    assert [o.kind for o in await repo.list(limit=2, offset=3)] == ["link"]
