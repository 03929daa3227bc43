"""The proxy's path for writes sent with an ``Idempotency-Key``: run once, store, replay."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import Send

from billbridge.bill.transport import StreamedResponse
from billbridge.connections import Proxy
from billbridge.connections.idempotency import (
    IdempotencyError,
    IdempotentRequests,
    Lead,
    may_have_reached_bill,
    request_fingerprint,
)
from billbridge.errors import BillbridgeError
from billbridge.store import Connection, StoredAnswer
from billbridge.web.errors import ApiError, issue, response_for

REPLAYED = (b"idempotent-replayed", b"true")


async def proxy_once(
    requests: IdempotentRequests,
    proxy: Proxy,
    conn: Connection,
    send: Send,
    *,
    key: str,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    retries: int,
    base_url_override: str | None,
) -> None:
    """Answer one keyed write: BILL's answer for the first request, the stored one after it.

    Raises:
        ApiError: 409 naming ``Idempotency-Key`` (reused for another request, still running, or
            its answer not kept).
    """
    try:
        outcome = await requests.begin(conn.pk, key, request_fingerprint(method, path, query, body))
    except IdempotencyError as exc:
        problem = issue(["Idempotency-Key"], exc.message, exc.code)
        raise ApiError(409, exc.code, exc.message, errors=[problem]) from None
    if isinstance(outcome, StoredAnswer):
        await _start(send, outcome.status, [*_encoded(outcome.headers), REPLAYED], len(outcome.body or b""))
        await send({"type": "http.response.body", "body": outcome.body or b""})
        return
    lead, reached = outcome, False
    try:
        async with proxy.open(
            conn,
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            retries=retries,
            base_url_override=base_url_override,
        ) as answer:
            reached = True
            await _answer(lead, answer, send, requests.answer_cap)
    except BaseException as exc:
        if not lead.done.is_set():
            if isinstance(exc, BillbridgeError) and (reached or may_have_reached_bill(exc)):
                # BILL went silent or broke off: it may have acted, so this failure is the answer.
                failure = response_for(exc)
                kept = tuple((k, v) for k, v in failure.headers.items() if k != "content-length")
                await lead.complete(StoredAnswer(failure.status_code, kept, bytes(failure.body)))
            elif not reached:
                await lead.release()
            # Otherwise BILL answered but the answer could not be kept: the claim stays pending
            # until its lease ends, so no duplicate runs meanwhile.
        raise


async def _answer(lead: Lead, answer: StreamedResponse, send: Send, cap: int) -> None:
    """Store BILL's answer (up to ``cap`` bytes), then send it; a larger one is sent, not kept."""
    chunks, size = [], 0
    if answer.body is not None:
        chunks, size = [answer.body], len(answer.body)
    else:
        while size <= cap and (chunk := await answer.next_chunk()):
            chunks.append(chunk)
            size += len(chunk)
    read_all = answer.body is not None or size <= cap
    head = b"".join(chunks)
    kept = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.raw_headers)
    # Stored before it is sent: a caller that gave up meanwhile gets it on its retry.
    await lead.complete(StoredAnswer(answer.status, kept, head if size <= cap else None))
    if read_all:
        await _start(send, answer.status, list(answer.raw_headers), len(head))
        await send({"type": "http.response.body", "body": head})
        return
    await _start(send, answer.status, list(answer.raw_headers), answer.length)
    await send({"type": "http.response.body", "body": head, "more_body": True})
    while chunk := await answer.next_chunk():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _start(send: Send, status: int, headers: list[tuple[bytes, bytes]], length: int | None) -> None:
    raw = [*headers, (b"content-length", str(length).encode())] if length is not None else headers
    await send({"type": "http.response.start", "status": status, "headers": raw})


def _encoded(headers: Sequence[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
