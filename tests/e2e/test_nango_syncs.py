"""End to end: syncs and records with @nangohq/node against `billbridge serve` (syncs in-process on
SQLite) and the simulator, each a real process; the sync webhooks checked by the Node receiver."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from e2e_stack import Stack
from node_drivers import run_node

from billbridge.sync import syncs_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def journey(stack: Stack) -> dict[str, Any]:
    return run_node("syncs.mjs", env={**stack.node_env(), "SIM_URL": stack.sim}, timeout=300)


def sim_vendors(stack: Stack) -> list[dict[str, Any]]:
    params = {"family": "vendors", "space": "v3", "organization_id": stack.demo["organization_id"]}
    results: list[dict[str, Any]] = httpx.get(f"{stack.sim}/_sim/objects", params=params).json()["results"]
    return results


def test_first_run_and_list_records_paging(journey: dict[str, Any]) -> None:
    first = journey["first"]
    assert (first["status"], first["type"], first["name"]) == ("SUCCESS", "INITIAL", "vendors")
    ids = journey["firstList"]["ids"]
    assert len(ids) == len(set(ids))
    # listRecords returns archived vendors too (as DELETED); recordCount counts live ones, as Nango's does.
    assert journey["firstList"]["archived"] > 0
    assert len(ids) - journey["firstList"]["archived"] == first["recordCount"]["Vendor"]
    assert journey["firstList"]["pages"] == math.ceil(len(ids) / 25)
    meta = journey["firstList"]["sample"]["_nango_metadata"]
    assert set(meta) == {
        "first_seen_at",
        "last_modified_at",
        "last_action",
        "deleted_at",
        "pruned_at",
        "cursor",
    }


def test_changes_behind_billbridges_back_arrive_after_trigger(journey: dict[str, Any]) -> None:
    assert journey["trigger"] == {"status": 200, "data": {"success": True}}
    second = journey["second"]
    assert second["type"] == "INCREMENTAL"
    assert second["latestResult"] == {"Vendor": {"added": 1, "updated": 1, "deleted": 1}}
    changed = journey["changed"]
    assert journey["filter_added"] == [
        {"id": changed["added"], "action": "ADDED", "name": "Node Fresh Vendor"}
    ]
    assert [(r["id"], r["action"], r["name"]) for r in journey["filter_updated"]] == [
        (changed["renamed"], "UPDATED", "Node Renamed Vendor")
    ]
    assert [(r["id"], r["action"]) for r in journey["filter_deleted"]] == [(changed["archived"], "DELETED")]
    assert sorted(r["id"] for r in journey["filter_added,updated"]) == sorted(
        [changed["added"], changed["renamed"]]
    )
    assert journey["byIds"] == [changed["renamed"]]


def test_schedule_frequency_and_full_refresh(journey: dict[str, Any]) -> None:
    assert (journey["paused"], journey["started"]) == ("PAUSED", "SUCCESS")
    assert journey["frequency"] == {"frequency": "2h"}
    assert journey["frequencyShown"] == "every 2h"
    assert journey["frequencyReset"] == {"frequency": "1h"}
    assert journey["fullTrigger"] == 200
    assert journey["third"]["latestResult"] == {"Vendor": {"added": 0, "updated": 0, "deleted": 0}}
    assert {s["name"] for s in journey["all"]} == {d.name for d in syncs_for(has_api_token=False)}


def test_records_equal_the_simulators(journey: dict[str, Any], stack: Stack) -> None:
    sim = {v["id"]: v for v in sim_vendors(stack)}
    final = {r["id"]: r for r in journey["finalList"]}
    assert set(final) == set(sim)
    for vendor_id, vendor in sim.items():
        assert final[vendor_id]["name"] == vendor["name"]
        assert (final[vendor_id]["action"] == "DELETED") == bool(vendor.get("archived"))


def test_errors_reach_the_sdk(journey: dict[str, Any]) -> None:
    assert journey["badFilter"]["status"] == 400
    assert journey["badFilter"]["data"]["error"]["code"] == "invalid_query_params"
    assert journey["unknownSync"]["status"] == 400
    assert journey["unknownSync"]["data"]["error"]["code"] == "no_syncs_found"


def test_sync_webhooks_verify_with_the_sdk(journey: dict[str, Any], stack: Stack) -> None:
    hooks = [h for h in stack.webhooks() if h["body"] and h["body"]["type"] == "sync"]
    vendors = [
        h
        for h in hooks
        if h["body"]["syncName"] == "vendors" and h["body"]["connectionId"] == journey["connectionId"]
    ]
    assert vendors
    assert all(h["verified"] and h["legacyVerified"] and h["stampVerified"] for h in hooks)
    results = [h["body"]["responseResults"] for h in vendors]
    assert {"added": 1, "updated": 1, "deleted": 1} in results
    assert all(h["body"]["model"] == "Vendor" for h in vendors)
