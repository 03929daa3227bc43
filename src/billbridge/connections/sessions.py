"""SessionKeeper: hands out live BILL sessions, re-logging in once however many callers need one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from billbridge.bill import SessionAuth
from billbridge.connections.clients import BillClients
from billbridge.connections.clock import Clock, utc_now
from billbridge.connections.connection_cache import ConnectionCache
from billbridge.connections.events import Events
from billbridge.connections.login_policy import (
    IDLE_TIMEOUT,
    LOGIN_DEADLINE_SECONDS,
    USE_RECORD_INTERVAL,
)
from billbridge.connections.relogin import Relogin, cooldown_message, rejected_message
from billbridge.connections.session_cache import CacheEntry
from billbridge.errors import (
    BillServerError,
    BillTransportError,
    CredentialsRejectedError,
    LoginCooldownError,
    RateLimitError,
    SessionExpiredError,
    UntrustedSessionError,
)
from billbridge.store import Connection, ConnectionRepository

T = TypeVar("T")

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A session the caller may use now.

    Attributes:
        auth: ``devKey`` + ``sessionId`` + organization for the BILL client.
        generation: Report it to :meth:`SessionKeeper.invalidate` if BILL answers ``BDC_1109``.
        expires_at: When BILL ends the session if nobody uses it again (35 idle minutes).
    """

    auth: SessionAuth
    generation: int
    expires_at: datetime


class SessionKeeper:
    """Keeps one BILL session per connection alive for every caller of this process.

    The hot path (:meth:`live_session` on a fresh session) touches neither the database nor the
    network. Re-login is single-flight: one task per connection in this process, and the store's
    ``login_lock`` (a row lock on PostgreSQL) across processes, re-checked once the lock is won.
    """

    def __init__(
        self,
        repo: ConnectionRepository,
        clients: BillClients,
        *,
        clock: Clock = utc_now,
        cache_ttl: timedelta = timedelta(seconds=15),
        login_deadline: float = LOGIN_DEADLINE_SECONDS,
        events: Events | None = None,
    ) -> None:
        """Build the keeper.

        Args:
            repo: Where connections and their sessions are stored.
            clients: The BILL clients to log in with.
            clock: Aware UTC "now" (tests pass a simulated clock).
            cache_ttl: How long a cached connection is served before it is re-read in the background.
            login_deadline: Seconds a login may take in all, the client's retries included.
            events: Told every login (``LoginFinished``) and each refusal of working credentials
                (``RefreshFailed``); a private notifier when omitted.
        """
        self._repo = repo
        self._clock = clock
        self._cache = ConnectionCache(repo, clock=clock, ttl=cache_ttl)
        self._relogin = Relogin(
            repo, clients, clock=clock, deadline=login_deadline, events=events or Events()
        )
        self._clients = clients

    async def lookup(self, connection_id: str, provider_config_key: str) -> Connection:
        """The connection, from this process's cache when possible (revalidated in the background).

        Raises:
            NotFoundError: ``unknown_connection`` when no such connection exists.
        """
        return await self._cache.lookup(connection_id, provider_config_key)

    def forget(self, pk: int) -> None:
        """Drop a connection from the cache (after it was deleted or re-linked in this process)."""
        self._cache.forget(pk)

    async def live_session(
        self, conn: Connection, *, min_validity: timedelta | None = None, mark_used: bool = True
    ) -> LiveSession:
        """A session usable now, logging in first only if the current one is idle too long.

        Args:
            conn: The connection (any recent read; the keeper's cache wins if it is newer).
            min_validity: Also require the session to stay usable this long without further use
                (``GET /connections/{id}`` hands the session out to be used directly). A session
                that is alive but too close to its end is extended with one cheap BILL call
                instead of a login.
            mark_used: Count this hand-out as a use of the session (true for proxied calls).

        Raises:
            CredentialsRejectedError: The connection is ``invalid_credentials``; re-link it.
            LoginCooldownError: A recent login failed transiently; ``retry_after`` seconds.
            RateLimitError: The developer key's login budget is spent until ``reset_at``.
        """
        entry = self._entry(conn)
        now = self._clock()
        if not entry.is_invalid and entry.usable(now, min_validity):
            return self._hand_out(entry, now, mark_used=mark_used)
        await self._renew(entry, expected=entry.generation, force=False, min_validity=min_validity)
        return self._hand_out(entry, self._clock(), mark_used=mark_used)

    async def refresh(self, conn: Connection, *, force: bool = True) -> LiveSession:
        """Log in anew (``force``), or only when the session is no longer usable.

        An explicit forced refresh is allowed during a login cooldown, never on a connection
        marked ``invalid_credentials``.
        """
        entry = self._entry(conn)
        if not force:
            return await self.live_session(conn)
        await self._renew(entry, expected=entry.generation, force=True, explicit=True)
        return self._hand_out(entry, self._clock(), mark_used=False)

    async def invalidate(self, conn: Connection, generation: int) -> LiveSession:
        """BILL answered ``BDC_1109`` to a call made with ``generation``: get a working session.

        Only if ``generation`` is still the current one is a new login made; otherwise the session
        someone else already obtained is handed out.
        """
        entry = self._entry(conn)
        now = self._clock()
        if entry.generation != generation and not entry.is_invalid and entry.usable(now):
            return self._hand_out(entry, now, mark_used=True)
        await self._renew(entry, expected=generation, force=True)
        return self._hand_out(entry, self._clock(), mark_used=True)

    async def call(self, conn: Connection, fn: Callable[[SessionAuth], Awaitable[T]]) -> T:
        """Run ``fn(auth)``; on ``BDC_1109`` re-login once and replay once.

        Raises:
            UntrustedSessionError: ``BDC_1361``; never answered with a re-login.
        """
        live = await self.live_session(conn)
        try:
            try:
                return await fn(live.auth)
            except SessionExpiredError:
                live = await self.invalidate(conn, live.generation)
                return await fn(live.auth)
        except UntrustedSessionError as exc:
            raise untrusted_error(conn, exc) from exc

    async def aclose(self) -> None:
        """Wait for background writes (use records, revalidations) to finish."""
        await self._cache.aclose()

    # -- internals -----------------------------------------------------------------------------

    def _entry(self, conn: Connection) -> CacheEntry:
        return self._cache.entry(conn)

    def _hand_out(self, entry: CacheEntry, now: datetime, *, mark_used: bool) -> LiveSession:
        auth, last_used = entry.auth, entry.last_used
        if auth is None or last_used is None:  # a renewal that returned always leaves a session
            raise SessionExpiredError("no BILL session is available for this connection")
        if mark_used:
            last_used = entry.last_used = max(last_used, now)
            recorded = entry.recorded_use
            if recorded is None or now - recorded >= USE_RECORD_INTERVAL:
                self._record_use(entry, now)
        return LiveSession(auth=auth, generation=entry.generation, expires_at=last_used + IDLE_TIMEOUT)

    async def _renew(
        self,
        entry: CacheEntry,
        *,
        expected: int,
        force: bool,
        explicit: bool = False,
        min_validity: timedelta | None = None,
    ) -> None:
        self._check_blocked(entry, explicit=explicit)
        task = entry.refresh
        if task is None:
            if not force and min_validity is not None and entry.usable(self._clock()):
                coro = self._extend_or_renew(entry, min_validity)
            else:
                coro = self._relogin.run(entry, expected=expected, force=force, explicit=explicit)
            task = asyncio.create_task(coro)
            entry.refresh = task
            task.add_done_callback(lambda done: _renewal_done(entry, done))
        # Shielded: a caller that goes away must not cancel the login the others wait for.
        await asyncio.shield(task)

    async def _extend_or_renew(self, entry: CacheEntry, min_validity: timedelta) -> None:
        # Any call resets BILL's idle timer, so one session-info call buys 35 minutes for the
        # price of a request instead of a login (200 per hour per developer key).
        auth = entry.auth
        if auth is not None:
            client = self._clients.for_integration(entry.conn.provider_config_key)
            try:
                await client.session_info(auth)
            except SessionExpiredError:
                pass
            except (BillTransportError, BillServerError) as exc:
                log.warning("bill_session_extend_failed", code=exc.code)
                return
            else:
                now = self._clock()
                entry.last_used = now
                self._record_use(entry, now)
                if entry.usable(now, min_validity):
                    return
        await self._relogin.run(entry, expected=entry.generation, force=True, explicit=False)

    def _check_blocked(self, entry: CacheEntry, *, explicit: bool) -> None:
        now = self._clock()
        if entry.is_invalid:
            raise CredentialsRejectedError(rejected_message(entry.conn))
        if entry.blocked_until is not None and now < entry.blocked_until:
            raise RateLimitError(
                "The developer key's hourly login budget is spent; BILL accepts logins again at "
                f"{entry.blocked_until.isoformat()}.",
                reset_at=entry.blocked_until,
            )
        if not explicit and entry.cooldown_until is not None and now < entry.cooldown_until:
            wait = (entry.cooldown_until - now).total_seconds()
            raise LoginCooldownError(cooldown_message(entry.conn, wait), retry_after=wait)

    def _record_use(self, entry: CacheEntry, at: datetime) -> None:
        if entry.recording:
            return
        entry.recording = True
        entry.recorded_use = at
        self._cache.spawn(self._write_use(entry, at))

    async def _write_use(self, entry: CacheEntry, at: datetime) -> None:
        try:
            await self._repo.record_session_use(entry.conn.pk, at)
        except Exception as exc:  # a lost use record only makes a re-login happen early
            log.warning("session_use_not_recorded", error=type(exc).__name__)
        finally:
            entry.recording = False


def _renewal_done(entry: CacheEntry, task: asyncio.Task[None]) -> None:
    if entry.refresh is task:
        entry.refresh = None
    if not task.cancelled():
        task.exception()  # retrieved here so a failure nobody awaited is not reported as lost


def untrusted_error(conn: Connection, exc: UntrustedSessionError) -> UntrustedSessionError:
    """``BDC_1361`` restated for the caller: the fix is MFA, not a new login."""
    return UntrustedSessionError(
        "This BILL operation needs an MFA-trusted session, and the session of connection "
        f"{conn.connection_id!r} is not trusted. Re-link the connection and complete the MFA step "
        "(remember this device) to make its sessions trusted.",
        code=exc.code,
        http_status=exc.http_status,
        request=exc.request,
        errors=exc.errors,
    )
