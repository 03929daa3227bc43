"""Range filters on the ascending sort field (incremental syncs' query) answer exactly as a full
scan, whole and page by page."""

from __future__ import annotations

import random

from billbridge.simulator import SimConfig, create_app
from billbridge.simulator.families import CATALOG
from billbridge.simulator.query import parse_filters, parse_sort, predicate, sort_ids


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
