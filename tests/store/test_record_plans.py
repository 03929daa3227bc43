"""PostgreSQL plans of the page writer's read: one primary-key probe per id, even when the table's
statistics are stale, as they are all through a large first run (the table grows faster than
autovacuum analyzes it)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg import sql
from store_samples import FakeClock, link

from billbridge.store import ConnectionRepository, Database
from billbridge.store.record_write import STORED
from billbridge.store.records import RecordRepository
from fixtures_db import libpq_dsn

pytestmark = pytest.mark.postgres

PAGES = 40


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    return postgres_database_url


def vendors(page: int) -> list[dict[str, Any]]:
    # Ids in no order, as BILL's are: every page lands all over the primary key.
    return [
        {"id": f"009{(n * 7919) % 100_003:017d}", "name": f"V{n}", "updatedTime": "2025-03-01T10:00:00Z"}
        for n in range(page * 100, (page + 1) * 100)
    ]


def prepared(statement: str, names: list[str]) -> str:
    """``statement`` with its named parameters as ``$1``, ``$2``, ... in the order of ``names``."""
    for number, name in enumerate(names, start=1):
        statement = statement.replace(f"%({name})s", f"${number}")
    return statement


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(plan_nodes(child))
    return nodes


@pytest.mark.parametrize("plan_cache_mode", ["force_custom_plan", "force_generic_plan"])
async def test_the_read_probes_the_primary_key_whatever_the_statistics(
    database: Database, connections: ConnectionRepository, clock: FakeClock, plan_cache_mode: str
) -> None:
    connection, _ = await link(connections)
    records = RecordRepository(database, clock=clock)
    dsn = libpq_dsn(database.url)
    with psycopg.connect(dsn, autocommit=True) as admin:
        # Statistics taken while the stream is small, then many pages without a new ANALYZE.
        admin.execute("ALTER TABLE records SET (autovacuum_enabled = false)")
        try:
            await records.upsert_page(connection.pk, "Vendor", vendors(0)[:5])
            admin.execute("ANALYZE records")
            for page in range(1, PAGES):
                await records.upsert_page(connection.pk, "Vendor", vendors(page))
            ids = [record["id"] for record in vendors(PAGES // 2)] + ["missing"]
            with psycopg.connect(dsn) as conn:
                conn.execute(f"SET plan_cache_mode = {plan_cache_mode}")
                params = {"connection_pk": connection.pk, "model": "Vendor", "ids": ids}
                assert len(conn.execute(STORED, params).fetchall()) == 100
                statement = prepared(STORED, ["ids", "connection_pk", "model"])
                conn.execute(f"PREPARE stored(text[], bigint, text) AS {statement}")
                # EXPLAIN takes no bound parameters: the values go in as literals.
                explain = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE stored({}, {}, {})").format(
                    sql.Literal(ids), sql.Literal(connection.pk), sql.Literal("Vendor")
                )
                (explained,) = conn.execute(explain).fetchone()  # type: ignore[misc]
        finally:
            admin.execute("ALTER TABLE records RESET (autovacuum_enabled)")
    top = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    on_records = [node for node in plan_nodes(top) if node.get("Relation Name") == "records"]
    assert on_records, top
    # Each id looked up in the primary key; nothing reads the stream's other rows.
    assert all(node["Index Name"] == "pk_records" for node in on_records if "Index Name" in node), on_records
    assert all(node["Node Type"] in {"Index Scan", "Index Only Scan"} for node in on_records), on_records
    assert all(node["Actual Loops"] == len(ids) for node in on_records), on_records
    assert all(node["Actual Rows"] <= 1 for node in on_records), on_records
