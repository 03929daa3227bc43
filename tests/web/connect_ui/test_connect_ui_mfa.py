"""POST /connect/mfa/challenge and /validate: a trusted session for the connection just linked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from web_harness import Api

from billbridge.web.connect_ui.mfa import MAX_ATTEMPTS

Form = Callable[..., dict[str, str]]
SANDBOX = "bill-sandbox"


class Flow:
    """One end user's connect session, the connection it linked, and calls as the page makes them."""

    def __init__(self, api: Api, token: str, linked: dict[str, str]) -> None:
        self.api = api
        self.token = token
        self.linked = linked

    async def post(self, path: str, body: dict[str, Any], *, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return await self.api.anon.post(f"/connect/mfa/{path}", json=body, headers=headers)

    async def challenge(self) -> str:
        response = await self.post("challenge", self.linked)
        assert response.status_code == 200, response.text
        return str(response.json()["challengeId"])

    async def last_code(self) -> str:
        codes = (await self.api.sim.get("/_sim/mfa/codes")).json()["codes"]
        return str(codes[-1]["code"])

    async def validate(self, challenge_id: str, code: str, *, remember: bool = True) -> httpx.Response:
        body = {**self.linked, "challengeId": challenge_id, "code": code, "rememberDevice": remember}
        return await self.post("validate", body)


async def _flow(api: Api, form: dict[str, str], *, end_user: str = "u1") -> Flow:
    token = await api.connect_session(end_user={"id": end_user}, mfa_required=True)
    response = await api.link(form, token=token)
    assert response.status_code == 200, response.text
    return Flow(api, token, response.json())


async def test_a_code_makes_the_session_trusted_and_remembers_the_device(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form())
    challenge_id = await flow.challenge()
    response = await flow.validate(challenge_id, await flow.last_code())

    assert response.status_code == 200, response.text
    assert response.json() == {"trusted": True, "remembered": True}
    conn = await api.services.connections.get(flow.linked["connectionId"], SANDBOX)
    assert conn is not None
    assert conn.session.trusted is True
    assert conn.credentials.remember_me_id is not None
    assert conn.credentials.device == "billbridge-" + conn.connection_id[:36]
    # The next login sends rememberMeId + device and BILL trusts it without a code.
    live = await api.services.keeper.refresh(conn)
    assert live.generation > conn.session.generation
    again = await api.services.connections.get(flow.linked["connectionId"], SANDBOX)
    assert again is not None
    assert again.session.trusted is True


async def test_without_remembering_only_this_session_is_trusted(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form())
    response = await flow.validate(await flow.challenge(), await flow.last_code(), remember=False)

    assert response.json() == {"trusted": True, "remembered": False}
    conn = await api.services.connections.get(flow.linked["connectionId"], SANDBOX)
    assert conn is not None
    assert conn.session.trusted is True
    assert conn.credentials.remember_me_id is None
    await api.services.keeper.refresh(conn)
    again = await api.services.connections.get(flow.linked["connectionId"], SANDBOX)
    assert again is not None
    assert again.session.trusted is False


async def test_a_wrong_code_is_reported_on_the_code_field(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form())
    challenge_id = await flow.challenge()
    right = await flow.last_code()
    response = await flow.validate(challenge_id, "111111" if right != "111111" else "222222")

    assert response.status_code == 400
    error = response.json()["error"]
    assert [issue["path"] for issue in error["errors"]] == [["code"]]
    assert "did not accept this code" in error["message"]
    assert (await flow.validate(challenge_id, right)).status_code == 200


async def test_an_expired_code_says_so(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form())
    challenge_id = await flow.challenge()
    code = await flow.last_code()
    await api.sim.post("/_sim/clock/advance", json={"seconds": 11 * 60})

    error = (await flow.validate(challenge_id, code)).json()["error"]
    assert error["code"] == "BDC_1356"
    assert "expired" in error["message"]


async def test_a_malformed_code_is_refused_before_bill_is_asked(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form())
    challenge_id = await flow.challenge()
    before = len((await api.sim.get("/_sim/mfa/codes")).json()["codes"])
    response = await flow.validate(challenge_id, "12ab")

    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["path"] == ["code"]
    assert len((await api.sim.get("/_sim/mfa/codes")).json()["codes"]) == before


async def test_a_session_cannot_challenge_a_connection_it_did_not_link(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form(), end_user="owner")
    stranger = await api.connect_session(end_user={"id": "stranger"})

    response = await flow.post("challenge", flow.linked, token=stranger)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "connection_not_linked_by_session"

    narrow = await api.connect_session(end_user={"id": "owner"}, allowed_integrations=["bill"])
    assert (await flow.post("challenge", flow.linked, token=narrow)).status_code == 403

    missing = {"connectionId": "no-such-connection", "providerConfigKey": SANDBOX}
    assert (await flow.post("challenge", missing)).status_code == 404


async def test_a_connection_linked_before_the_session_began_is_refused(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form(), end_user="owner")
    later = await api.connect_session(end_user={"id": "owner"})

    response = await flow.post("challenge", flow.linked, token=later)
    assert response.status_code == 403


async def test_attempts_per_token_are_limited(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form())
    used = (await api.services.connect_sessions.get_by_token(flow.token)).attempts  # type: ignore[union-attr]
    for _ in range(MAX_ATTEMPTS - used):
        await api.services.connect_sessions.register_attempt(flow.token)

    response = await flow.post("challenge", flow.linked)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_attempts"


async def test_mfa_needs_the_connect_session_token(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form())
    assert (await api.anon.post("/connect/mfa/challenge", json=flow.linked)).status_code == 401
    assert (await api.client.post("/connect/mfa/challenge", json=flow.linked)).status_code == 401
    extra = await flow.post("challenge", {**flow.linked, "sessionId": "x"})
    assert extra.status_code == 400


async def test_a_user_without_a_phone_is_told_how_to_fix_it(
    api: Api, demo_form: Form, sim_world: dict[str, Any]
) -> None:
    org = sim_world["organizations"][0]
    [user] = [u for u in org["users"] if not u["mfa_phone"] and not u["locked"]][:1]
    flow = await _flow(api, demo_form(username=user["username"], password=user["password"]))

    response = await flow.post("challenge", flow.linked)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "mfa_unavailable"
    assert "Set up two-step verification" in error["message"]
