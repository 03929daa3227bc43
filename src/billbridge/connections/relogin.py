"""One re-login of one connection, under the store's cross-process login lock.

The lock opens no write transaction: BILL's login (up to the login deadline) runs with the
database free for everyone else, and the outcome is saved with a compare-and-set on the session
generation (``store.locking``).
"""

from __future__ import annotations

import asyncio

import structlog

from billbridge.bill import LoginResult
from billbridge.connections.clients import BillClients
from billbridge.connections.clock import Clock
from billbridge.connections.events import Events, LoginFinished, RefreshFailed
from billbridge.connections.login_policy import (
    LOGIN_DEADLINE_SECONDS,
    LoginOutcome,
    classify_login_error,
    cooldown_for,
)
from billbridge.connections.session_cache import CacheEntry, merge
from billbridge.errors import (
    BillbridgeError,
    BillTransportError,
    CredentialsRejectedError,
    LoginCooldownError,
    RateLimitError,
)
from billbridge.store import Connection, ConnectionRepository, LoginHandle, SessionState

log = structlog.get_logger(__name__)


class Relogin:
    """Runs the login of a connection once its in-process single-flight task has been chosen."""

    def __init__(
        self,
        repo: ConnectionRepository,
        clients: BillClients,
        *,
        clock: Clock,
        events: Events,
        deadline: float = LOGIN_DEADLINE_SECONDS,
    ) -> None:
        self._repo = repo
        self._clients = clients
        self._clock = clock
        self._events = events
        self._deadline = deadline

    async def run(self, entry: CacheEntry, *, expected: int, force: bool, explicit: bool) -> None:
        """Leave ``entry`` with a usable session, or raise why there is none.

        Args:
            entry: The cache entry to update.
            expected: The generation the caller found wanting; a newer stored one is adopted.
            force: Log in even if the stored session looks fresh (BILL said it is dead, or the
                caller asked for a new one), unless someone already replaced ``expected``.
            explicit: The caller asked for this refresh; a login cooldown does not apply.

        Raises:
            CredentialsRejectedError, LoginCooldownError, RateLimitError, StoreError.
        """
        failure: BillbridgeError | None = None
        login: LoginFinished | None = None
        # The failure is recorded (committed) inside the lock and raised once the lock is released;
        # events are told after it too, as their subscribers write to the database.
        async with self._repo.login_lock(entry.conn.pk) as handle:
            now = self._clock()
            merge(entry, handle.connection, now)
            if entry.is_invalid:
                failure = CredentialsRejectedError(rejected_message(entry.conn))
            elif (entry.generation != expected or not force) and entry.usable(now):
                return  # another process logged in, or used the session, while we waited
            elif not explicit and entry.cooldown_until is not None and now < entry.cooldown_until:
                wait = (entry.cooldown_until - now).total_seconds()
                failure = LoginCooldownError(cooldown_message(entry.conn, wait), retry_after=wait)
            else:
                try:
                    result = await self._login(entry)
                except BillbridgeError as exc:
                    login = LoginFinished(purpose="renew", outcome=exc.code)
                    failure = await self._failed(entry, handle, exc)
                else:
                    login = LoginFinished(purpose="renew", outcome="ok")
                    await self._succeeded(entry, handle, result)
        if login is not None:
            await self._events.emit(login)
            if isinstance(failure, CredentialsRejectedError):
                # Only the login that marked the connection gets here: once per refusal.
                await self._events.emit(RefreshFailed(entry.conn, code=failure.code, message=failure.message))
        if failure is not None:
            raise failure

    async def _login(self, entry: CacheEntry) -> LoginResult:
        creds = entry.conn.credentials
        client = self._clients.for_integration(entry.conn.provider_config_key)
        log.info("bill_login", connection_id=entry.conn.connection_id)
        try:
            async with asyncio.timeout(self._deadline):
                return await client.login(
                    username=creds.username,
                    password=creds.password,
                    organization_id=creds.organization_id,
                    dev_key=creds.dev_key,
                    # Remembered MFA makes the new session trusted without another code.
                    remember_me_id=creds.remember_me_id,
                    device=creds.device if creds.remember_me_id is not None else None,
                )
        except TimeoutError:
            raise BillTransportError(
                f"BILL did not complete the login within {self._deadline:g} s",
                code="bill_timeout",
            ) from None

    async def _succeeded(self, entry: CacheEntry, handle: LoginHandle, result: LoginResult) -> None:
        # Superseded (re-linked during the login): the handle holds the newer row, merged below.
        now = self._clock()
        saved = await handle.save_session(
            SessionState(
                session_id=result.session_id,
                user_id=result.user_id,
                trusted=result.trusted,
                started_at=now,
                last_used_at=now,
                raw=result.raw,
            )
        )
        merge(entry, saved, now)
        entry.blocked_until = None

    async def _failed(
        self, entry: CacheEntry, handle: LoginHandle, exc: BillbridgeError
    ) -> BillbridgeError | None:
        outcome = classify_login_error(exc)
        now = self._clock()
        failure: BillbridgeError
        if outcome is LoginOutcome.REJECTED:
            merge(entry, await handle.mark_invalid(f"{exc.code}: {exc.message}"), now)
            if handle.superseded and entry.usable(now):
                return None  # re-linked with new credentials while the old ones were refused
            log.warning("bill_login_rejected", connection_id=entry.conn.connection_id, code=exc.code)
            failure = CredentialsRejectedError(rejected_message(entry.conn))
        elif outcome is LoginOutcome.BUDGET and isinstance(exc, RateLimitError):
            entry.blocked_until = exc.reset_at
            return exc
        else:
            wait = cooldown_for(exc, entry.conn.login_failures + 1)
            merge(entry, await handle.record_failure(f"{exc.code}: {exc.message}", now + wait), now)
            log.warning("bill_login_failed", connection_id=entry.conn.connection_id, code=exc.code)
            seconds = wait.total_seconds()
            failure = LoginCooldownError(cooldown_message(entry.conn, seconds), retry_after=seconds)
        failure.__cause__ = exc
        return failure


def rejected_message(conn: Connection) -> str:
    """The message of :class:`CredentialsRejectedError` for a connection marked invalid."""
    reason = f" ({conn.last_error})" if conn.last_error else ""
    return (
        f"BILL refused the stored credentials of connection {conn.connection_id!r}{reason}. "
        "No further logins are attempted; re-link the connection to use it again."
    )


def cooldown_message(conn: Connection, wait: float) -> str:
    """The message of :class:`LoginCooldownError` while a connection cools down."""
    return (
        f"The last login to BILL for connection {conn.connection_id!r} failed "
        f"({conn.last_error or 'transient error'}); the next attempt is allowed in {wait:.0f} s."
    )
