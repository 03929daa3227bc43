"""Idempotent proxied writes (``Idempotency-Key``, as Stripe has it): one BILL call per key.

BILL's creates are not idempotent: a caller that retries after a timeout may create a second bill
or payment. With a key, the first request claims it and runs; its answer is stored for 24 hours
and replayed to every later request with the same key and the same request; a duplicate that
arrives while the first still runs waits for it (in this process by an event, across processes
on the shared database by polling). The same key with another request is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from billbridge.bill.transport import NOT_SENT
from billbridge.errors import BillbridgeError, BillTransportError
from billbridge.store import IdempotencyRecord, IdempotencyRepository, StoredAnswer

# Methods whose key is honoured; GET and DELETE are idempotent already (Stripe ignores keys there).
IDEMPOTENT_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Answers up to this size are stored; BILL answers a create with one object, far below it.
ANSWER_CAP = 1 << 20
MAX_KEY_LENGTH = 255


class IdempotencyError(BillbridgeError):
    """An ``Idempotency-Key`` that cannot be honoured now (answered 409)."""

    default_code = "idempotency_error"


def request_fingerprint(method: str, path: str, query: Sequence[tuple[str, str]], body: bytes) -> str:
    """What makes two requests "the same" for a key: method, path, query and body."""
    digest = hashlib.sha256()
    for part in (method.upper(), path, "&".join(f"{k}={v}" for k, v in query)):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(body)
    return digest.hexdigest()


def may_have_reached_bill(exc: BaseException) -> bool:
    """Whether BILL may have acted on a request that failed with ``exc``: then the failure is the
    key's answer (replayed), since running the request again could act twice."""
    return isinstance(exc, BillTransportError) and exc.code != NOT_SENT


def check_key(key: str) -> str | None:
    """The problem with an ``Idempotency-Key`` value, or None if it is usable."""
    if not key:
        return "Idempotency-Key must not be empty."
    if len(key) > MAX_KEY_LENGTH:
        return f"Idempotency-Key may hold at most {MAX_KEY_LENGTH} characters (a UUID is a good key)."
    if not key.isascii() or not key.isprintable():
        return "Idempotency-Key may hold printable ASCII characters only (a UUID is a good key)."
    return None


@dataclass(eq=False)
class Lead:
    """The claim of the first request with a key: :meth:`complete` with its answer, or
    :meth:`release` when it never reached BILL (the key is then free again)."""

    owner: IdempotentRequests
    connection_pk: int
    key: str
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def complete(self, answer: StoredAnswer) -> None:
        try:
            await self.owner.repository.complete(self.connection_pk, self.key, answer)
        finally:
            self._finish()

    async def release(self) -> None:
        try:
            await self.owner.repository.release(self.connection_pk, self.key)
        finally:
            self._finish()

    def _finish(self) -> None:
        self.done.set()
        self.owner.leads.pop((self.connection_pk, self.key), None)


class IdempotentRequests:
    """Decides, per key, whether a request runs, waits, is replayed or is refused.

    Args:
        repository: where keys and answers live (shared by every process on PostgreSQL).
        wait: seconds a duplicate waits for the first request before a 409 (retry later).
        first_poll, max_poll: polling interval bounds while waiting on another process.
        answer_cap: the largest answer body kept for replays, in bytes; a larger one is relayed to
            the first caller only, and later requests with the key get 409
            ``idempotent_answer_not_kept`` (BILL did act; read the result from BILL).
    """

    def __init__(
        self,
        repository: IdempotencyRepository,
        *,
        wait: float = 60.0,
        first_poll: float = 0.01,
        max_poll: float = 0.25,
        answer_cap: int = ANSWER_CAP,
    ) -> None:
        self.repository = repository
        self.answer_cap = answer_cap
        self.leads: dict[tuple[int, str], Lead] = {}
        self._wait = wait
        self._first_poll = first_poll
        self._max_poll = max_poll

    async def begin(self, connection_pk: int, key: str, fingerprint: str) -> Lead | StoredAnswer:
        """Claim ``key`` (the caller runs the request) or get the stored answer to replay.

        Raises:
            IdempotencyError: the key was used for another request (``idempotency_key_reused``),
                the first request still runs after ``wait`` seconds (``idempotency_key_in_use``),
                or its answer was too large to keep (``idempotent_answer_not_kept``).
        """
        deadline = time.monotonic() + self._wait
        delay = self._first_poll
        record = await self.repository.claim(connection_pk, key, fingerprint)
        while True:
            if record is None:
                lead = Lead(self, connection_pk, key)
                self.leads[(connection_pk, key)] = lead
                return lead
            answer = self._settled(record, fingerprint)
            if answer is not None:
                return answer
            if time.monotonic() >= deadline:
                raise IdempotencyError(
                    "A request with this Idempotency-Key is still running; retry it later with the "
                    "same key to get its answer.",
                    code="idempotency_key_in_use",
                )
            local = self.leads.get((connection_pk, key))
            if local is not None:
                # The first request runs in this process: wake as soon as it finishes.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(local.done.wait(), max(0.0, deadline - time.monotonic()))
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_poll)
            record = await self.repository.get(connection_pk, key)
            if record is None:  # released, expired or abandoned: try to claim it ourselves
                record = await self.repository.claim(connection_pk, key, fingerprint)

    def _settled(self, record: IdempotencyRecord, fingerprint: str) -> StoredAnswer | None:
        """The answer to replay; None while the first request runs."""
        if record.request_hash != fingerprint:
            raise IdempotencyError(
                "This Idempotency-Key was already used for a different request (method, path, query or "
                "body differ); use a new key for a new request.",
                code="idempotency_key_reused",
            )
        if record.state != "done" or record.answer is None:
            return None
        if record.answer.body is None:
            raise IdempotencyError(
                f"BILL answered the first request with this Idempotency-Key (status {record.answer.status}), "
                f"but the answer was larger than {self.answer_cap} bytes and was not kept; read the result "
                "from BILL instead of retrying.",
                code="idempotent_answer_not_kept",
            )
        return record.answer
