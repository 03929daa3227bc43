"""A first run's window splits while BILL's slots would sit idle: the densest window's range is paged
by several walks side by side at the end, never losing or repeating a record; the open-ended last
window and a block of records sharing one timestamp are never split."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from dbos import DBOS
from sync_harness import SyncHarness, payloads

from billbridge.simulator import SimConfig
from billbridge.sync.cursor import Cursor, as_text, parse_time
from billbridge.sync.progress import PAGE_STEP, RunProgress
from billbridge.sync.windows import MIN_WIDTH, WalkCounter, halve
from billbridge.sync.workflows import WINDOW_WORKFLOW

WINDOWS = 6


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(records=2_500, organizations=1, seed=11)


@pytest.fixture
def harness_options() -> dict[str, Any]:
    return {"windows": WINDOWS}


def bill_time(moment: datetime) -> str:
    """A timestamp as the simulator writes them (``...000+00:00``)."""
    return moment.isoformat(timespec="milliseconds")


class Bounds:
    """The windows a first run of the simulator's vendors will cut (after a first page of 100)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        stamps = sorted(parse_time(r["updatedTime"]) for r in records)
        self.ordered = sorted(records, key=lambda r: (r["updatedTime"], r["id"]))
        low, newest = stamps[99], stamps[-1]
        assert low is not None
        assert newest is not None
        self.low, self.newest = low, newest
        self.width = (newest - low) / (WINDOWS - 1)

    def start(self, index: int) -> datetime:
        return self.low + self.width * index

    def movable(self) -> list[dict[str, Any]]:
        """Records that may be moved without changing the bounds: not in the first page, not the newest."""
        return [r for r in self.ordered[100:-1] if parse_time(r["updatedTime"]) != self.newest]


async def move(harness: SyncHarness, records: list[dict[str, Any]], stamps: list[datetime]) -> None:
    for record, stamp in zip(records, stamps, strict=True):
        await harness.mutate("vendors", "change", id=record["id"], fields={"updatedTime": bill_time(stamp)})


async def windows_of(run_id: str) -> list[tuple[str, str | None, Cursor]]:
    """Every window workflow of a run: (id, parent id, starting cursor)."""
    found = await DBOS.list_workflows_async(workflow_id_prefix=f"{run_id}-", name=WINDOW_WORKFLOW)
    windows = []
    for w in found:
        assert w.input is not None
        windows.append((w.workflow_id, w.parent_workflow_id, Cursor.from_json(w.input["args"][2])))
    return windows


async def page_steps(workflow_id: str) -> list[dict[str, Any]]:
    return [s for s in await DBOS.list_workflow_steps_async(workflow_id) if s["function_name"] == PAGE_STEP]


def inside(cursor: Cursor, low: datetime, high: datetime) -> bool:
    since, until = parse_time(cursor.since), parse_time(cursor.until)
    return since is not None and until is not None and low <= since and until <= high


def peak_overlap(intervals: list[tuple[int, int]], *, after: int) -> int:
    """The most intervals running at one moment after ``after`` (epoch ms)."""
    events = []
    for start, end in intervals:
        if end > after:
            events += [(max(start, after), 1), (end, -1)]
    peak = current = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        current += delta
        peak = max(peak, current)
    return peak


async def run_and_check(harness: SyncHarness) -> tuple[str, dict[str, Any]]:
    """A first run of vendors: the stored records equal the simulator's, counted exactly, every page
    fetched once. Returns the run id and its result."""
    conn = await harness.link()
    before = (await harness.stats())["requests"]
    [queued] = await harness.engine.trigger(conn.pk, ["vendors"])
    assert queued.workflow_id is not None
    result = await harness.run_result(queued.workflow_id)
    expected = {r["id"]: r for r in await harness.sim_objects("vendors")}
    assert payloads(await harness.stored(conn, "vendors")) == expected
    assert result["records"] == len(expected)
    assert result["counts"]["added"] + result["counts"]["deleted"] == len(expected)
    progress = RunProgress(queued.workflow_id)
    await progress.refresh()
    assert progress.records == len(expected)  # the split windows' pages are counted too
    # Every list request stored one page (the one more read the newest time): nothing fetched twice.
    assert progress.pages == (await harness.stats())["requests"] - before - 1
    return queued.workflow_id, result


async def test_the_densest_window_is_split_and_paged_side_by_side(harness: SyncHarness) -> None:
    bounds = Bounds(await harness.sim_objects("vendors"))
    # 1,000 of 1,500 records crowd into the middle of the last bounded window, each on its own
    # millisecond: that window holds two thirds of the list, the other five 100 records each.
    dense_low, dense_high = bounds.start(WINDOWS - 2), bounds.newest
    crowd_from = dense_low + (dense_high - dense_low) / 5
    crowd = bounds.movable()[:2_000]
    step = (dense_high - dense_low) * 3 / 5 / len(crowd)
    await move(harness, crowd, [crowd_from + step * i for i in range(len(crowd))])
    (await harness.sim.post("/_sim/faults", json={"latency_ms": 30})).raise_for_status()

    run_id, _ = await run_and_check(harness)

    windows = await windows_of(run_id)
    spawned = [w for w in windows if w[1] != run_id]
    assert len(spawned) >= 2, windows
    # Split off the dense window's range (the low bound is the first bounded window's, rounded).
    dense = [w for w in windows if inside(w[2], dense_low - MIN_WIDTH, dense_high)]
    assert len([w for w in dense if w[1] != run_id]) >= 2, windows
    assert all(w[2].until is not None for w in spawned)
    # Once every other window was done, several walks paged that range at the same time.
    others_done = 0
    dense_steps: list[tuple[int, int]] = []
    for workflow_id, _, _ in windows:
        for s in await page_steps(workflow_id):
            interval = (s["started_at_epoch_ms"], s["completed_at_epoch_ms"])
            if any(workflow_id == d[0] for d in dense):
                dense_steps.append(interval)
            else:
                others_done = max(others_done, interval[1])
    assert peak_overlap(dense_steps, after=others_done) == 3  # BILL's three slots


async def test_the_open_ended_window_and_a_same_timestamp_block_are_never_split(
    harness: SyncHarness,
) -> None:
    bounds = Bounds(await harness.sim_objects("vendors"))
    movable = bounds.movable()
    # 500 records on the newest timestamp (the open-ended window pages them by BILL's offsets),
    # and 400 on one timestamp in the middle of the third window: both are paged last, alone.
    block = bounds.start(2) + bounds.width / 2
    await move(harness, movable[:500], [bounds.newest] * 500)
    await move(harness, movable[500:900], [block] * 400)
    (await harness.sim.post("/_sim/faults", json={"latency_ms": 20})).raise_for_status()
    harness.context.step_pages = 2  # steps end inside the blocks too: their outputs show the cursor

    run_id, _ = await run_and_check(harness)

    windows = await windows_of(run_id)
    open_ended = [w for w in windows if w[2].until is None]
    assert len(open_ended) == 1
    assert open_ended[0][1] == run_id
    through_offsets: set[str] = set()
    for workflow_id, _, _ in windows:
        for s in await page_steps(workflow_id):
            output = s["output"]
            following = Cursor.from_json(output["next"]) if output.get("next") else None
            if following is not None and following.token is not None:
                through_offsets.add(workflow_id)
                assert "spawn" not in output  # inside a block: never split
            if "spawn" in output:
                assert following is not None
                assert following.token is None
                assert following.until is not None
                rest = Cursor.from_json(output["spawn"]["cursor"])
                assert rest.until is not None
                assert parse_time(rest.since) != block
    # Both blocks were paged through BILL's offsets, and their steps ended inside them.
    assert open_ended[0][0] in through_offsets
    assert len(through_offsets) >= 2


def test_halve_keeps_the_first_half_and_hands_on_the_rest() -> None:
    at = Cursor(
        since="2025-01-01T00:00:00.000Z", until="2025-01-01T00:00:10.000Z", seen=("v1",), high="h", pages=4
    )
    halves = halve(at, last_page=timedelta(seconds=1))
    assert halves == (
        Cursor(since=at.since, until="2025-01-01T00:00:05.000Z", seen=("v1",), high="h", pages=4),
        Cursor(since="2025-01-01T00:00:05.000Z", until=at.until),
    )


@pytest.mark.parametrize(
    ("cursor", "last_page"),
    [
        # open-ended
        (Cursor(since="2025-01-01T00:00:00.000Z"), None),
        # inside a block of one timestamp
        (Cursor(since="2025-01-01T00:00:00.000Z", until="2025-01-02T00:00:00.000Z", token="p2"), None),
        # too narrow: a half would be narrower than MIN_WIDTH
        (Cursor(since="2025-01-01T00:00:00.000Z", until="2025-01-01T00:00:00.001Z"), None),
        # less than two pages' width left
        (
            Cursor(since="2025-01-01T00:00:00.000Z", until="2025-01-01T00:00:03.000Z"),
            timedelta(seconds=2),
        ),
        # no lower bound
        (Cursor(until="2025-01-01T00:00:03.000Z"), None),
    ],
)
def test_halve_refuses(cursor: Cursor, last_page: timedelta | None) -> None:
    assert halve(cursor, last_page=last_page) is None


def test_halve_at_the_narrowest() -> None:
    halves = halve(Cursor(since="2025-01-01T00:00:00.000Z", until="2025-01-01T00:00:00.002Z"))
    assert halves is not None
    keep, rest = halves
    assert keep.until == rest.since == as_text(datetime.fromisoformat("2025-01-01T00:00:00.001+00:00"))


def test_walks_are_counted_per_organization_between_steps_too() -> None:
    now = [100.0]
    walks = WalkCounter(between_steps=2.0, clock=lambda: now[0])
    walks.enter("org-a", "w1")
    walks.enter("org-a", "w2")
    walks.enter("org-b", "w3")
    assert (walks.going("org-a"), walks.going("org-b")) == (2, 1)
    walks.leave("org-a", "w1")  # between two steps
    now[0] += 1.5
    assert walks.going("org-a") == 2
    now[0] += 1.0  # no next step: the walk is gone (paused, cancelled, its process died)
    assert walks.going("org-a") == 1
    walks.leave("org-a", "w2", finished=True)
    assert walks.going("org-a") == 0
    walks.expect("org-b", "w4")  # split off, not started yet
    assert walks.going("org-b") == 2
    walks.enter("org-b", "w4")
    now[0] += 10
    assert walks.going("org-b") == 2  # both inside a step (waiting for a slot counts)
