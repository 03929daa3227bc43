"""Range filters on the ascending sort field (incremental syncs' query) answer exactly as a full
scan, whole and page by page."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import pytest

from billbridge.simulator import SimConfig, create_app
from billbridge.simulator import store as store_module
from billbridge.simulator.families import CATALOG, Record
from billbridge.simulator.query import SortKey, parse_filters, parse_sort, predicate, sort_ids


def test_sorted_range_matches_a_full_scan() -> None:
    app = create_app(SimConfig(records=1_500, organizations=1, seed=3))
    state = app.state.sim
    store = state.data.family(state.world.organizations[0], CATALOG["vendors"])
    store.create({}, now=store.records[store.order[10]]["updatedTime"], validate=False)  # a tie

    def scan(filters: str, sort: str) -> list[str]:
        ids = store.order
        for condition in parse_filters(filters, store.spec.filters):
            test = predicate(condition)
            ids = [i for i in ids if test(store.records[i])]
        return sort_ids(ids, store.records, parse_sort(sort, store.spec.sorts))

    stamps = sorted(r["updatedTime"] for r in store.records.values())
    rng = random.Random(1)
    for _ in range(200):
        low, high = (s.replace("+00:00", "Z") for s in sorted(rng.sample(stamps, 2)))
        filters = rng.choice(
            [
                f"updatedTime:gte:{low}",
                f"updatedTime:gt:{low},updatedTime:lt:{high}",
                f"updatedTime:gte:{low},updatedTime:lte:{high},archived:eq:false",
                f"updatedTime:lt:{high}",
            ]
        )
        expected = scan(filters, "updatedTime:asc")
        assert store.query_ids(filters, "updatedTime:asc") == expected, filters
        # One page at a time (keyset paging asks a new range for every page, never copied whole).
        offset, size = rng.randrange(0, len(expected) + 5), rng.choice([1, 7, 100])
        page = store.query_page(filters, "updatedTime:asc", offset, size)
        assert page == (expected[offset : offset + size], len(expected)), (filters, offset, size)


def test_a_family_is_sorted_by_updated_time_when_generated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lists a sync's first run asks for (oldest first, the newest record, a time range) come
    from the orders built with the family, as from BILL's index, until the family changes."""
    app = create_app(SimConfig(records=500, organizations=1, seed=5))
    state = app.state.sim
    store = state.data.family(state.world.organizations[0], CATALOG["vendors"])
    sorted_now: list[tuple[SortKey, ...]] = []

    def counted(ids: list[str], records: Mapping[str, Record], keys: Sequence[SortKey]) -> list[str]:
        sorted_now.append(tuple(keys))
        return sort_ids(ids, records, keys)

    monkeypatch.setattr(store_module, "sort_ids", counted)

    def fresh(sort: str) -> list[str]:
        return sort_ids(store.order, store.records, parse_sort(sort, store.spec.sorts))

    oldest_first = store.query_ids("", "updatedTime:asc")
    assert oldest_first == fresh("updatedTime:asc")
    assert store.query_page("", "updatedTime:desc", 0, 1) == (fresh("updatedTime:desc")[:1], 500)
    since = store.records[oldest_first[99]]["updatedTime"].replace("+00:00", "Z")
    (later,) = parse_filters(f"updatedTime:gte:{since}", store.spec.filters)
    expected = [i for i in oldest_first if predicate(later)(store.records[i])][:100]
    assert store.query_page(f"updatedTime:gte:{since}", "updatedTime:asc", 0, 100)[0] == expected
    assert sorted_now == []

    newest = store.create({}, now="2099-01-01T00:00:00.000+00:00", validate=False)
    assert store.query_page("", "updatedTime:desc", 0, 1) == ([newest["id"]], 501)
    assert len(sorted_now) == 1
