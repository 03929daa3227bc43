"""Listing against the simulator: every record once for any max, filters and sorts as plain Python
would evaluate them, resumable walks, the catalog and the models agreeing with what BILL sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billbridge.bill import FAMILIES, BillClient, Filter, SessionAuth, Sort, model_for
from billbridge.bill.query import Operator
from billbridge.errors import FilterError
from billbridge.simulator import SimConfig
from support.filters import matches

from .conftest import Demo, add_records

RECORDS = 120
EXAMPLES = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=RECORDS, organizations=2)


async def everything(sim_http: httpx.AsyncClient, family: str, organization_id: str) -> list[dict[str, Any]]:
    """Every record of a family straight from the simulator's control surface, in natural order."""
    answer = await sim_http.get(
        "/_sim/objects", params={"family": family, "organization_id": organization_id}
    )
    answer.raise_for_status()
    records: list[dict[str, Any]] = answer.json()["results"]
    return records


@EXAMPLES
@given(
    family=st.sampled_from(["vendors", "bills", "customers", "invoices", "classifications/items"]),
    size=st.integers(1, 100),
)
async def test_every_record_exactly_once_for_any_max(
    sim_client: BillClient,
    session: SessionAuth,
    sim_http: httpx.AsyncClient,
    demo: Demo,
    family: str,
    size: int,
) -> None:
    expected = [r["id"] for r in await everything(sim_http, family, demo.organization_id)]
    pages = [page async for page in sim_client.pages(family, auth=session, max=size)]
    ids = [record["id"] for page in pages for record in page.results]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(expected)
    assert len(pages) == max(1, -(-len(expected) // size))
    assert all(len(page.results) == size for page in pages[:-1])
    assert pages[-1].next_page is None
    assert all(page.next_page for page in pages[:-1])


# --- filters and sorts compared with a plain evaluation -------------------------------------

FieldKind = str  # "str", "bool", "num", "date", "datetime"
FIELDS: dict[str, dict[str, tuple[FieldKind, tuple[Operator, ...]]]] = {
    "vendors": {
        "name": ("str", ("eq", "sw")),
        "accountType": ("str", ("eq", "ne", "in", "nin")),
        "billCurrency": ("str", ("eq", "ne", "in", "nin")),
        "address.country": ("str", ("eq", "ne")),
        "archived": ("bool", ("eq", "ne")),
        "id": ("str", ("eq", "ne", "in")),
        "createdTime": ("datetime", ("gt", "gte", "lt", "lte")),
        "updatedTime": ("datetime", ("gt", "gte", "lt", "lte")),
    },
    "bills": {
        "paymentStatus": ("str", ("eq", "ne", "in")),
        "vendorId": ("str", ("eq", "in")),
        "dueDate": ("date", ("gt", "gte", "lt", "lte")),
        "archived": ("bool", ("eq", "ne")),
        "updatedTime": ("datetime", ("gt", "gte", "lt", "lte")),
    },
}
SORTS: dict[str, dict[str, FieldKind]] = {
    "vendors": {
        "name": "str",
        "email": "str",
        "createdTime": "datetime",
        "updatedTime": "datetime",
        "archived": "bool",
    },
    "bills": {"dueDate": "date", "createdTime": "datetime", "updatedTime": "datetime"},
}


def value_at(record: dict[str, Any], field: str) -> Any:
    value: Any = record
    for step in field.split("."):
        value = value.get(step) if isinstance(value, dict) else None
    return value


def typed(kind: FieldKind, value: Any) -> Any:
    """A record value as Python compares it."""
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "num":
        return float(value)
    return value


def holds(record: dict[str, Any], condition: Filter, kind: FieldKind) -> bool:
    actual = typed(kind, value_at(record, condition.field))
    wanted: Any = condition.value
    if condition.op in ("in", "nin"):
        wanted = set(wanted)
    elif kind == "num":
        wanted = float(wanted)
    elif kind == "date":
        wanted = wanted.isoformat()
    return matches(condition.op, actual, wanted)


@st.composite
def queries(draw: st.DrawFn, records: list[dict[str, Any]], family: str) -> tuple[list[Filter], list[Sort]]:
    """Filters whose values come from the data (so results are rarely empty) and sort keys."""
    fields = FIELDS[family]
    filters = []
    for field in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)):
        kind, ops = fields[field]
        op = draw(st.sampled_from(ops))
        seen = [value_at(r, field) for r in records]
        if op in ("in", "nin"):
            value: Any = draw(
                st.lists(st.sampled_from(sorted(set(seen))), min_size=1, max_size=3, unique=True)
            )
        else:
            value = draw(st.sampled_from(seen))
            if kind == "datetime":
                value = datetime.fromisoformat(value)
            elif kind == "date":
                value = datetime.fromisoformat(value).date()
            elif op == "sw":
                value = value[: draw(st.integers(1, max(1, len(value))))]
        filters.append(Filter(field, op, value))
    sort_fields = draw(st.lists(st.sampled_from(sorted(SORTS[family])), max_size=2, unique=True))
    sorts = [Sort(field, desc=draw(st.booleans())) for field in sort_fields]
    return filters, sorts


@EXAMPLES
@given(data=st.data(), family=st.sampled_from(["vendors", "bills"]), size=st.sampled_from([7, 50, 100]))
async def test_filters_and_sorts_agree_with_plain_python(
    sim_client: BillClient,
    session: SessionAuth,
    sim_http: httpx.AsyncClient,
    demo: Demo,
    data: st.DataObject,
    family: str,
    size: int,
) -> None:
    records = await everything(sim_http, family, demo.organization_id)
    filters, sorts = data.draw(queries(records, family))
    got = [r async for r in sim_client.iterate(family, auth=session, max=size, filters=filters, sort=sorts)]

    kinds = {name: kind for name, (kind, _) in FIELDS[family].items()}
    expected = [r for r in records if all(holds(r, f, kinds[f.field]) for f in filters)]
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in expected)

    def key_of(record: dict[str, Any]) -> list[Any]:
        return [typed(SORTS[family][s.field], value_at(record, s.field)) for s in sorts]

    for sort in reversed(sorts):
        kind = SORTS[family][sort.field]

        def sort_value(record: dict[str, Any], field: str = sort.field, kind: FieldKind = kind) -> Any:
            return typed(kind, value_at(record, field))

        expected.sort(key=sort_value, reverse=sort.desc)
    assert [key_of(r) for r in got] == [key_of(r) for r in expected]


async def test_quoted_values_with_commas_and_colons_reach_the_filter(
    sim_client: BillClient, session: SessionAuth, sim_http: httpx.AsyncClient, demo: Demo
) -> None:
    await add_records(sim_http, demo, "vendors", {"name": "Acme, Inc.: East"})
    found = [
        r
        async for r in sim_client.iterate(
            "vendors", auth=session, filters=[Filter("name", "eq", "Acme, Inc.: East")]
        )
    ]
    assert [r["name"] for r in found] == ["Acme, Inc.: East"]
    starts = [
        r
        async for r in sim_client.iterate(
            "vendors", auth=session, filters=[Filter("name", "sw", "Acme, Inc.:")]
        )
    ]
    assert [r["id"] for r in starts] == [r["id"] for r in found]


async def test_walks_resume_from_a_saved_token(sim_client: BillClient, session: SessionAuth) -> None:
    query = {
        "max": 7,
        "sort": [Sort("updatedTime"), Sort("createdTime", desc=True)],
        "filters": [Filter("archived", "eq", False)],
    }
    whole = [page async for page in sim_client.pages("bills", auth=session, **query)]  # type: ignore[arg-type]
    assert len(whole) > 3
    saved = whole[1].next_page
    assert whole[1].prev_page is not None
    assert whole[0].prev_page is None
    resumed = [page async for page in sim_client.pages("bills", auth=session, page=saved, **query)]  # type: ignore[arg-type]
    assert [p.results for p in resumed] == [p.results for p in whole[2:]]


async def test_bad_filters_are_filter_errors(sim_client: BillClient, session: SessionAuth) -> None:
    with pytest.raises(FilterError) as unknown_field:
        [r async for r in sim_client.iterate("vendors", auth=session, filters=[Filter("color", "eq", "red")])]
    assert unknown_field.value.code == "BDC_1130"
    with pytest.raises(FilterError) as bad_operator:
        [r async for r in sim_client.iterate("vendors", auth=session, filters=[Filter("name", "gt", "M")])]
    assert bad_operator.value.code == "BDC_1131"


async def test_catalog_matches_the_simulator(sim_client: BillClient, session: SessionAuth) -> None:
    for name, family in FAMILIES.items():
        page = await anext(aiter(sim_client.pages(name, auth=session, max=5)))
        assert page.results, name
        for record in page.results:
            assert record["id"].startswith(family.id_prefix), (name, record["id"])
            assert len(record["id"]) == 20, (name, record["id"])
            assert all(field in record for field in family.cursor_fields), name
        # Every cursor field can be sorted and range-filtered on, as incremental reads need.
        for field in family.cursor_fields:
            since = Filter(field, "gte", datetime(2020, 1, 1, tzinfo=UTC))
            pages = sim_client.pages(name, auth=session, max=1, sort=[Sort(field)], filters=[since])
            assert (await anext(aiter(pages))).results, (name, field)


@pytest.mark.parametrize("family", ["users", "roles", "vendors", "bills", "customers", "invoices"])
async def test_models_parse_every_record_without_loss(
    sim_client: BillClient, session: SessionAuth, family: str
) -> None:
    model = model_for(FAMILIES[family].model_name)
    assert model.__name__ == FAMILIES[family].model_name
    count = 0
    async for record in sim_client.iterate(family, auth=session):
        assert model.model_validate(record).to_bill() == record
        count += 1
    assert count > 0
