"""List semantics: max, page tokens, nextPage/prevPage, filters with nine operators, compound sort."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billbridge.simulator import SimConfig
from support.filters import matches

from .support import Demo, client_for, error_code, sign_in


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=120, seed=3, organizations=1)


async def everything(demo: Demo, family: str) -> list[dict[str, Any]]:
    answer = await demo.http.get("/_sim/objects", params={"family": family, "organization_id": demo.org_id})
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


async def walk(demo: Demo, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every record of a list by following nextPage (the query only on the first call)."""
    records: list[dict[str, Any]] = []
    pages = 0
    response = await demo.get(path, **params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        records += body["results"]
        pages += 1
        if "nextPage" not in body:
            return records, pages
        response = await demo.get(path, max=params.get("max", 20), page=body["nextPage"])


@pytest.mark.parametrize("size", [1, 7, 20, 100])
async def test_walk_returns_every_record_once(demo: Demo, size: int) -> None:
    records, pages = await walk(demo, "/vendors", max=size)
    ids = [r["id"] for r in records]
    assert ids == [r["id"] for r in await everything(demo, "vendors")]
    assert len(set(ids)) == 120
    assert pages == -(-120 // size)


async def test_default_page_and_envelope(demo: Demo) -> None:
    first = (await demo.get("/customers")).json()
    assert list(first) == ["results", "nextPage"]
    assert len(first["results"]) == 20
    second = (await demo.get("/customers", page=first["nextPage"])).json()
    assert set(second) == {"results", "nextPage", "prevPage"}
    back = (await demo.get("/customers", page=second["prevPage"])).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]
    last = (await demo.get("/customers", max=100, page=second["nextPage"])).json()
    assert "nextPage" not in last
    assert len(last["results"]) == 120 - 40


async def test_single_page_has_neither_token(demo: Demo) -> None:
    body = (await demo.get("/roles")).json()
    assert list(body) == ["results"]
    assert [r["type"] for r in body["results"]] == [
        "ACCOUNTANT", "ADMINISTRATOR", "APPROVER", "PAYER", "CLERK", "AUDITOR"
    ]  # fmt: skip


@pytest.mark.parametrize("bad", ["0", "101", "ten", "-5"])
async def test_max_out_of_range(demo: Demo, bad: str) -> None:
    response = await demo.get("/vendors", max=bad)
    assert (response.status_code, error_code(response)) == (400, "BDC_1129")


async def test_spend_transactions_allow_50(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    headers = {"apiToken": sim_world["api_tokens"][0]["token"]}
    ok = await sim_http.get("/connect/v3/spend/transactions", headers=headers, params={"max": 50})
    assert len(ok.json()["results"]) == 50
    too_many = await sim_http.get("/connect/v3/spend/transactions", headers=headers, params={"max": 51})
    assert error_code(too_many) == "BDC_1129"


@pytest.mark.parametrize("token", ["garbage!", "WyJ1c2VycyIsIiIsIiIsMjBd", "W10"])
async def test_bad_page_tokens(demo: Demo, token: str) -> None:
    # The second is a valid token of another family (users); the third decodes to [].
    response = await demo.get("/vendors", page=token)
    assert (response.status_code, error_code(response)) == (400, "BDC_1129")


async def test_token_carries_the_query(demo: Demo) -> None:
    filters = "archived:eq:false"
    first = (await demo.get("/bills", max=10, filters=filters, sort="dueDate:desc")).json()
    rest = (await demo.get("/bills", max=10, page=first["nextPage"])).json()
    due = [r["dueDate"] for r in first["results"] + rest["results"]]
    assert due == sorted(due, reverse=True)
    assert not any(r["archived"] for r in rest["results"])


@pytest.mark.parametrize(
    ("filters", "code"),
    [
        ("nosuch:eq:1", "BDC_1130"),
        ("name:gt:A", "BDC_1131"),
        ("name:like:A", "BDC_1131"),
        ("archived:eq:maybe", "BDC_1129"),
        ('createdTime:gte:"yesterday"', "BDC_1129"),
        ("name:eq", "BDC_1129"),
        ('name:eq:"unbalanced', "BDC_1129"),
    ],
)
async def test_filter_errors(demo: Demo, filters: str, code: str) -> None:
    response = await demo.get("/vendors", filters=filters)
    assert (response.status_code, error_code(response)) == (400, code)


@pytest.mark.parametrize("sort", ["nosuch:asc", "name:sideways"])
async def test_sort_errors(demo: Demo, sort: str) -> None:
    assert error_code(await demo.get("/vendors", sort=sort)) == "BDC_1129"


async def test_spend_lists_take_one_sort_field(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any]
) -> None:
    headers = {"apiToken": sim_world["api_tokens"][0]["token"]}
    params = {"sort": "amount:desc,merchantName:asc"}
    response = await sim_http.get("/connect/v3/spend/transactions", headers=headers, params=params)
    assert error_code(response) == "BDC_1129"


@pytest.mark.parametrize(
    "value",
    ["2024-06-01T00:00:00.000Z", "2024-06-01T00:00:00.000+00:00", "2024-06-01T00:00:00.000",
     "2024-06-01T00:00:00", "2024-06-01T00:00", "2024-06-01"],
)  # fmt: skip
async def test_datetime_filter_formats(demo: Demo, value: str) -> None:
    records, _ = await walk(demo, "/vendors", max=100, filters=f'createdTime:gte:"{value}"')
    expected = [r for r in await everything(demo, "vendors") if r["createdTime"] >= "2024-06-01T00:00:00.000"]
    assert [r["id"] for r in records] == [r["id"] for r in expected]
    assert expected


async def test_quoted_in_list_and_nested_fields(demo: Demo) -> None:
    records, _ = await walk(
        demo, "/vendors", max=100, filters='billCurrency:in:"CAD,EUR",address.country:ne:US'
    )
    everyone = await everything(demo, "vendors")
    expected = [
        r for r in everyone if r["billCurrency"] in ("CAD", "EUR") and r["address"]["country"] != "US"
    ]
    assert [r["id"] for r in records] == [r["id"] for r in expected]
    bill = (await everything(demo, "bills"))[5]
    account = bill["billLineItems"][0]["classifications"]["chartOfAccountId"]
    found, _ = await walk(demo, "/bills", max=100, filters=f"classifications.chartOfAccountId:eq:{account}")
    assert bill["id"] in [r["id"] for r in found]


# --- filters and sorts against a plain Python evaluation of the same query -------------------------

FIELDS = {
    "name": ("str", ["eq", "sw"]),
    "accountType": ("str", ["eq", "ne", "in", "nin"]),
    "billCurrency": ("str", ["eq", "ne", "in", "nin"]),
    "archived": ("bool", ["eq", "ne"]),
    "createdTime": ("datetime", ["gt", "gte", "lt", "lte"]),
    "updatedTime": ("datetime", ["gt", "gte", "lt", "lte"]),
    "id": ("str", ["eq", "ne", "in"]),
}
SORTS = ["name", "shortName", "billCurrency", "createdTime", "updatedTime", "archived", "email"]


def python_filter(records: list[dict[str, Any]], field: str, op: str, value: Any) -> list[dict[str, Any]]:
    return [r for r in records if matches(op, r[field], value)]


@st.composite
def conditions(draw: st.DrawFn, records: list[dict[str, Any]]) -> tuple[str, str, Any, str]:
    field = draw(st.sampled_from(sorted(FIELDS)))
    kind, ops = FIELDS[field]
    op = draw(st.sampled_from(ops))
    sample = draw(st.sampled_from(records))[field]
    if kind == "bool":
        value: Any = draw(st.booleans())
        return field, op, value, f"{field}:{op}:{str(value).lower()}"
    if kind == "datetime":
        return field, op, sample, f'{field}:{op}:"{sample}"'
    if op in ("in", "nin"):
        others = draw(st.lists(st.sampled_from(records), max_size=3))
        values = {sample, *(r[field] for r in others)}
        return field, op, values, f'{field}:{op}:"{",".join(sorted(values))}"'
    if op == "sw":
        sample = sample[: draw(st.integers(1, 4))]
    return field, op, sample, f'{field}:{op}:"{sample}"'


async def test_filters_and_sorts_agree_with_python() -> None:
    config = SimConfig(records=150, seed=5, organizations=1)
    async with client_for(config) as http:
        world = (await http.get("/_sim/world")).json()
        demo = await sign_in(http, world)
        records = await everything(demo, "vendors")
        failures: list[str] = []

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            st.lists(conditions(records), min_size=0, max_size=3),
            st.lists(st.tuples(st.sampled_from(SORTS), st.booleans()), max_size=3, unique_by=lambda s: s[0]),
            st.integers(1, 100),
        )
        def check(conds: list[tuple[str, str, Any, str]], sorts: list[tuple[str, bool]], size: int) -> None:
            expected = records
            for field, op, value, _ in conds:
                expected = python_filter(expected, field, op, value)
            for field, descending in reversed(sorts):
                expected = sorted(expected, key=lambda r, f=field: r[f], reverse=descending)
            params: dict[str, Any] = {"max": size}
            if conds:
                params["filters"] = ",".join(c[3] for c in conds)
            if sorts:
                params["sort"] = ",".join(f"{f}:{'desc' if d else 'asc'}" for f, d in sorts)
            pending.append((params, [r["id"] for r in expected]))

        pending: list[tuple[dict[str, Any], list[str]]] = []
        check()
        for params, expected_ids in pending:
            got, _ = await walk(demo, "/vendors", **params)
            if [r["id"] for r in got] != expected_ids:
                failures.append(str(params))
        assert not failures, failures[:3]
        assert any(ids for _, ids in pending)


def test_python_model_sees_timestamps_as_bill_strings() -> None:
    # The Python evaluation above compares timestamps as strings: valid because BILL's format
    # (fixed width, UTC) sorts like time.
    a = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    b = datetime(2024, 11, 2, 3, 4, 5, tzinfo=UTC)
    fmt = "%Y-%m-%dT%H:%M:%S.000+00:00"
    assert (a.strftime(fmt) < b.strftime(fmt)) == (a < b)
