"""BILL sessions: bound to the developer key used at login, dead after 35 idle minutes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from billbridge.simulator.errors import SimError


@dataclass(slots=True)
class Session:
    """One signed-in session."""

    id: str = field(repr=False)
    dev_key: str = field(repr=False)
    org_id: str
    user_id: str
    trusted: bool
    created: float
    last_used: float


class SessionTable:
    """Live sessions; every successful use resets the idle timer.

    Args:
        idle_seconds: Idle time after which a session is dead.
    """

    def __init__(self, *, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, *, dev_key: str, org_id: str, user_id: str, trusted: bool, now: float) -> Session:
        """Open a new session."""
        session = Session(
            id=secrets.token_urlsafe(30),
            dev_key=dev_key,
            org_id=org_id,
            user_id=user_id,
            trusted=trusted,
            created=now,
            last_used=now,
        )
        self._sessions[session.id] = session
        return session

    def use(self, session_id: str, *, dev_key: str, now: float) -> Session:
        """The live session ``session_id`` used with ``dev_key``; BDC_1109 if dead or foreign."""
        session = self._sessions.get(session_id)
        if session is None:
            raise SimError("BDC_1109")
        if now - session.last_used >= self.idle_seconds:
            del self._sessions[session_id]
            raise SimError("BDC_1109")
        if session.dev_key != dev_key:
            raise SimError("BDC_1109", "Session is invalid for this developer key. Please log in.")
        session.last_used = now
        return session

    def end(self, session_id: str) -> None:
        """Log out (unknown sessions are ignored)."""
        self._sessions.pop(session_id, None)

    def invalidate_all(self) -> int:
        """Kill every session; returns how many there were."""
        count = len(self._sessions)
        self._sessions.clear()
        return count
