"""FastAPI dependencies as ``Annotated`` aliases: the runtime, secret-key and connect-token auth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from billbridge.connections import CONNECT_PREFIX
from billbridge.runtime import Runtime
from billbridge.store import ConnectSession
from billbridge.web.keys import (
    bearer,
    check_connect_token_format,
    check_secret_key,
    unknown_connect_token,
)
from billbridge.web.validation import json_gate


def get_runtime(request: Request) -> Runtime:
    """The runtime the lifespan opened."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def require_secret_key(request: Request, services: RuntimeDep) -> None:
    """401 unless ``Authorization: Bearer <secret key>`` carries a valid key."""
    await check_secret_key(services.secret_keys, bearer(request.headers.get("authorization")))


@dataclass(frozen=True, slots=True)
class ConnectContext:
    """A request authorised by a connect session token."""

    token: str
    session: ConnectSession


async def lookup_connect_token(services: Runtime, token: str) -> ConnectContext:
    """The connect session of ``token``; 401 when malformed, unknown or expired."""
    check_connect_token_format(token)
    session = await services.connect_sessions.get_by_token(token)
    if session is None:
        raise unknown_connect_token()
    return ConnectContext(token=token, session=session)


async def require_connect_token(request: Request, services: RuntimeDep) -> ConnectContext:
    """``Authorization: Bearer <connect session token>`` (the Connect UI's routes)."""
    return await lookup_connect_token(services, bearer(request.headers.get("authorization")))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called a route that takes either credential: ``connect`` is set for a connect token."""

    connect: ConnectContext | None


async def require_key_or_connect_token(request: Request, services: RuntimeDep) -> Caller:
    """A secret key or a connect session token (``GET /integrations``)."""
    value = bearer(request.headers.get("authorization"))
    if value.startswith(CONNECT_PREFIX):
        return Caller(connect=await lookup_connect_token(services, value))
    await check_secret_key(services.secret_keys, value)
    return Caller(connect=None)


ConnectTokenDep = Annotated[ConnectContext, Depends(require_connect_token)]
CallerDep = Annotated[Caller, Depends(require_key_or_connect_token)]

# Router-level guards, in Nango's order: authentication first, then the JSON gate.
SECRET_KEY_GUARDS = [Depends(require_secret_key), Depends(json_gate)]
CONNECT_TOKEN_GUARDS = [Depends(require_connect_token), Depends(json_gate)]
