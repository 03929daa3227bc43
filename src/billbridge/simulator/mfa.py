"""MFA: phone setup, challenges, remember-me IDs (30 days) and the codes "sent" to phones."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from billbridge.simulator.clock import bill_timestamp
from billbridge.simulator.errors import SimError
from billbridge.simulator.sessions import Session
from billbridge.simulator.world import World

CODE_TTL = 10 * 60
REMEMBER_TTL = 30 * 86_400
MAX_ATTEMPTS = 5


@dataclass(slots=True)
class _Pending:
    kind: str
    id: str
    code: str
    phone: str
    org_id: str
    user_id: str
    session_id: str
    expires: float
    sent_at: float
    attempts: int = 0
    used: bool = False


class MfaState:
    """Phones, pending setups and challenges, and remember-me IDs of one world.

    Args:
        world: Supplies the phones registered from the start (organization admins).
    """

    def __init__(self, world: World) -> None:
        self.phones: dict[tuple[str, str], str] = {
            (org.id, user.id): user.mfa_phone
            for org in world.organizations
            for user in org.users
            if user.mfa_phone
        }
        self._pending: dict[str, _Pending] = {}
        self._sent: list[_Pending] = []
        self._remembered: dict[str, tuple[str, str, str, float]] = {}

    def _send(self, kind: str, session: Session, phone: str, now: float) -> _Pending:
        pending = _Pending(
            kind=kind,
            id=secrets.token_hex(10),
            code=f"{secrets.randbelow(1_000_000):06d}",
            phone=phone,
            org_id=session.org_id,
            user_id=session.user_id,
            session_id=session.id,
            expires=now + CODE_TTL,
            sent_at=now,
        )
        self._pending[pending.id] = pending
        self._sent.append(pending)
        return pending

    def _check(self, kind: str, pending_id: str, token: str, session: Session, now: float) -> _Pending:
        pending = self._pending.get(pending_id)
        if pending is None or pending.kind != kind or pending.user_id != session.user_id:
            raise SimError("BDC_1129", f"Invalid {kind} id")
        if now >= pending.expires:
            self._pending.pop(pending_id, None)
            raise SimError("BDC_1356")
        if pending.code != str(token):
            pending.attempts += 1
            if pending.attempts >= MAX_ATTEMPTS:
                self._pending.pop(pending_id, None)
                raise SimError("BDC_1358")
            raise SimError("BDC_1374")
        pending.used = True
        self._pending.pop(pending_id, None)
        return pending

    def setup(self, session: Session, *, phone: str, now: float) -> str:
        """Start registering ``phone``: send a code, return the setupId."""
        digits = "".join(ch for ch in phone if ch.isdigit())
        if len(digits) < 10:
            raise SimError("BDC_1129", "Invalid phone number")
        return self._send("setup", session, phone, now).id

    def validate_setup(self, session: Session, *, setup_id: str, token: str, now: float) -> str:
        """Finish registering a phone; returns the phone."""
        pending = self._check("setup", setup_id, token, session, now)
        self.phones[(pending.org_id, pending.user_id)] = pending.phone
        return pending.phone

    def challenge(self, session: Session, *, now: float) -> str:
        """Send a sign-in code to the user's registered phone; returns the challengeId."""
        phone = self.phones.get((session.org_id, session.user_id))
        if phone is None:
            raise SimError("BDC_1129", "MFA is not set up for this user: no phone is registered")
        return self._send("challenge", session, phone, now).id

    def validate_challenge(
        self, session: Session, *, challenge_id: str, token: str, remember_device: str | None, now: float
    ) -> str | None:
        """Trust the session; with a device, also return a rememberMeId valid 30 days."""
        self._check("challenge", challenge_id, token, session, now)
        session.trusted = True
        if remember_device is None:
            return None
        remember_id = secrets.token_urlsafe(24)
        self._remembered[remember_id] = (session.org_id, session.user_id, remember_device, now + REMEMBER_TTL)
        return remember_id

    def is_remembered(self, *, org_id: str, user_id: str, remember_id: str, device: str, now: float) -> bool:
        """Whether ``remember_id`` + ``device`` make a login of this user trusted."""
        entry = self._remembered.get(remember_id)
        return entry is not None and entry[:3] == (org_id, user_id, device) and now < entry[3]

    def step_up(self, session: Session, *, remember_id: str, device: str, now: float) -> None:
        """Trust the current session with a remember-me ID, or BDC_1374."""
        if not self.is_remembered(
            org_id=session.org_id, user_id=session.user_id, remember_id=remember_id, device=device, now=now
        ):
            raise SimError("BDC_1374", "The MFA ID is invalid or has expired.")
        session.trusted = True

    def phones_of(self, session: Session) -> list[str]:
        """Registered phones of the session's user."""
        phone = self.phones.get((session.org_id, session.user_id))
        return [phone] if phone else []

    def sent_codes(self) -> list[dict[str, Any]]:
        """Every code "sent", newest last (``GET /_sim/mfa/codes``)."""
        return [
            {
                "kind": p.kind,
                "id": p.id,
                "code": p.code,
                "phone": p.phone,
                "organization_id": p.org_id,
                "user_id": p.user_id,
                "sent_at": bill_timestamp(p.sent_at),
                "used": p.used,
            }
            for p in self._sent
        ]
