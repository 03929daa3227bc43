"""Sample data and a settable clock for the store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from billbridge.store import BillCredentials, Connection, ConnectionRepository, SessionState

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A settable clock (the store takes any callable returning an aware datetime)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def credentials(tag: str = "a", **changes: object) -> BillCredentials:
    """Distinctive credentials; every secret contains ``tag`` so tests can tell them apart."""
    values: dict[str, object] = {
        "username": f"user-{tag}@example.com",
        "password": SecretStr(f"pw-{tag}-Kx81!"),
        "organization_id": "00801ABCDEFGHIJKLMNO",
        "dev_key": SecretStr(f"devkey-{tag}-01JQ"),
        "api_token": SecretStr(f"apitoken-{tag}-99"),
        "remember_me_id": None,
        "device": None,
    }
    values.update(changes)
    return BillCredentials(**values)  # type: ignore[arg-type]


def session_state(tag: str = "a", at: datetime = T0) -> SessionState:
    return SessionState(
        session_id=SecretStr(f"sess-{tag}-7f3e"),
        user_id="00601USER",
        trusted=False,
        started_at=at,
        last_used_at=at,
        raw={"organizationId": "00801ABCDEFGHIJKLMNO", "userId": "00601USER", "sessionId": "must-be-dropped"},
    )


async def link(
    repo: ConnectionRepository,
    connection_id: str = "conn-1",
    *,
    provider_config_key: str = "bill-sandbox",
    tag: str = "a",
    end_user: dict[str, object] | None = None,
    tags: dict[str, str] | None = None,
) -> tuple[Connection, bool]:
    return await repo.upsert_linked(
        connection_id=connection_id,
        provider_config_key=provider_config_key,
        environment="sandbox",
        credentials=credentials(tag),
        session=session_state(tag),
        end_user=end_user,
        tags=tags or {},
        webhook_url_override=None,
        connection_config={},
    )
