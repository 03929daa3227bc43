"""BILL's MFA challenge for the connection a connect session has just linked.

The page calls these after ``POST /auth/bill/...`` succeeded and the session or the deployment
asks for an MFA-trusted BILL session (payments need one). The connect session token
authenticates the call; only a connection linked with that very token (recorded on the connect
session by the linking endpoint) may be challenged.
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from billbridge.errors import BadRequestError, MfaError, SessionExpiredError
from billbridge.runtime import Runtime
from billbridge.store import Connection
from billbridge.web.api.auth import MAX_LINK_ATTEMPTS
from billbridge.web.connect_ui.ownership import linked_connection
from billbridge.web.deps import ConnectContext, ConnectTokenDep, RuntimeDep
from billbridge.web.errors import ApiError, issue
from billbridge.web.fields import Text255
from billbridge.web.openapi import CONNECT_TOKEN, errors, ok, operation
from billbridge.web.responses import MfaChallenge, MfaValidated

router = APIRouter(prefix="/connect/mfa")

# Every challenge sends a text message and every check is a guess; both count against the token,
# on top of the sign-in attempts the link itself may use.
MAX_ATTEMPTS = MAX_LINK_ATTEMPTS + 10
_MACHINE_NAME = "billbridge"


class MfaTarget(BaseModel):
    """The connection the page has just linked (the linking endpoint's answer)."""

    model_config = ConfigDict(extra="forbid")

    connectionId: Text255
    providerConfigKey: Text255


class MfaCheck(MfaTarget):
    """A code typed by the user for a challenge."""

    challengeId: Text255
    # The route reads 4 to 8 ASCII digits, spaces allowed between them (documented, checked there).
    code: str = Field(max_length=32, json_schema_extra={"pattern": "^\\s*([0-9]\\s*){4,8}$"})
    rememberDevice: bool = True


async def _target(services: Runtime, caller: ConnectContext, body: MfaTarget) -> Connection:
    """Count the attempt, then find the connection the caller's session linked."""
    if await services.connect_sessions.register_attempt(caller.token) > MAX_ATTEMPTS:
        raise ApiError(
            429,
            "too_many_attempts",
            "This link has been used for too many attempts; go back to the app and start linking again.",
        )
    return await linked_connection(services, caller.session, body.connectionId, body.providerConfigKey)


def device_name(connection: Connection) -> str:
    """The device nickname BILL remembers: one per connection, so each link can be revoked alone."""
    return "billbridge-" + re.sub(r"[^A-Za-z0-9-]", "", connection.connection_id)[:36]


@router.post(
    "/challenge",
    response_model=None,
    responses={
        **ok(MfaChallenge, "A code was texted (challengeId), or BILL already trusts this device."),
        **errors(400, 401, 403, 404, 413, 424, 429, 502, 503, 504),
    },
    openapi_extra=operation(security=CONNECT_TOKEN),
)
async def challenge(body: MfaTarget, caller: ConnectTokenDep, services: RuntimeDep) -> dict[str, str | bool]:
    """Ask BILL to text a code to the user's phone, unless BILL already trusts this connection.

    Returns:
        ``{"challengeId": ...}`` to send back with the code; or ``{"trusted": true,
        "remembered": true}`` when the link signed in with a device BILL remembers (a reconnect of
        the same user), so no code is needed.
    """
    conn = await _target(services, caller, body)
    if conn.session.trusted and conn.credentials.remember_me_id is not None:
        return {"trusted": True, "remembered": True}
    client = services.clients.for_integration(conn.provider_config_key)
    try:
        challenge_id = await client.mfa_challenge(services.keeper.auth(conn))
    except BadRequestError as exc:
        # Typically no phone is registered for two-step verification on this BILL user.
        raise ApiError(
            400,
            "mfa_unavailable",
            f"BILL could not send a code ({exc.message}). Set up two-step verification with a phone "
            "in BILL, then choose “Send a new code”.",
        ) from None
    return {"challengeId": challenge_id}


@router.post(
    "/validate",
    response_model=None,
    responses={
        **ok(MfaValidated, "The BILL session is trusted now."),
        **errors(400, 401, 403, 404, 413, 424, 429, 502, 503, 504),
    },
    openapi_extra=operation(security=CONNECT_TOKEN),
)
async def validate(body: MfaCheck, caller: ConnectTokenDep, services: RuntimeDep) -> dict[str, bool]:
    """Check the code; the BILL session becomes trusted, and with ``rememberDevice`` later logins too.

    Returns:
        ``{"trusted": true, "remembered": bool}``.
    """
    code = re.sub(r"\s+", "", body.code)
    if not re.fullmatch(r"[0-9]{4,8}", code):  # ASCII only: \d would take Arabic-Indic digits
        message = "Enter the digits of the code BILL sent."
        raise ApiError(400, "invalid_body", message, errors=[issue(["code"], message)])
    conn = await _target(services, caller, body)
    client = services.clients.for_integration(conn.provider_config_key)
    device = device_name(conn)
    # The code belongs to the session that asked for it: a dead session is renewed, not replayed.
    auth = services.keeper.auth(conn, replay=False)
    try:
        remember_me_id = await client.mfa_challenge_validate(
            auth,
            challenge_id=body.challengeId,
            token=code,
            remember_me=body.rememberDevice,
            device=device if body.rememberDevice else None,
            machine_name=_MACHINE_NAME if body.rememberDevice else None,
        )
    except SessionExpiredError:
        raise _code_problem(
            "The BILL sign-in timed out before the code was checked. Choose “Send a new code”."
        ) from None
    except MfaError as exc:
        raise _mfa_refusal(exc) from None
    except BadRequestError:
        # BILL no longer knows the challenge (replaced by a newer one, or already used).
        raise _code_problem(
            "This code is no longer valid. Choose “Send a new code”.", "unknown_challenge"
        ) from None
    if auth.used is not None:
        # Keep what BILL granted: the device for later logins, and the trusted flag of this session.
        await services.keeper.trust(
            conn, auth.used.auth.session_id, remember_me_id=remember_me_id, device=device
        )
    return {"trusted": True, "remembered": remember_me_id is not None}


def _code_problem(message: str, code: str = "invalid_code") -> ApiError:
    return ApiError(400, code, message, errors=[issue(["code"], message, code)])


def _mfa_refusal(exc: MfaError) -> ApiError:
    # BILL's MFA codes are only documented by the community: 1356 expired, 1358 too many tries;
    # anything else is treated as a code that did not match.
    if exc.code == "BDC_1358":
        return ApiError(
            400, exc.code, "Too many wrong codes. Wait a minute, then choose “Send a new code” and try again."
        )
    if exc.code == "BDC_1356":
        return _code_problem(
            "This code has expired. Choose “Send a new code” and enter the new one.", exc.code
        )
    return _code_problem(
        "BILL did not accept this code. Check the digits, or choose “Send a new code” if it is "
        "more than a few minutes old.",
        exc.code,
    )
