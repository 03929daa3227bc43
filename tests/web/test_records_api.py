"""``GET /records``: Nango's query rules and errors, paging, filters; records written by the store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from web_harness import Api

Form = Callable[..., dict[str, str]]


def vendors(start: int, stop: int, **fields: Any) -> list[dict[str, Any]]:
    return [
        {"id": f"009{n:017d}", "name": f"Vendor {n}", "archived": False, **fields} for n in range(start, stop)
    ]


@pytest.fixture
async def linked(api: Api, demo_form: Form) -> dict[str, str]:
    """A linked connection with 25 Vendor records; the headers listRecords sends for it."""
    connection_id = await api.linked(demo_form())
    conn = await api.runtime.connections.get(connection_id, "bill-sandbox")
    assert conn is not None
    await api.runtime.records.upsert_page(conn.pk, "Vendor", vendors(0, 25))
    return {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}


async def page_all(api: Api, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.client.get("/records/", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"records", "next_cursor"}
        out.extend(body["records"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out


async def test_pages_through_every_record_once_with_both_paths(api: Api, linked: dict[str, str]) -> None:
    records = await page_all(api, linked, model="Vendor", limit=10)
    assert [r["id"] for r in records] == [v["id"] for v in vendors(0, 25)]
    meta = records[0]["_nango_metadata"]
    assert set(meta) == {
        "first_seen_at",
        "last_modified_at",
        "last_action",
        "deleted_at",
        "pruned_at",
        "cursor",
    }
    assert meta["last_action"] == "ADDED"
    # Without a trailing slash too, and the default limit (100) takes everything at once.
    response = await api.client.get("/records", params={"model": "Vendor"}, headers=linked)
    assert response.status_code == 200
    assert len(response.json()["records"]) == 25
    assert response.json()["next_cursor"] is None


async def test_filter_ids_and_modified_after(api: Api, linked: dict[str, str]) -> None:
    conn = await api.runtime.connections.get(linked["Connection-Id"], "bill-sandbox")
    assert conn is not None
    mark = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await api.runtime.records.upsert_page(
        conn.pk, "Vendor", [*vendors(1, 2, name="changed"), *vendors(2, 3, archived=True)]
    )
    ids = [v["id"] for v in vendors(0, 3)]

    async def got(**params: Any) -> list[str]:
        return sorted(r["id"] for r in await page_all(api, linked, **{"model": "Vendor", **params}))

    assert await got(filter="updated") == [ids[1]]
    assert await got(filter="DELETED") == [ids[2]]
    assert await got(filter="updated,deleted") == ids[1:3]
    assert len(await got(filter="added")) == 23
    assert await got(ids=[ids[0], ids[2]]) == [ids[0], ids[2]]
    after = mark.isoformat().replace("+00:00", "Z")
    assert await got(modified_after=after) == ids[1:3]
    assert await got(delta=after) == ids[1:3]
    # Another model, or a variant that has no records: an empty page.
    assert await got(model="Bill") == []
    assert await got(variant="eu") == []
    assert len(await got(variant="base")) == 25


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "model"),
        ({"model": "vendor"}, "model"),
        ({"model": "Vendor", "limit": "0"}, "limit"),
        ({"model": "Vendor", "limit": "10001"}, "limit"),
        ({"model": "Vendor", "limit": "ten"}, "limit"),
        ({"model": "Vendor", "limit": "\uff11\uff10"}, "limit"),  # full-width digits
        ({"model": "Vendor", "limit": "²"}, "limit"),
        ({"model": "Vendor", "filter": "added,created"}, "filter"),
        ({"model": "Vendor", "modified_after": "yesterday"}, "modified_after"),
        ({"model": "Vendor", "modified_after": "2025-03-01"}, "modified_after"),
        ({"model": "Vendor", "modified_after": "2001-01-01T00:00:00Z"}, "modified_after"),
        ({"model": "Vendor", "cursor": "x" * 1001}, "cursor"),
        ({"model": "Vendor", "cursor": "not-ours"}, "cursor"),
        ({"model": "Vendor", "ids": ["x" * 257]}, "ids"),
        ({"model": "Vendor", "ids": [str(n) for n in range(101)]}, "ids"),
        ({"model": "Vendor", "variant": "a b"}, "variant"),
        ({"model": "Vendor", "page": "2"}, "page"),
        ({"model": ["Vendor", "Bill"]}, "model"),
    ],
)
async def test_bad_query_is_a_400_naming_the_field(
    api: Api, linked: dict[str, str], params: dict[str, Any], field: str
) -> None:
    response = await api.client.get("/records", params=params, headers=linked)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_query_params"
    assert field in [item["path"][0] for item in error["errors"]]
    assert error["message"]


async def test_headers_connection_and_auth(api: Api, linked: dict[str, str]) -> None:
    response = await api.client.get("/records", params={"model": "Vendor"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_headers"
    assert {e["path"][0] for e in response.json()["error"]["errors"]} == {
        "connection-id",
        "provider-config-key",
    }
    unknown = {**linked, "Connection-Id": "nope"}
    response = await api.client.get("/records", params={"model": "Vendor"}, headers=unknown)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "unknown_connection")
    other_key = {**linked, "Provider-Config-Key": "bill"}
    response = await api.client.get("/records", params={"model": "Vendor"}, headers=other_key)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "unknown_connection")
    response = await api.anon.get("/records", params={"model": "Vendor"}, headers=linked)
    assert response.status_code == 401


async def test_deleting_the_connection_deletes_its_records(api: Api, linked: dict[str, str]) -> None:
    conn = await api.runtime.connections.get(linked["Connection-Id"], "bill-sandbox")
    assert conn is not None
    response = await api.client.delete(
        f"/connections/{linked['Connection-Id']}", params={"provider_config_key": "bill-sandbox"}
    )
    assert response.status_code == 200
    assert await api.runtime.records.counts(conn.pk) == {}
