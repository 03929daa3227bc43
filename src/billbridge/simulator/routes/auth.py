"""Login, logout, session details, organizations and MFA."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from billbridge.simulator.errors import SimError
from billbridge.simulator.gateway import Call, apply_faults, json_response, read_json
from billbridge.simulator.state import SimState


def _optional(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SimError("BDC_1129", f"Invalid value for {name}")
    return value


def _required(body: dict[str, Any], name: str) -> str:
    value = _optional(body, name)
    if value is None:
        raise SimError("BDC_1108", f"Missing required parameter: {name}")
    return value


async def login(state: SimState, request: Request) -> Response:
    """``POST /v3/login``: check the developer key, then the organization, user and password."""
    try:
        return await _login(state, request)
    except SimError as error:
        state.stats.login_failures += 1
        raise error from None


async def _login(state: SimState, request: Request) -> Response:
    now = state.now()
    body = await read_json(request)
    dev_key_text = _required(body, "devKey")
    username = _required(body, "username")
    password = _optional(body, "password") or ""
    org_id = _required(body, "organizationId")
    dev_key = state.world.dev_key(dev_key_text)
    if dev_key is None:
        raise SimError("BDC_1102")
    state.limits.count_login(dev_key.key, now)
    if state.faults.fail_logins > 0:
        state.faults.fail_logins -= 1
        raise SimError("BDC_1001", status=503)
    await apply_faults(state)
    if len(org_id) != 20 or not org_id.startswith("008"):
        raise SimError("BDC_1123")
    org = state.world.organization(org_id)
    user = next((u for u in org.users if u.username.lower() == username.lower()), None) if org else None
    if org is None or user is None or user.password != password:
        raise SimError("BDC_1101")
    if org.id not in dev_key.organization_ids:
        raise SimError("BDC_1102", "Developer key is invalid for this organization.")
    if user.locked:
        raise SimError("BDC_1110")
    remember_id = _optional(body, "rememberMeId")
    device = _optional(body, "device")
    trusted = bool(
        remember_id
        and device
        and state.mfa.is_remembered(
            org_id=org.id, user_id=user.id, remember_id=remember_id, device=device, now=now
        )
    )
    session = state.sessions.create(
        dev_key=dev_key.key, org_id=org.id, user_id=user.id, trusted=trusted, now=now
    )
    state.stats.logins += 1
    return json_response(
        {"sessionId": session.id, "organizationId": org.id, "userId": user.id, "trusted": trusted}
    )


async def logout(call: Call) -> Response:
    """``POST /v3/logout``."""
    call.state.sessions.end(call.session.id)
    return json_response({})


async def session_info(call: Call) -> Response:
    """``GET /v3/login/session``: organization, user and MFA state."""
    has_phone = bool(call.state.mfa.phones_of(call.session))
    return json_response(
        {
            "organizationId": call.session.org_id,
            "userId": call.session.user_id,
            "mfaStatus": "COMPLETE" if has_phone else "INCOMPLETE",
            "mfaBypass": not call.state.config.mfa_enforced,
        }
    )


async def organizations(call: Call) -> Response:
    """``GET /v3/login/organizations``: organizations reachable with this session."""
    return json_response({"results": [{"id": call.org.id, "name": call.org.name}]})


async def mfa_setup(call: Call) -> Response:
    """``POST /v3/mfa/setup``."""
    body = await read_json(call.request)
    phone = _required(body, "phone")
    kind = _required(body, "type")
    if kind not in ("TEXT", "VOICE"):
        raise SimError("BDC_1129", "type must be TEXT or VOICE")
    if body.get("primary") is False:
        raise SimError("BDC_1129", "primary can only be true")
    return json_response({"setupId": call.state.mfa.setup(call.session, phone=phone, now=call.state.now())})


async def mfa_validate(call: Call) -> Response:
    """``POST /v3/mfa/validate`` (also ``/v3/mfa/setup/validate``)."""
    body = await read_json(call.request)
    setup_id = _required(body, "setupId")
    token = _required(body, "token")
    phone = call.state.mfa.validate_setup(call.session, setup_id=setup_id, token=token, now=call.state.now())
    return json_response({"phone": phone, "primary": True})


async def mfa_challenge(call: Call) -> Response:
    """``POST /v3/mfa/challenge``."""
    body = await read_json(call.request)
    if body.get("useBackup") is True:
        raise SimError("BDC_1129", "useBackup can only be false")
    return json_response({"challengeId": call.state.mfa.challenge(call.session, now=call.state.now())})


async def mfa_challenge_validate(call: Call) -> Response:
    """``POST /v3/mfa/challenge/validate``: the session becomes trusted."""
    body = await read_json(call.request)
    challenge_id = _required(body, "challengeId")
    token = _required(body, "token")
    device = _optional(body, "device") if body.get("rememberMe") is True else None
    if body.get("rememberMe") is True and device is None:
        raise SimError("BDC_1108", "Missing required parameter: device")
    remember_id = call.state.mfa.validate_challenge(
        call.session, challenge_id=challenge_id, token=token, remember_device=device, now=call.state.now()
    )
    answer: dict[str, Any] = {"trusted": True}
    if remember_id is not None:
        answer["rememberMeId"] = remember_id
    return json_response(answer)


async def mfa_step_up(call: Call) -> Response:
    """``POST /v3/mfa/step-up``: trust the current session with a remember-me ID."""
    body = await read_json(call.request)
    remember_id = _required(body, "rememberMeId")
    device = _required(body, "device")
    call.state.mfa.step_up(call.session, remember_id=remember_id, device=device, now=call.state.now())
    return json_response({"trusted": True})


async def mfa_phones(call: Call) -> Response:
    """``GET /v3/mfa/phones``."""
    return json_response(
        {"results": [{"phone": p, "primary": True} for p in call.state.mfa.phones_of(call.session)]}
    )


ROUTES = {
    ("POST", "logout"): logout,
    ("GET", "login/session"): session_info,
    ("GET", "login/organizations"): organizations,
    ("POST", "mfa/setup"): mfa_setup,
    ("POST", "mfa/validate"): mfa_validate,
    ("POST", "mfa/setup/validate"): mfa_validate,
    ("POST", "mfa/challenge"): mfa_challenge,
    ("POST", "mfa/challenge/validate"): mfa_challenge_validate,
    ("POST", "mfa/step-up"): mfa_step_up,
    ("GET", "mfa/phones"): mfa_phones,
}
