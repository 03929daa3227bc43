"""Records store: pages diffed and written once, archive/restore, full refresh, cursor paging."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from store_samples import FakeClock, link

from billbridge.errors import NotFoundError, ValidationError
from billbridge.store import ConnectionRepository, Database
from billbridge.store.record_pages import decode_cursor
from billbridge.store.records import PageCounts, RecordRepository
from billbridge.store.walks import WalkPosition


def vendor(
    n: int, *, name: str | None = None, archived: bool = False, updated: str = "2025-03-01T10:00:00.000+00:00"
) -> dict[str, Any]:
    return {
        "id": f"009{n:017d}",
        "name": name or f"Vendor {n}",
        "archived": archived,
        "updatedTime": updated,
    }


@pytest.fixture
def records(database: Database, clock: FakeClock) -> RecordRepository:
    return RecordRepository(database, clock=clock)


@pytest.fixture
async def conn_pk(connections: ConnectionRepository) -> int:
    connection, _ = await link(connections)
    return connection.pk


async def all_records(
    records: RecordRepository, pk: int, model: str = "Vendor", *, cursor: str | None = None, **kw: Any
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = await records.list(pk, model, cursor=cursor, **kw)
        out.extend(page.records())
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


async def test_first_page_adds_and_the_same_page_again_changes_nothing(
    records: RecordRepository, conn_pk: int, clock: FakeClock
) -> None:
    page = [vendor(n) for n in range(5)]
    assert await records.upsert_page(conn_pk, "Vendor", page) == PageCounts(added=5)
    first = await all_records(records, conn_pk)
    clock.advance(minutes=5)
    assert await records.upsert_page(conn_pk, "Vendor", page) == PageCounts(unchanged=5)
    assert await all_records(records, conn_pk) == first
    assert [r["id"] for r in first] == [v["id"] for v in page]
    meta = first[0]["_nango_metadata"]
    assert meta["last_action"] == "ADDED"
    assert meta["first_seen_at"] == meta["last_modified_at"] == "2025-03-01T12:00:00+00:00"
    assert meta["deleted_at"] is None
    assert meta["pruned_at"] is None
    assert first[0]["name"] == "Vendor 0"
    assert await records.counts(conn_pk) == {"Vendor": 5}


async def test_change_archive_restore_cycle(
    records: RecordRepository, conn_pk: int, clock: FakeClock
) -> None:
    await records.upsert_page(conn_pk, "Vendor", [vendor(1), vendor(2)])
    clock.advance(minutes=1)
    counts = await records.upsert_page(
        conn_pk, "Vendor", [vendor(1, name="Renamed", updated="2025-03-01T11:00:00.000+00:00")]
    )
    assert counts == PageCounts(updated=1)
    clock.advance(minutes=1)
    archived = vendor(2, archived=True, updated="2025-03-01T11:30:00.000+00:00")
    assert await records.upsert_page(conn_pk, "Vendor", [archived]) == PageCounts(deleted=1)
    stored = {r["id"]: r for r in await all_records(records, conn_pk)}
    gone = stored[archived["id"]]
    assert gone["_nango_metadata"]["last_action"] == "DELETED"
    assert gone["_nango_metadata"]["deleted_at"] == "2025-03-01T12:02:00+00:00"
    assert gone["archived"] is True
    assert gone["name"] == "Vendor 2"
    assert stored[vendor(1)["id"]]["name"] == "Renamed"
    assert stored[vendor(1)["id"]]["_nango_metadata"]["first_seen_at"] == "2025-03-01T12:00:00+00:00"
    # Oldest change first: the archived one was changed last.
    assert [r["id"] for r in await all_records(records, conn_pk)][-1] == archived["id"]

    clock.advance(minutes=1)
    restored = vendor(2, updated="2025-03-01T11:45:00.000+00:00")
    assert await records.upsert_page(conn_pk, "Vendor", [restored]) == PageCounts(updated=1)
    back = {r["id"]: r for r in await all_records(records, conn_pk)}[restored["id"]]
    assert back["_nango_metadata"]["last_action"] == "UPDATED"
    assert back["_nango_metadata"]["deleted_at"] is None
    assert await records.counts(conn_pk) == {"Vendor": 2}


async def test_an_older_copy_never_overwrites_a_newer_one(records: RecordRepository, conn_pk: int) -> None:
    await records.upsert_page(conn_pk, "Vendor", [vendor(1, name="New", updated="2025-03-01T11:00:00Z")])
    counts = await records.upsert_page(
        conn_pk, "Vendor", [vendor(1, name="Old", updated="2025-03-01T10:00:00Z")]
    )
    assert counts == PageCounts(unchanged=1)
    assert (await all_records(records, conn_pk))[0]["name"] == "New"
    # Within one page the later change wins whatever the order.
    page = [
        vendor(3, name="B", updated="2025-03-01T11:00:00Z"),
        vendor(3, name="A", updated="2025-03-01T10:00:00Z"),
    ]
    assert await records.upsert_page(conn_pk, "Vendor", page) == PageCounts(added=1)
    assert {r["name"] for r in await all_records(records, conn_pk)} == {"New", "B"}


async def test_first_seen_archived_is_stored_deleted(records: RecordRepository, conn_pk: int) -> None:
    assert await records.upsert_page(conn_pk, "Vendor", [vendor(1, archived=True)]) == PageCounts(deleted=1)
    (only,) = await all_records(records, conn_pk)
    assert only["_nango_metadata"]["last_action"] == "DELETED"


async def test_full_refresh_marks_what_the_run_did_not_see(
    records: RecordRepository, conn_pk: int, clock: FakeClock
) -> None:
    await records.upsert_page(conn_pk, "Vendor", [vendor(n) for n in range(10)])
    clock.advance(minutes=1)
    # The run sees 0-3 unchanged, 4 changed, and not 5-9.
    await records.upsert_page(conn_pk, "Vendor", [vendor(n) for n in range(4)], run_id="run-2")
    await records.upsert_page(conn_pk, "Vendor", [vendor(4, name="x")], run_id="run-2")
    assert await records.mark_missing_deleted(conn_pk, "Vendor", "run-2", batch=2) == 5
    actions = {r["id"]: r["_nango_metadata"]["last_action"] for r in await all_records(records, conn_pk)}
    assert [actions[vendor(n)["id"]] for n in range(10)] == ["ADDED"] * 4 + ["UPDATED"] + ["DELETED"] * 5
    assert await records.mark_missing_deleted(conn_pk, "Vendor", "run-2") == 0
    assert await records.mark_missing_deleted(conn_pk, "Bill", "run-2") == 0


async def test_cursor_pages_cover_everything_once_in_change_order(
    records: RecordRepository, conn_pk: int, clock: FakeClock
) -> None:
    for start in range(0, 50, 10):
        await records.upsert_page(conn_pk, "Vendor", [vendor(n) for n in range(start, start + 10)])
        # Same clock for several pages: seq keeps them apart.
        if start % 20:
            clock.advance(seconds=1)
    seen: list[str] = []
    cursor = None
    while True:
        page = await records.list(conn_pk, "Vendor", cursor=cursor, limit=7)
        seen.extend(r["id"] for r in page.records())
        if page.next_cursor is None:
            break
        # A record's own cursor is the same position as next_cursor.
        assert page.records()[-1]["_nango_metadata"]["cursor"] == page.next_cursor
        cursor = page.next_cursor
    assert seen == [vendor(n)["id"] for n in range(50)]
    # A change made while paging shows up after the cursor already handed out.
    first = await records.list(conn_pk, "Vendor", limit=10)
    await records.upsert_page(conn_pk, "Vendor", [vendor(0, name="changed")])
    rest = await all_records(records, conn_pk, cursor=first.next_cursor)
    assert rest[-1]["id"] == vendor(0)["id"]
    assert rest[-1]["name"] == "changed"


async def test_filters_modified_after_and_ids(
    records: RecordRepository, conn_pk: int, clock: FakeClock
) -> None:
    await records.upsert_page(conn_pk, "Vendor", [vendor(n) for n in range(4)])
    clock.advance(hours=1)
    later = clock.now
    await records.upsert_page(conn_pk, "Vendor", [vendor(1, name="u"), vendor(2, archived=True)])

    def ids(rows: list[dict[str, Any]]) -> list[str]:
        return sorted(r["id"] for r in rows)

    v = [vendor(n)["id"] for n in range(4)]
    assert ids(await all_records(records, conn_pk, actions=["added"])) == [v[0], v[3]]
    assert ids(await all_records(records, conn_pk, actions=["UPDATED"])) == [v[1]]
    assert ids(await all_records(records, conn_pk, actions=["deleted"])) == [v[2]]
    assert ids(await all_records(records, conn_pk, actions=["updated", "deleted"])) == [v[1], v[2]]
    assert ids(await all_records(records, conn_pk, actions=["added", "deleted"])) == [v[0], v[2], v[3]]
    assert ids(await all_records(records, conn_pk, actions=["added", "updated", "deleted"])) == v
    assert ids(await all_records(records, conn_pk, modified_after=later)) == [v[1], v[2]]
    assert ids(await all_records(records, conn_pk, ids=[v[3], "nope\x00"])) == [v[3]]
    assert await all_records(records, conn_pk, model="Bill") == []
    with pytest.raises(ValidationError) as bad:
        await records.list(conn_pk, "Vendor", actions=["created"])
    assert bad.value.field == "filter"


@pytest.mark.parametrize(
    "cursor",
    # Garbage, a truncated one of ours, an unknown version, and a cursor from Nango itself.
    [
        "x",
        "!!!!",
        "cjE6MQ",
        "cjI6MToy",
        "MjAyNS0wMy0wMVQxMjowMDowMC4wMDBafHw3ZDFjMWY0ZS04YTU1LTRiN2EtOWYwYi0yYjlmM2QwYzFhMTE=",
    ],
)
async def test_foreign_cursors_are_refused(records: RecordRepository, conn_pk: int, cursor: str) -> None:
    with pytest.raises(ValidationError) as bad:
        await records.list(conn_pk, "Vendor", cursor=cursor)
    assert bad.value.field == "cursor"


async def test_bad_records_are_refused_and_nothing_is_written(
    records: RecordRepository, conn_pk: int
) -> None:
    with pytest.raises(ValidationError):
        await records.upsert_page(conn_pk, "Vendor", [vendor(1), {"name": "no id"}])
    with pytest.raises(ValidationError):
        await records.upsert_page(conn_pk, "Vendor", [{"id": "1", "when": object()}])
    assert await records.counts(conn_pk) == {}
    with pytest.raises(NotFoundError):
        await records.upsert_page(conn_pk + 999, "Vendor", [vendor(1)])


async def test_payload_id_is_the_external_id_and_metadata_is_ours(
    records: RecordRepository, conn_pk: int
) -> None:
    await records.upsert_page(
        conn_pk, "Item", [{"itemId": 42, "name": "ü", "_nango_metadata": {"forged": True}}], id_field="itemId"
    )
    (item,) = await all_records(records, conn_pk, model="Item")
    assert item["id"] == "42"
    assert item["itemId"] == 42
    assert item["name"] == "ü"
    assert "forged" not in item["_nango_metadata"]


async def test_deleting_the_connection_deletes_its_records(
    records: RecordRepository, connections: ConnectionRepository, conn_pk: int
) -> None:
    other, _ = await link(connections, "conn-2", tag="b")
    await records.upsert_page(conn_pk, "Vendor", [vendor(1), vendor(2)])
    await records.upsert_page(conn_pk, "Bill", [{"id": "00n1"}])
    await records.upsert_page(other.pk, "Vendor", [vendor(1)])
    assert await records.delete_connection_records(conn_pk) == 3
    assert await records.counts(conn_pk) == {}
    assert await records.counts(other.pk) == {"Vendor": 1}
    # The foreign keys cascade too: deleting the connection row leaves nothing behind.
    await connections.delete(other.pk)
    assert await records.counts(other.pk) == {}
    assert await all_records(records, other.pk) == []


async def test_concurrent_pages_with_one_record_keep_the_newer_copy(
    records: RecordRepository, conn_pk: int
) -> None:
    # Both pages may read "not stored" before either writes; the write itself refuses the older copy.
    for attempt in range(5):
        n = 100 + attempt
        old = vendor(n, name="Old", updated="2025-03-01T10:00:00Z")
        new = vendor(n, name="New", updated="2025-03-01T11:00:00Z")
        await asyncio.gather(
            records.upsert_page(conn_pk, "Vendor", [old]), records.upsert_page(conn_pk, "Vendor", [new])
        )
        (stored,) = await all_records(records, conn_pk, ids=[new["id"]])
        assert stored["name"] == "New"
    # Each record counted once, whichever page inserted it.
    assert await records.counts(conn_pk) == {"Vendor": 5}


async def test_emptying_one_model_keeps_the_others(records: RecordRepository, conn_pk: int) -> None:
    await records.upsert_page(conn_pk, "Vendor", [vendor(1), vendor(2)])
    await records.upsert_page(conn_pk, "Bill", [{"id": "00n1"}])
    last_cursor = (await all_records(records, conn_pk))[-1]["_nango_metadata"]["cursor"]
    assert await records.delete_model_records(conn_pk, "Vendor") == 2
    assert await records.counts(conn_pk) == {"Vendor": 0, "Bill": 1}
    assert await all_records(records, conn_pk) == []
    # Written again from scratch (same clock): ADDED, and after every cursor handed out before.
    assert await records.upsert_page(conn_pk, "Vendor", [vendor(1)]) == PageCounts(added=1)
    (again,) = await all_records(records, conn_pk, cursor=last_cursor)
    assert decode_cursor(again["_nango_metadata"]["cursor"]) > decode_cursor(last_cursor)


async def test_a_page_saves_its_walk_position_with_its_changes(
    records: RecordRepository, conn_pk: int
) -> None:
    before = WalkPosition("walk-1", "run-1", step=3, next={"since": "a"}, records=2, pages=1)
    before = before.after(2, 0, 0)
    following = replace(before, next={"since": "b"}, high="h", records=5, pages=2)
    page = [vendor(1), vendor(2, archived=True), vendor(3)]
    assert await records.upsert_page(conn_pk, "Vendor", page, run_id="run-1", walk=following) == PageCounts(
        added=2, deleted=1
    )
    saved = await records.walk("walk-1")
    assert saved == replace(following, counts={"added": 4, "updated": 0, "deleted": 1})
    # A refused page moves nothing, its walk position included.
    with pytest.raises(ValidationError):
        await records.upsert_page(conn_pk, "Vendor", [{"name": "no id"}], walk=replace(following, pages=3))
    assert await records.walk("walk-1") == saved
    await records.forget_walks("run-2")
    assert await records.walk("walk-1") == saved
    await records.forget_walks("run-1")
    assert await records.walk("walk-1") is None
