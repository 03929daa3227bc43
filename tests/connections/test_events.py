"""The events notifier: each subscriber told once per event of its class, failures contained."""

from __future__ import annotations

from billbridge.connections import (
    ConnectionDeleted,
    ConnectionLinked,
    Event,
    Events,
    LoginFinished,
    RefreshFailed,
)
from billbridge.store import Connection


async def test_each_subscriber_is_told_once_per_event_of_its_class(conn: Connection) -> None:
    events = Events()
    linked: list[Event] = []
    everything: list[Event] = []

    async def on_linked(event: ConnectionLinked) -> None:
        linked.append(event)

    async def on_any(event: Event) -> None:
        everything.append(event)

    events.subscribe(ConnectionLinked, on_linked)
    events.subscribe(Event, on_any)

    first = ConnectionLinked(conn)
    deleted = ConnectionDeleted(conn)
    await events.emit(first)
    await events.emit(deleted)

    assert linked == [first]
    assert everything == [first, deleted]


async def test_a_failing_subscriber_neither_stops_the_others_nor_the_emitter(conn: Connection) -> None:
    events = Events()
    told: list[str] = []

    async def broken(event: RefreshFailed) -> None:
        raise RuntimeError("receiver down")

    async def working(event: RefreshFailed) -> None:
        told.append(event.code)

    events.subscribe(RefreshFailed, broken)
    events.subscribe(RefreshFailed, working)

    await events.emit(RefreshFailed(conn, code="invalid_credentials", message="refused"))

    assert told == ["invalid_credentials"]


async def test_events_carry_no_secret_in_their_repr(conn: Connection) -> None:
    shown = repr(ConnectionLinked(conn)) + repr(LoginFinished(purpose="renew", outcome="BDC_1101"))
    assert conn.credentials.password.get_secret_value() not in shown
    assert conn.credentials.dev_key.get_secret_value() not in shown
    assert conn.session.session_id is not None
    assert conn.session.session_id.get_secret_value() not in shown
