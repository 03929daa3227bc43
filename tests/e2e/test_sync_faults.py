"""End to end under faults: ``billbridge serve`` and the simulator as real processes, driven by
@nangohq/node. The first syncs of a linked account run while BILL answers 10 % of requests with a
5xx and hangs 5 % before a 504, and still store every record; then a big full refresh runs while the
SDK's proxied calls keep going, and BILL never sees a fourth request in flight for the organization
(proxy and syncs share one limit inside the server). After 36 idle minutes at BILL, the syncs and
proxied calls that all meet the dead session renew it with one login."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_stack import Stack
from sync_driver import SyncDriver, by_id, payloads

from billbridge.sync import syncs_for

pytestmark = pytest.mark.e2e

DEFINITIONS = syncs_for(has_api_token=True)
BIG = ("vendors", "bills", "customers")
ADDED = 1_200  # vendors added behind billbridge's back before the big refresh


def faults(driver: SyncDriver, **settings: Any) -> None:
    driver.sim("POST", "/_sim/faults", json=settings)


@pytest.fixture(scope="module")
def faulty(stack: Stack) -> dict[str, Any]:
    driver = SyncDriver(stack)
    driver.link()
    # The first runs are queued by the link and picked up on the server's next look at its queue.
    faults(driver, error_rate=0.1, timeout_rate=0.05, timeout_seconds=0.3)
    names = tuple(d.name for d in DEFINITIONS)
    first = driver.node("wait", SYNCS=list(names), WAIT_SECONDS="180")["syncs"]
    faults(driver, error_rate=0, timeout_rate=0)
    injected = driver.sim("GET", "/_sim/stats")["errors"]
    listed = {name: found["records"] for name, found in driver.list_models(names, limit=10_000).items()}
    sim = {name: driver.sim_objects(name) for name in names}

    driver.sim_change("vendors", "add", count=ADDED)
    faults(driver, latency_ms=20)
    finished = {name: first[name]["finishedAt"] for name in BIG}
    busy = driver.node("busy", SYNCS=list(BIG), AFTER=finished, FULL="1")
    # 36 idle minutes at BILL: the session is gone; the next runs and proxied calls all meet BDC_1109.
    stats = driver.sim("GET", "/_sim/stats")
    driver.sim("POST", "/_sim/clock/advance", json={"seconds": 36 * 60})
    finished = {name: busy["syncs"][name]["finishedAt"] for name in BIG}
    renewed = driver.node("busy", SYNCS=list(BIG), AFTER=finished, FULL="1")
    faults(driver, latency_ms=0)
    return {
        "renewed": renewed,
        "logins": driver.sim("GET", "/_sim/stats")["logins"] - stats["logins"],
        "first": first,
        "injected": injected,
        "listed": listed,
        "sim": sim,
        "busy": busy,
        "vendors": driver.list_models(("vendors",), limit=10_000)["vendors"]["records"],
        "sim_vendors": driver.sim_objects("vendors"),
        "stats": driver.sim("GET", "/_sim/stats"),
    }


def test_first_syncs_store_every_record_through_5xx_and_timeouts(faulty: dict[str, Any]) -> None:
    # The faults were there: BILL's 5xx (BDC_1001) answers, the hanging requests' 504s.
    assert sum(faulty["injected"].values()) > 0
    for definition in DEFINITIONS:
        assert faulty["first"][definition.name]["status"] == "SUCCESS"
        sim = by_id(faulty["sim"][definition.name])
        assert payloads(faulty["listed"][definition.name]) == sim, definition.name


def test_proxied_calls_flow_during_a_big_refresh(faulty: dict[str, Any]) -> None:
    busy = faulty["busy"]
    assert {busy["syncs"][name]["status"] for name in BIG} == {"SUCCESS"}
    assert len(busy["proxied"]) >= 6
    assert set(busy["proxied"]) == {200}
    assert payloads(faulty["vendors"]) == by_id(faulty["sim_vendors"])
    assert len(faulty["vendors"]) >= ADDED


def test_an_expired_session_is_renewed_with_one_login(faulty: dict[str, Any]) -> None:
    renewed = faulty["renewed"]
    assert {renewed["syncs"][name]["status"] for name in BIG} == {"SUCCESS"}
    assert set(renewed["proxied"]) == {200}
    assert faulty["logins"] == 1


def test_bill_never_sees_a_fourth_request_in_flight(faulty: dict[str, Any]) -> None:
    stats = faulty["stats"]
    # The simulator refuses a fourth request (BDC_1322) rather than counting it in its peak.
    assert stats["errors"].get("BDC_1322", 0) == 0
    assert stats["peak_in_flight"] == 3  # syncs and proxied calls did use every slot
