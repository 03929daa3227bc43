"""SessionKeeper: hands out live BILL sessions, re-logging in once however many callers need one."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import structlog
from pydantic import SecretStr

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
)
from billbridge.store import Connection, ConnectionRepository

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
    ``login_lock`` (an advisory lock on PostgreSQL) across processes, re-checked once the lock is
    won. BILL is called with no write transaction open; the new session is saved with a
    compare-and-set on the session generation. Every BILL call of the keeper goes through the same
    client send path (limits included) as the proxy's: logins, and session-info calls through
    :meth:`auth`, the flow that also serves the proxy, MFA and the syncs.
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
        if min_validity is not None and not entry.is_invalid and entry.usable(now):
            # Alive but too close to its end: any call resets BILL's idle timer, so one
            # session-info call buys 35 minutes for the price of a request instead of a login
            # (200 per hour per developer key).
            await self._extend(entry)
            return self._hand_out(entry, self._clock(), mark_used=mark_used)
        await self._renew(entry, expected=entry.generation, force=False)
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

    def auth(self, conn: Connection, *, replay: bool = True) -> KeeperAuth:
        """The :class:`~billbridge.bill.AuthFlow` of ``conn`` for ``BillClient`` calls.

        It sends with the live session, and on ``BDC_1109`` renews it (one login however many
        callers found it dead) and replays the request once with the new one; ``replay=False``
        renews without replaying (an MFA code belongs to the session that asked for it).
        ``BDC_1361`` (untrusted session) is never answered with a login.
        """
        return KeeperAuth(self, conn, replay)

    async def trust(
        self, conn: Connection, session_id: SecretStr, *, remember_me_id: str | None, device: str
    ) -> None:
        """BILL made the session ``session_id`` MFA-trusted: keep that, and the remembered device.

        The trusted flag is saved only if that session is still the connection's current one (a
        newer login carries its own flag).
        """
        if remember_me_id:
            fresh = await self._repo.get_by_pk(conn.pk) or conn
            credentials = dataclasses.replace(
                fresh.credentials, remember_me_id=SecretStr(remember_me_id), device=device
            )
            await self._repo.update_credentials(conn.pk, credentials)
        async with self._repo.login_lock(conn.pk) as handle:
            state = handle.connection.session
            if (
                state.session_id is not None
                and state.session_id.get_secret_value() == session_id.get_secret_value()
            ):
                await handle.save_session(
                    dataclasses.replace(state, trusted=True, raw={**state.raw, "trusted": True})
                )
        self.forget(conn.pk)

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

    async def _renew(self, entry: CacheEntry, *, expected: int, force: bool, explicit: bool = False) -> None:
        self._check_blocked(entry, explicit=explicit)
        task = entry.refresh
        if task is None:
            coro = self._relogin.run(entry, expected=expected, force=force, explicit=explicit)
            task = asyncio.create_task(coro)
            entry.refresh = task
            task.add_done_callback(lambda done: _task_done(entry, "refresh", done))
        # Shielded: a caller that goes away must not cancel the login the others wait for.
        await asyncio.shield(task)

    async def _extend(self, entry: CacheEntry) -> None:
        task = entry.extension
        if task is None:
            task = asyncio.create_task(self._session_info(entry))
            entry.extension = task
            task.add_done_callback(lambda done: _task_done(entry, "extension", done))
        await asyncio.shield(task)

    async def _session_info(self, entry: CacheEntry) -> None:
        client = self._clients.for_integration(entry.conn.provider_config_key)
        try:
            # Through the auth flow: a session BILL already ended is renewed and asked again.
            await client.session_info(self.auth(entry.conn))
        except (BillTransportError, BillServerError) as exc:
            log.warning("bill_session_extend_failed", code=exc.code)

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


def _task_done(entry: CacheEntry, name: Literal["refresh", "extension"], task: asyncio.Task[None]) -> None:
    if getattr(entry, name) is task:
        setattr(entry, name, None)
    if not task.cancelled():
        task.exception()  # retrieved here so a failure nobody awaited is not reported as lost


@dataclass(slots=True, eq=False)
class KeeperAuth:
    """The keeper's :class:`~billbridge.bill.AuthFlow` for one connection (see :meth:`SessionKeeper.auth`)."""

    keeper: SessionKeeper
    conn: Connection
    replay: bool = True
    #: The session the last try was sent with (MFA marks that very session trusted).
    used: LiveSession | None = None

    async def auth_flow(self) -> AsyncGenerator[SessionAuth, str | None]:
        live = self.used = await self.keeper.live_session(self.conn)
        code = yield live.auth
        if code == SessionExpiredError.default_code:  # BDC_1109
            # BILL did nothing with the request, so replaying it once is safe.
            live = await self.keeper.invalidate(self.conn, live.generation)
            if self.replay:
                self.used = live
                yield live.auth
