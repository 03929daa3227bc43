"""POST /_sim/users: passwords changed and users locked at "BILL" behind the client's back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .support import Demo, credentials, error_code


async def _change(http: httpx.AsyncClient, **body: Any) -> list[dict[str, Any]]:
    response = await http.post("/_sim/users", json=body)
    assert response.status_code == 200, response.text
    users: list[dict[str, Any]] = response.json()["users"]
    return users


async def _login(http: httpx.AsyncClient, body: dict[str, str]) -> httpx.Response:
    return await http.post("/connect/v3/login", json=body)


async def test_a_changed_password_refuses_the_old_one_and_keeps_open_sessions(demo: Demo) -> None:
    old = credentials(demo.world)
    [changed] = await _change(
        demo.http, action="change_password", username=old["username"].upper(), password="n3w-Passw0rd!"
    )

    assert (changed["username"], changed["password"]) == (old["username"], "n3w-Passw0rd!")
    refused = await _login(demo.http, old)
    assert (refused.status_code, error_code(refused)) == (401, "BDC_1101")
    assert (await _login(demo.http, {**old, "password": "n3w-Passw0rd!"})).status_code == 200
    assert (await demo.get("/vendors", max=1)).status_code == 200  # the session opened before
    world = (await demo.http.get("/_sim/world")).json()
    assert world["organizations"][0]["users"][0]["password"] == "n3w-Passw0rd!"
    # Nobody else changed.
    others = [u for o in world["organizations"] for u in o["users"] if u["username"] != old["username"]]
    before = [u for o in demo.world["organizations"] for u in o["users"] if u["username"] != old["username"]]
    assert others == before


async def test_lock_and_unlock(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    body = credentials(sim_world)
    [locked] = await _change(sim_http, action="lock", username=body["username"])
    assert locked["locked"] is True
    refused = await _login(sim_http, body)
    assert (refused.status_code, error_code(refused)) == (403, "BDC_1110")

    await _change(sim_http, action="unlock", username=body["username"])
    assert (await _login(sim_http, body)).status_code == 200
    # The user locked from the start can be let in too.
    index, born_locked = next(
        (i, u) for i, u in enumerate(sim_world["organizations"][0]["users"]) if u["locked"]
    )
    await _change(sim_http, action="unlock", username=born_locked["username"])
    assert (await _login(sim_http, credentials(sim_world, user=index))).status_code == 200


async def test_reset_restores_every_user(sim_http: httpx.AsyncClient, sim_world: dict[str, Any]) -> None:
    body = credentials(sim_world)
    await _change(sim_http, action="change_password", username=body["username"], password="other-pw-1")
    await _change(sim_http, action="lock", username=body["username"])

    assert (await sim_http.post("/_sim/reset")).status_code == 200
    assert (await sim_http.get("/_sim/world")).json() == sim_world
    assert (await _login(sim_http, body)).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"action": "change_password", "password": "x"}, 400, "BDC_1129"),
        ({"action": "change_password", "username": "", "password": "x"}, 400, "BDC_1129"),
        ({"action": "change_password", "username": "FIRST"}, 400, "BDC_1129"),
        ({"action": "change_password", "username": "FIRST", "password": 12345}, 400, "BDC_1129"),
        ({"action": "delete", "username": "FIRST"}, 400, "BDC_1129"),
        ({"username": "FIRST"}, 400, "BDC_1129"),
        ({"action": "lock", "username": "nobody@example.com"}, 404, "BDC_1120"),
    ],
)
async def test_bad_user_changes_change_nothing(
    sim_http: httpx.AsyncClient, sim_world: dict[str, Any], body: dict[str, Any], status: int, code: str
) -> None:
    first = sim_world["organizations"][0]["users"][0]["username"]
    sent = {k: first if v == "FIRST" else v for k, v in body.items()}
    response = await sim_http.post("/_sim/users", json=sent)

    assert (response.status_code, error_code(response)) == (status, code)
    assert (await sim_http.get("/_sim/world")).json() == sim_world
    assert (await sim_http.get("/_sim/stats")).json()["errors"] == {}


async def test_a_body_that_is_not_json_is_bdc_1122(sim_http: httpx.AsyncClient) -> None:
    response = await sim_http.post("/_sim/users", content=b"{nope")
    assert (response.status_code, error_code(response)) == (400, "BDC_1122")
