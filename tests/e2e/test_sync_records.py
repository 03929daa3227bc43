"""End to end: every default sync of a linked account, through ``billbridge serve`` (syncs in-process
on SQLite) and the simulator, each a real process, read back with @nangohq/node's ``listRecords`` and
compared with the simulator's own records (``GET /_sim/objects``), before and after changes made
behind billbridge's back; the sync webhooks checked with the SDK's ``verifyIncomingWebhookRequest``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from e2e_stack import RECORDS, Stack
from sync_driver import SyncDriver, by_id, payloads

from billbridge.sync import get_sync, syncs_for

pytestmark = pytest.mark.e2e

DEFINITIONS = syncs_for(has_api_token=True)
# Changed behind billbridge's back: keyset-paged lists and lists read whole and diffed (one of them
# Spend & Expense, whose records cannot be archived).
ARCHIVABLE = ("vendors", "customers", "items", "recurring-bills")
CHANGED = (*ARCHIVABLE, "spend-budgets")
# A text field to change, in order of preference.
TEXT_FIELDS = ("name", "description", "memo", "invoiceNumber", "accountName")


@dataclass
class Journey(SyncDriver):
    """What one pass through the product gave, step by step (the tests below read it)."""

    first: dict[str, Any] = field(default_factory=dict)
    first_records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    first_pages: dict[str, int] = field(default_factory=dict)
    first_sim: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mark: str = ""
    changes: dict[str, dict[str, str]] = field(default_factory=dict)
    trigger: dict[str, Any] = field(default_factory=dict)
    second_records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    second_sim: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    listed: dict[tuple[str, str, bool], list[dict[str, Any]]] = field(default_factory=dict)


def _text_field(record: dict[str, Any]) -> str:
    return next((f for f in TEXT_FIELDS if isinstance(record.get(f), str)), "description")


def _change_behind_the_back(journey: Journey, name: str) -> dict[str, str]:
    """Add one record, change one, and for archivable lists archive one and restore an archived one."""
    records = journey.first_sim[name]
    live = [r for r in records if not r.get("archived")]
    changed = live[0]
    text = _text_field(changed)
    [added] = journey.sim_change(name, "add", fields={text: f"E2E new {name}"})
    journey.sim_change(name, "change", id=changed["id"], fields={text: f"E2E changed {name}"})
    done = {"added": added["id"], "changed": changed["id"]}
    if name in ARCHIVABLE:
        archived = next(r for r in records if r.get("archived"))
        done["archived"] = journey.sim_change(name, "archive", id=live[1]["id"])[0]["id"]
        done["restored"] = journey.sim_change(name, "restore", id=archived["id"])[0]["id"]
    return done


@pytest.fixture(scope="module")
def journey(stack: Stack) -> Journey:
    j = Journey(stack)
    names = [d.name for d in DEFINITIONS]
    j.link()
    j.first = j.node("wait", SYNCS=names)["syncs"]
    every = tuple(names)
    for name, listed in j.list_models(every, limit=50).items():
        j.first_records[name] = listed["records"]
        j.first_pages[name] = listed["pages"]
        j.first_sim[name] = j.sim_objects(name)
    time.sleep(0.01)  # every first-run record was stored before the mark
    j.mark = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    time.sleep(0.01)
    j.changes = {name: _change_behind_the_back(j, name) for name in CHANGED}
    finished = {name: j.first[name]["finishedAt"] for name in CHANGED}
    j.trigger = j.node("trigger", SYNCS=list(CHANGED), AFTER=finished)
    for name, listed in j.list_models(every, limit=10_000).items():
        j.second_records[name] = listed["records"]
        j.second_sim[name] = j.sim_objects(name)
    for filters in ("added", "updated", "deleted", "added,updated"):
        for since in (False, True):
            extra = {"modifiedAfter": j.mark} if since else {}
            for name, listed in j.list_models(CHANGED, filter=filters, **extra).items():
                j.listed[(name, filters, since)] = listed["records"]
    for name, listed in j.list_models(CHANGED, modifiedAfter=j.mark).items():
        j.listed[(name, "", True)] = listed["records"]
    return j


def actions(records: list[dict[str, Any]]) -> dict[str, str]:
    return {str(r["id"]): r["_nango_metadata"]["last_action"] for r in records}


def test_the_first_run_of_every_default_sync_completes(journey: Journey) -> None:
    assert set(journey.first) == {d.name for d in DEFINITIONS}
    for definition in DEFINITIONS:
        status = journey.first[definition.name]
        assert (status["status"], status["type"]) == ("SUCCESS", "INITIAL"), definition.name
        # recordCount counts live records, as Nango's does: archived ones are stored as DELETED.
        live = [r for r in journey.first_sim[definition.name] if r.get("archived") is not True]
        assert status["recordCount"] == {definition.model: len(live)}, definition.name


def test_list_records_returns_exactly_the_simulators_records(journey: Journey) -> None:
    for definition in DEFINITIONS:
        sim = by_id(journey.first_sim[definition.name])
        assert payloads(journey.first_records[definition.name]) == sim, definition.name
        archived = {rid for rid, r in sim.items() if r.get("archived")}
        listed = actions(journey.first_records[definition.name])
        assert {rid for rid, action in listed.items() if action == "DELETED"} == archived
        assert set(listed.values()) <= {"ADDED", "DELETED"}
    # Paged 50 at a time: the main families span several pages.
    assert journey.first_pages["vendors"] == -(-RECORDS // 50)


def test_changes_behind_billbridges_back_arrive_with_the_right_last_action(journey: Journey) -> None:
    for name in CHANGED:
        records = by_id(journey.second_records[name])
        change = journey.changes[name]
        expected = {"added": "ADDED", "changed": "UPDATED", "archived": "DELETED", "restored": "UPDATED"}
        assert {kind: records[rid]["_nango_metadata"]["last_action"] for kind, rid in change.items()} == {
            kind: expected[kind] for kind in change
        }, name
        if "archived" in change:
            assert records[change["archived"]]["_nango_metadata"]["deleted_at"] is not None
            assert records[change["restored"]]["_nango_metadata"]["deleted_at"] is None
            assert records[change["restored"]]["archived"] is False
        status = journey.trigger["syncs"][name]
        assert status["type"] == "INCREMENTAL"
        updated = 2 if "restored" in change else 1
        assert status["latestResult"] == {
            get_sync(name).model: {"added": 1, "updated": updated, "deleted": int("archived" in change)}
        }


def test_after_the_changes_every_model_still_equals_the_simulator(journey: Journey) -> None:
    for definition in DEFINITIONS:
        sim = by_id(journey.second_sim[definition.name])
        assert payloads(journey.second_records[definition.name]) == sim, definition.name


def test_filter_and_modified_after(journey: Journey) -> None:
    for name in CHANGED:
        change = journey.changes[name]
        everything = actions(journey.second_records[name])
        for filters in ("added", "updated", "deleted", "added,updated"):
            wanted = {action.upper() for action in filters.split(",")}
            found = actions(journey.listed[(name, filters, False)])
            assert found == {rid: a for rid, a in everything.items() if a in wanted}, (name, filters)
            recent = actions(journey.listed[(name, filters, True)])
            assert recent == {rid: everything[rid] for rid in change.values() if everything[rid] in wanted}
        assert set(actions(journey.listed[(name, "", True)])) == set(change.values())


def test_sync_webhooks_verify_with_the_sdk(journey: Journey) -> None:
    deadline = time.monotonic() + 30
    while True:
        hooks = [
            h["body"] | {"verified": h["verified"]}
            for h in journey.stack.webhooks()
            if h["body"] and (h["body"]["type"], h["body"]["connectionId"]) == ("sync", journey.connection_id)
        ]
        second = [h for h in hooks if h.get("syncType") == "INCREMENTAL"]
        if len(second) >= len(CHANGED) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert hooks
    assert all(h["verified"] for h in hooks)
    assert {h["syncName"] for h in hooks} == {d.name for d in DEFINITIONS}
    for name in CHANGED:
        [hook] = [h for h in second if h["syncName"] == name]
        change = journey.changes[name]
        assert hook["success"] is True
        assert hook["model"] == get_sync(name).model
        assert hook["responseResults"] == {
            "added": 1,
            "updated": 2 if "restored" in change else 1,
            "deleted": int("archived" in change),
        }
