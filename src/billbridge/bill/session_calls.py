"""BILL's session and MFA calls, as methods of :class:`billbridge.bill.client.BillClient`.

Sessions: ``POST /v3/login`` opens one (35 minutes idle lifetime, every call resets it),
``POST /v3/logout`` ends it, ``GET /v3/login/session`` describes it; the MFA calls make it
trusted (https://developer.bill.com/reference/login.md, https://developer.bill.com/reference/setup).
Each function takes the client first and is bound on the class; ``auth`` may be a fixed session or
an :class:`~billbridge.bill.auth.AuthFlow` (the keeper's, which renews a dead session once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from billbridge.bill.auth import AuthFlow, LoginResult, SessionAuth, as_secret
from billbridge.errors import BillAPIError

if TYPE_CHECKING:
    from billbridge.bill.client import BillClient

MfaType = Literal["TEXT", "VOICE"]
SessionAuthOrFlow = SessionAuth | AuthFlow


def _field(answer: Any, name: str, *, request: str) -> str:
    value = answer.get(name) if isinstance(answer, dict) else None
    if not isinstance(value, str) or not value:
        raise BillAPIError(f"BILL's answer has no {name!r}", code="unexpected_answer", request=request)
    return value


def _object(answer: Any) -> dict[str, Any]:
    return answer if isinstance(answer, dict) else {}


async def login(
    self: BillClient,
    *,
    username: str,
    password: SecretStr | str,
    organization_id: str,
    dev_key: SecretStr | str,
    remember_me_id: SecretStr | str | None = None,
    device: str | None = None,
) -> LoginResult:
    """Open a session (``POST /v3/login``); with ``remember_me_id`` and ``device`` it is trusted.

    Raises:
        InvalidCredentialsError: BDC_1101, the message names this environment.
        InvalidDevKeyError: BDC_1102/1103, likewise.
        RateLimitError: the hourly login budget of the developer key is spent.
    """
    body: dict[str, Any] = {
        "username": username,
        "password": as_secret(password).get_secret_value(),
        "organizationId": organization_id,
        "devKey": as_secret(dev_key).get_secret_value(),
    }
    secrets = [body["password"], body["devKey"]]
    if remember_me_id is not None:
        body["rememberMeId"] = as_secret(remember_me_id).get_secret_value()
        secrets.append(body["rememberMeId"])
    if device is not None:
        body["device"] = device
    answer = await self.login_request(body, secrets=secrets)
    session_id = _field(answer, "sessionId", request="POST /v3/login")
    rest = {k: v for k, v in answer.items() if k != "sessionId"}
    return LoginResult(
        session_id=SecretStr(session_id),
        organization_id=str(rest.get("organizationId") or organization_id),
        user_id=str(rest.get("userId") or ""),
        trusted=rest.get("trusted") is True,
        raw=rest,
    )


async def logout(self: BillClient, auth: SessionAuthOrFlow) -> None:
    """End the session (``POST /v3/logout``)."""
    await self.request("POST", "/v3/logout", auth=auth)


async def session_info(self: BillClient, auth: SessionAuthOrFlow) -> dict[str, Any]:
    """Describe the session (``GET /v3/login/session``): organization, user, MFA state.

    Calling it also resets BILL's 35-minute idle timer.
    """
    return _object(await self.request("GET", "/v3/login/session", auth=auth))


async def mfa_setup(self: BillClient, auth: SessionAuthOrFlow, *, phone: str, type: MfaType = "TEXT") -> str:
    """Register a phone for MFA (``POST /v3/mfa/setup``); BILL texts or calls a code.

    Returns:
        The ``setupId`` to validate with :meth:`mfa_setup_validate`.
    """
    answer = await self.request("POST", "/v3/mfa/setup", auth=auth, json={"phone": phone, "type": type})
    return _field(answer, "setupId", request="POST /v3/mfa/setup")


async def mfa_setup_validate(
    self: BillClient, auth: SessionAuthOrFlow, *, setup_id: str, type: MfaType = "TEXT", token: str
) -> dict[str, Any]:
    """Confirm the phone with the code BILL sent (``POST /v3/mfa/setup/validate``)."""
    body = {"setupId": setup_id, "type": type, "token": token}
    return _object(await self.request("POST", "/v3/mfa/setup/validate", auth=auth, json=body))


async def mfa_challenge(self: BillClient, auth: SessionAuthOrFlow) -> str:
    """Ask BILL to send an MFA code (``POST /v3/mfa/challenge``).

    Returns:
        The ``challengeId`` to validate with :meth:`mfa_challenge_validate`.
    """
    answer = await self.request("POST", "/v3/mfa/challenge", auth=auth, json={"useBackup": False})
    return _field(answer, "challengeId", request="POST /v3/mfa/challenge")


async def mfa_challenge_validate(
    self: BillClient,
    auth: SessionAuthOrFlow,
    *,
    challenge_id: str,
    token: str,
    remember_me: bool = False,
    device: str | None = None,
    machine_name: str | None = None,
) -> str | None:
    """Make the session MFA-trusted with the code (``POST /v3/mfa/challenge/validate``).

    Returns:
        With ``remember_me``, the ``rememberMeId`` (valid 30 days) for trusted logins and
        step-ups; otherwise None.
    """
    body: dict[str, Any] = {"challengeId": challenge_id, "token": token, "rememberMe": remember_me}
    if device is not None:
        body["device"] = device
    if machine_name is not None:
        body["machineName"] = machine_name
    answer = await self.request("POST", "/v3/mfa/challenge/validate", auth=auth, json=body)
    if not remember_me or not isinstance(answer, dict):
        return None
    # Community clients read rememberMeId; older pages call the same value the MFA ID.
    value = answer.get("rememberMeId") or answer.get("mfaId")
    return value if isinstance(value, str) and value else None


async def mfa_step_up(
    self: BillClient, auth: SessionAuthOrFlow, *, remember_me_id: SecretStr | str, device: str
) -> dict[str, Any]:
    """Make the current session trusted with a saved ``rememberMeId`` (``POST /v3/mfa/step-up``)."""
    remember = as_secret(remember_me_id).get_secret_value()
    answer = await self.request(
        "POST",
        "/v3/mfa/step-up",
        auth=auth,
        json={"rememberMeId": remember, "device": device},
        redact=(remember,),
    )
    return _object(answer)
