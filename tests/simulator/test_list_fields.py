"""Every list against its row of the simulator's table of BILL's filterable and sortable fields:
each listed field and operator is accepted and filters/sorts as plain Python would, every other
operator is refused with BDC_1131, unlisted fields with BDC_1130 (filters) or BDC_1129 (sorts)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from billbridge.simulator import SimConfig
from billbridge.simulator.families.base import ALL_OPS, FieldRule
from billbridge.simulator.families.lists import DOCS, LISTS, SPEND_LISTS
from support.filters import matches

from .support import error_code, sign_in

Get = Callable[..., Awaitable[httpx.Response]]
CASES = [("v3", path, lists) for path, lists in LISTS.items()] + [
    ("spend", path, lists) for path, lists in SPEND_LISTS.items()
]
FILTER_CASES = [(space, path, field) for space, path, lists in CASES for field in lists.filters]
SORT_CASES = [(space, path, field) for space, path, lists in CASES for field in lists.sorts]
SAMPLE = {"num": "1", "bool": "false", "date": "2025-01-01", "datetime": "2025-01-01T00:00:00.000Z"}


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=40, seed=21, organizations=1)


@pytest.fixture
async def get(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> Get:
    """``get(space, path, **params)``: one list call, signed in as that space wants."""
    demo = await sign_in(sim_http, sim_world)
    spend = {"apiToken": sim_world["api_tokens"][0]["token"]}

    budgets = (await sim_http.get("/connect/v3/spend/budgets", headers=spend)).json()["results"]

    async def call(space: str, path: str, **params: Any) -> httpx.Response:
        if space == "spend":
            # A budget's members are listed under one budget.
            path = path.replace("budgets/", f"budgets/{budgets[0]['id']}/")
            return await sim_http.get(f"/connect/v3/spend/{path}", headers=spend, params=params)
        return await demo.get(f"/{path}", **params)

    return call


def value_at(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return value


async def records_of(get: Get, space: str, path: str) -> list[dict[str, Any]]:
    body = (await get(space, path, max=50)).json()
    results: list[dict[str, Any]] = body["results"]
    return results


def sample(rule: FieldRule, records: list[dict[str, Any]]) -> str:
    """A value of the field's type, taken from the data when the records carry it."""
    if rule.type != "str":
        return SAMPLE[rule.type]
    if "[]" not in rule.path:
        found = [v for r in records if isinstance(v := value_at(r, rule.path), str)]
        if found:
            return found[len(found) // 2]
    return "x"


def expected(rule: FieldRule, op: str, raw: str) -> Any:
    if op in ("in", "nin"):
        return {raw}
    if rule.type == "num":
        return float(raw)
    if rule.type == "bool":
        return raw == "true"
    if rule.type == "datetime":
        return "2025-01-01T00:00:00.000+00:00"
    return raw


def test_the_documented_rows_cover_the_families_named_in_the_docs() -> None:
    documented = {path for path, lists in LISTS.items() if lists.filters_source == DOCS}
    assert documented == {"vendors", "customers", "bills", "invoices"}
    assert LISTS["vendors"].sorts.keys() >= {"shortName", "billCurrency", "phone"}
    assert {"paymentStatus", "address.country"} <= LISTS["customers"].filters.keys()
    assert "amount" not in LISTS["bills"].sorts  # not on docs/sortable-fields


@pytest.mark.parametrize(("space", "path", "field"), FILTER_CASES)
async def test_listed_filter_operators_only(get: Get, space: str, path: str, field: str) -> None:
    lists = (SPEND_LISTS if space == "spend" else LISTS)[path]
    rule = lists.filters[field]
    records = await records_of(get, space, path)
    raw = sample(rule, records)
    for op in sorted(ALL_OPS):
        text = f'{field}:{op}:"{raw}"' if rule.type in ("str", "date", "datetime") else f"{field}:{op}:{raw}"
        response = await get(space, path, max=50, filters=text)
        if op not in rule.ops:
            assert (response.status_code, error_code(response)) == (400, "BDC_1131"), (op, response.text)
            continue
        assert response.status_code == 200, (op, response.text)
        if "[]" in rule.path:
            continue  # any-of over line items: checked in test_lists
        wanted = expected(rule, op, raw)
        for record in response.json()["results"]:
            actual = value_at(record, rule.path)
            if actual is None:
                assert op in ("ne", "nin"), (op, record)
            else:
                assert matches(op, actual, wanted), (op, actual, wanted)


@pytest.mark.parametrize(("space", "path", "lists"), CASES, ids=[f"{s}:{p}" for s, p, _ in CASES])
async def test_unlisted_fields_are_refused(get: Get, space: str, path: str, lists: Any) -> None:
    records = await records_of(get, space, path)
    unlisted_filters = {"nosuch", *records[0]} - set(lists.filters)
    for field in sorted(unlisted_filters):
        response = await get(space, path, filters=f"{field}:eq:1")
        assert (response.status_code, error_code(response)) == (400, "BDC_1130"), field
    for field in sorted({"nosuch", *records[0]} - set(lists.sorts)):
        response = await get(space, path, sort=f"{field}:asc")
        assert (response.status_code, error_code(response)) == (400, "BDC_1129"), field


@pytest.mark.parametrize(("space", "path", "field"), SORT_CASES)
async def test_listed_sorts_order_the_records(get: Get, space: str, path: str, field: str) -> None:
    rule = (SPEND_LISTS if space == "spend" else LISTS)[path].sorts[field]
    for direction in ("asc", "desc"):
        response = await get(space, path, max=50, sort=f"{field}:{direction}")
        assert response.status_code == 200, response.text
        values = [value_at(r, rule.path) for r in response.json()["results"]]
        present = [v for v in values if v is not None]
        assert present == sorted(present, reverse=direction == "desc"), field
        # Records without the field sort first (ascending), as BILL puts nulls.
        if direction == "asc":
            assert values == [None] * (len(values) - len(present)) + present
