"""``BillClient``: the typed async client of BILL's v3 API.

Sessions: ``POST /v3/login`` opens one (35 minutes idle lifetime, every call resets it),
``POST /v3/logout`` ends it, ``GET /v3/login/session`` describes it; the MFA calls make it
trusted (https://developer.bill.com/reference/login.md, https://developer.bill.com/reference/setup).
Generic calls, raw sends and list walking come from :class:`billbridge.bill.calls.ApiCalls`.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import SecretStr

from billbridge.bill.answers import decode_json
from billbridge.bill.auth import LoginResult, SessionAuth, as_secret
from billbridge.bill.calls import ApiCalls
from billbridge.errors import BillAPIError

MfaType = Literal["TEXT", "VOICE"]

_LOGIN_PATH = "/v3/login"


def _field(answer: Any, name: str, *, request: str) -> str:
    value = answer.get(name) if isinstance(answer, dict) else None
    if not isinstance(value, str) or not value:
        raise BillAPIError(f"BILL's answer has no {name!r}", code="unexpected_answer", request=request)
    return value


class BillClient(ApiCalls):
    """The client of one BILL environment; share one :class:`Limits` across a process's clients.

    Args:
        environment: the environment (``SANDBOX``, ``PRODUCTION``, or ``environment(...)``).
        transport: how bytes travel (default: a new :class:`AiohttpTransport`); :meth:`aclose`
            closes it, so give each client its own.
        limits: in-flight limit and hourly budgets (default: a private one).
        timeout: seconds to wait for each answer.
        max_retries: retries of a failed call where retrying is safe.
        on_rate_limit: on a spent hourly budget, ``"raise"`` ``RateLimitError`` or ``"wait"``
            for the top of the hour.
        retry_policy: backoff shape; sleep and rng: injectable for tests.
    """

    async def login(
        self,
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
        secret_password = as_secret(password)
        secret_key = as_secret(dev_key)
        body: dict[str, Any] = {
            "username": username,
            "password": secret_password.get_secret_value(),
            "organizationId": organization_id,
            "devKey": secret_key.get_secret_value(),
        }
        secrets = [body["password"], body["devKey"]]
        if remember_me_id is not None:
            body["rememberMeId"] = as_secret(remember_me_id).get_secret_value()
            secrets.append(body["rememberMeId"])
        if device is not None:
            body["device"] = device
        label = f"POST {_LOGIN_PATH}"
        raw = await self.exchange(
            "POST",
            self.url(_LOGIN_PATH),
            label=label,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            content=orjson.dumps(body),
            limit_key=(body["devKey"], organization_id),
            retries=self.max_retries,
            replay_safe=True,
            login=True,
        )
        if raw.status >= 400:
            raise self.error_for(raw, label=label, secrets=secrets)
        answer = decode_json(raw, request=label)
        session_id = _field(answer, "sessionId", request=label)
        rest = {k: v for k, v in answer.items() if k != "sessionId"}
        return LoginResult(
            session_id=SecretStr(session_id),
            organization_id=str(rest.get("organizationId") or organization_id),
            user_id=str(rest.get("userId") or ""),
            trusted=rest.get("trusted") is True,
            raw=rest,
        )

    async def logout(self, auth: SessionAuth) -> None:
        """End the session (``POST /v3/logout``)."""
        await self.request("POST", "/v3/logout", auth=auth)

    async def session_info(self, auth: SessionAuth) -> dict[str, Any]:
        """Describe the session (``GET /v3/login/session``): organization, user, MFA state.

        Calling it also resets BILL's 35-minute idle timer.
        """
        answer = await self.request("GET", "/v3/login/session", auth=auth)
        return answer if isinstance(answer, dict) else {}

    async def mfa_setup(self, auth: SessionAuth, *, phone: str, type: MfaType = "TEXT") -> str:
        """Register a phone for MFA (``POST /v3/mfa/setup``); BILL texts or calls a code.

        Returns:
            The ``setupId`` to validate with :meth:`mfa_setup_validate`.
        """
        answer = await self.request("POST", "/v3/mfa/setup", auth=auth, json={"phone": phone, "type": type})
        return _field(answer, "setupId", request="POST /v3/mfa/setup")

    async def mfa_setup_validate(
        self, auth: SessionAuth, *, setup_id: str, type: MfaType = "TEXT", token: str
    ) -> dict[str, Any]:
        """Confirm the phone with the code BILL sent (``POST /v3/mfa/setup/validate``)."""
        answer = await self.request(
            "POST",
            "/v3/mfa/setup/validate",
            auth=auth,
            json={"setupId": setup_id, "type": type, "token": token},
        )
        return answer if isinstance(answer, dict) else {}

    async def mfa_challenge(self, auth: SessionAuth) -> str:
        """Ask BILL to send an MFA code (``POST /v3/mfa/challenge``).

        Returns:
            The ``challengeId`` to validate with :meth:`mfa_challenge_validate`.
        """
        answer = await self.request("POST", "/v3/mfa/challenge", auth=auth, json={"useBackup": False})
        return _field(answer, "challengeId", request="POST /v3/mfa/challenge")

    async def mfa_challenge_validate(
        self,
        auth: SessionAuth,
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
        self, auth: SessionAuth, *, remember_me_id: SecretStr | str, device: str
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
        return answer if isinstance(answer, dict) else {}
