"""FastAPI dependencies as ``Annotated`` aliases: services, secret-key and connect-token auth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from billbridge.connections import BillClients, SessionKeeper
from billbridge.store import ConnectionRepository, ConnectSession, ConnectSessionRepository
from billbridge.web.keys import (
    CONNECT_PREFIX,
    bearer,
    check_connect_token_format,
    unknown_connect_token,
)
from billbridge.web.services import Services
from billbridge.web.validation import json_gate


def get_services(request: Request) -> Services:
    """The services the lifespan opened."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_connections(services: ServicesDep) -> ConnectionRepository:
    return services.connections


def get_connect_sessions(services: ServicesDep) -> ConnectSessionRepository:
    return services.connect_sessions


def get_keeper(services: ServicesDep) -> SessionKeeper:
    return services.keeper


def get_clients(services: ServicesDep) -> BillClients:
    return services.clients


ConnectionsDep = Annotated[ConnectionRepository, Depends(get_connections)]
ConnectSessionsDep = Annotated[ConnectSessionRepository, Depends(get_connect_sessions)]
KeeperDep = Annotated[SessionKeeper, Depends(get_keeper)]
ClientsDep = Annotated[BillClients, Depends(get_clients)]


async def require_secret_key(request: Request, services: ServicesDep) -> None:
    """401 unless ``Authorization: Bearer <secret key>`` carries a valid key."""
    await services.secret_keys.check(bearer(request.headers.get("authorization")))


@dataclass(frozen=True, slots=True)
class ConnectContext:
    """A request authorised by a connect session token."""

    token: str
    session: ConnectSession


async def lookup_connect_token(services: Services, token: str) -> ConnectContext:
    """The connect session of ``token``; 401 when malformed, unknown or expired."""
    check_connect_token_format(token)
    session = await services.connect_sessions.get_by_token(token)
    if session is None:
        raise unknown_connect_token()
    return ConnectContext(token=token, session=session)


async def require_connect_token(request: Request, services: ServicesDep) -> ConnectContext:
    """``Authorization: Bearer <connect session token>`` (the Connect UI's routes)."""
    return await lookup_connect_token(services, bearer(request.headers.get("authorization")))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called a route that takes either credential: ``connect`` is set for a connect token."""

    connect: ConnectContext | None


async def require_key_or_connect_token(request: Request, services: ServicesDep) -> Caller:
    """A secret key or a connect session token (``GET /integrations``)."""
    value = bearer(request.headers.get("authorization"))
    if value.startswith(CONNECT_PREFIX):
        return Caller(connect=await lookup_connect_token(services, value))
    await services.secret_keys.check(value)
    return Caller(connect=None)


SecretKeyDep = Annotated[None, Depends(require_secret_key)]
ConnectTokenDep = Annotated[ConnectContext, Depends(require_connect_token)]
CallerDep = Annotated[Caller, Depends(require_key_or_connect_token)]
JsonGateDep = Annotated[None, Depends(json_gate)]

# Router-level guards, in Nango's order: authentication first, then the JSON gate.
SECRET_KEY_GUARDS = [Depends(require_secret_key), Depends(json_gate)]
CONNECT_TOKEN_GUARDS = [Depends(require_connect_token), Depends(json_gate)]
