"""POST /connect/mfa/challenge and /validate: a trusted session for the connection just linked."""

from __future__ import annotations

import asyncio
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
    conn = await api.runtime.connections.get(flow.linked["connectionId"], SANDBOX)
    assert conn is not None
    assert conn.session.trusted is True
    assert conn.credentials.remember_me_id is not None
    assert conn.credentials.device == "billbridge-" + conn.connection_id[:36]
    # The next login sends rememberMeId + device and BILL trusts it without a code.
    live = await api.runtime.keeper.refresh(conn)
    assert live.generation > conn.session.generation
    again = await api.runtime.connections.get(flow.linked["connectionId"], SANDBOX)
    assert again is not None
    assert again.session.trusted is True


async def test_without_remembering_only_this_session_is_trusted(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form())
    response = await flow.validate(await flow.challenge(), await flow.last_code(), remember=False)

    assert response.json() == {"trusted": True, "remembered": False}
    conn = await api.runtime.connections.get(flow.linked["connectionId"], SANDBOX)
    assert conn is not None
    assert conn.session.trusted is True
    assert conn.credentials.remember_me_id is None
    await api.runtime.keeper.refresh(conn)
    again = await api.runtime.connections.get(flow.linked["connectionId"], SANDBOX)
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


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "connection_not_linked_by_session"


async def test_a_session_cannot_challenge_a_connection_it_did_not_link(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form(), end_user="owner")
    stranger = await api.connect_session(end_user={"id": "stranger"})
    _refused(await flow.post("challenge", flow.linked, token=stranger))

    narrow = await api.connect_session(end_user={"id": "owner"}, allowed_integrations=["bill"])
    _refused(await flow.post("challenge", flow.linked, token=narrow))
    # An unknown id answers as a foreign one: a token cannot probe which connections exist.
    _refused(
        await flow.post("challenge", {"connectionId": "no-such-connection", "providerConfigKey": SANDBOX})
    )
    assert (await flow.post("challenge", flow.linked)).status_code == 200


async def test_the_same_end_user_and_tags_do_not_make_another_session_the_linker(
    api: Api, demo_form: Form
) -> None:
    # What once passed for ownership (same end user and tags, connection updated after the session
    # began) is not enough: only the token that linked the connection may challenge it.
    later = await api.connect_session(end_user={"id": "owner"}, tags={"team": "ap"}, mfa_required=True)
    flow = await _flow(api, demo_form(), end_user="owner")
    twin = await api.connect_session(end_user={"id": "owner"}, tags={"team": "ap"}, mfa_required=True)

    for token in (later, twin):
        _refused(await flow.post("challenge", flow.linked, token=token))
    session = await api.runtime.connect_sessions.get_by_token(flow.token)
    conn = await api.runtime.connections.get(flow.linked["connectionId"], SANDBOX)
    assert session is not None
    assert conn is not None
    assert session.linked_connections == {conn.pk}


async def test_a_token_that_relinks_a_connection_may_challenge_it(api: Api, demo_form: Form) -> None:
    first = await _flow(api, demo_form(), end_user="owner")
    reconnect = await api.client.post(
        "/connect/sessions/reconnect",
        json={"connection_id": first.linked["connectionId"], "integration_id": SANDBOX},
    )
    assert reconnect.status_code == 201, reconnect.text
    token = reconnect.json()["data"]["token"]
    _refused(await first.post("challenge", first.linked, token=token))

    relinked = await api.link(demo_form(), token=token)
    assert relinked.status_code == 200, relinked.text
    assert relinked.json() == first.linked
    assert (await first.post("challenge", first.linked, token=token)).status_code == 200


async def test_a_reconnect_with_a_remembered_device_needs_no_code(api: Api, demo_form: Form) -> None:
    first = await _flow(api, demo_form(), end_user="owner")
    assert (await first.validate(await first.challenge(), await first.last_code())).status_code == 200
    reconnect = await api.client.post(
        "/connect/sessions/reconnect",
        json={"connection_id": first.linked["connectionId"], "integration_id": SANDBOX, "mfa_required": True},
    )
    assert reconnect.status_code == 201, reconnect.text
    token = reconnect.json()["data"]["token"]
    codes = len((await api.sim.get("/_sim/mfa/codes")).json()["codes"])

    assert (await api.link(demo_form(), token=token)).status_code == 200
    response = await first.post("challenge", first.linked, token=token)

    assert response.status_code == 200, response.text
    assert response.json() == {"trusted": True, "remembered": True}
    assert len((await api.sim.get("/_sim/mfa/codes")).json()["codes"]) == codes
    conn = await api.runtime.connections.get(first.linked["connectionId"], SANDBOX)
    assert conn is not None
    assert conn.session.trusted is True


async def test_a_deleted_connection_can_no_longer_be_challenged(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form())
    deleted = await api.client.delete(
        f"/connections/{flow.linked['connectionId']}", params={"provider_config_key": SANDBOX}
    )
    assert deleted.status_code == 200, deleted.text
    _refused(await flow.post("challenge", flow.linked))


async def _attempts(api: Api, token: str) -> int:
    session = await api.runtime.connect_sessions.get_by_token(token)
    return session.attempts if session is not None else 0


async def test_a_session_ended_while_bill_is_asked_still_links(api: Api, demo_form: Form) -> None:
    token = await api.connect_session(end_user={"id": "owner"})
    (await api.sim.post("/_sim/faults", json={"latency_ms": 1000})).raise_for_status()
    linking = asyncio.create_task(api.link(demo_form(), token=token))
    while not await _attempts(api, token):  # the link is past its checks and asks BILL
        await asyncio.sleep(0.01)
    ended = await api.anon.delete("/connect/session", headers={"Authorization": f"Bearer {token}"})
    assert ended.status_code == 204
    assert not linking.done()  # BILL has not answered: the link will be noted on a gone session

    response = await linking
    assert response.status_code == 200, response.text
    assert await api.runtime.connections.get(response.json()["connectionId"], SANDBOX) is not None


async def test_attempts_per_token_are_limited(api: Api, demo_form: Form) -> None:
    flow = await _flow(api, demo_form())
    for _ in range(MAX_ATTEMPTS - await _attempts(api, flow.token)):
        await api.runtime.connect_sessions.register_attempt(flow.token)

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
