"""How a call proves who it is: a BILL session (devKey + sessionId) or an S&E ``apiToken``, fixed
(:class:`SessionAuth`, :class:`ApiTokenAuth`) or obtained and renewed by an :class:`AuthFlow`.

Secrets are held as ``SecretStr`` and never appear in a ``repr``; the header dictionary each
auth builds is cached because it is sent with every request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import SecretStr


def as_secret(value: SecretStr | str) -> SecretStr:
    """Wrap a plain string in ``SecretStr`` (a ``SecretStr`` is returned as is)."""
    return value if isinstance(value, SecretStr) else SecretStr(value)


@dataclass(frozen=True, slots=True)
class SessionAuth:
    """An AP/AR session: every call sends the ``devKey`` used at login and the ``sessionId``."""

    dev_key: SecretStr
    session_id: SecretStr
    organization_id: str
    _headers: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dev_key", as_secret(self.dev_key))
        object.__setattr__(self, "session_id", as_secret(self.session_id))
        headers = {
            "devKey": self.dev_key.get_secret_value(),
            "sessionId": self.session_id.get_secret_value(),
        }
        object.__setattr__(self, "_headers", headers)

    @property
    def headers(self) -> dict[str, str]:
        """The auth headers (do not mutate: the dictionary is shared)."""
        return self._headers

    @property
    def limit_key(self) -> tuple[str, str]:
        """(developer key, organization): the unit BILL's concurrency limit counts in."""
        return (self._headers["devKey"], self.organization_id)

    def secrets(self) -> tuple[str, ...]:
        """The secret values, so error texts can be scrubbed of them."""
        return (self._headers["devKey"], self._headers["sessionId"])


@dataclass(frozen=True, slots=True)
class ApiTokenAuth:
    """A Spend & Expense API token, sent as the ``apiToken`` header (no login, no devKey)."""

    api_token: SecretStr
    organization_id: str
    _headers: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_token", as_secret(self.api_token))
        object.__setattr__(self, "_headers", {"apiToken": self.api_token.get_secret_value()})

    @property
    def headers(self) -> dict[str, str]:
        """The auth headers (do not mutate: the dictionary is shared)."""
        return self._headers

    @property
    def limit_key(self) -> None:
        """S&E calls are outside the developer-key limits."""
        return None

    def secrets(self) -> tuple[str, ...]:
        """The secret values, so error texts can be scrubbed of them."""
        return (self._headers["apiToken"],)


Auth = SessionAuth | ApiTokenAuth


class AuthFlow(Protocol):
    """Credentials that can recover from BILL's answer, as ``httpx.Auth.auth_flow`` does.

    The client iterates ``auth_flow()`` once per request: the first value yielded is the auth to
    send with; after an error answer the client sends in BILL's error code (``BDC_...``, or None
    when the answer carried none). Yielding another auth makes the client send the request again
    with it (budgets, slot and retries as for the first); returning hands the answer over. A
    success ends the flow (it is closed). Errors raised by the flow (no session can be had)
    reach the caller unchanged.
    """

    def auth_flow(self) -> AsyncGenerator[Auth, str | None]:
        """Yield the auth of each try (see the class)."""
        ...


@dataclass(frozen=True, slots=True)
class LoginResult:
    """BILL's answer to ``POST /v3/login``.

    Attributes:
        session_id: the new session.
        organization_id: the organization signed in to (``008...``).
        user_id: the signed-in user (``006...``).
        trusted: whether the session is MFA-trusted (login with a valid ``rememberMeId``).
        raw: BILL's whole answer without ``sessionId``.
    """

    session_id: SecretStr
    organization_id: str
    user_id: str
    trusted: bool
    raw: dict[str, Any]

    def auth(self, dev_key: SecretStr | str) -> SessionAuth:
        """Return the :class:`SessionAuth` for calls in this session."""
        return SessionAuth(as_secret(dev_key), self.session_id, self.organization_id)
