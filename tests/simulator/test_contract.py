"""Shape contract: the recorded BILL answers and the simulator's answers satisfy the same schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from billbridge.simulator.families import CATALOG

from .schemas import ERRORS, LOGIN, OBJECTS, ROLE, SESSION_INFO, USER, listing
from .support import Demo, error_code

RECORDED = Path(__file__).parent / "recorded"


def check(schema: dict[str, Any], answer: Any) -> None:
    errors = sorted(Draft202012Validator(schema).iter_errors(answer), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def test_schemas_are_valid() -> None:
    for schema in (ERRORS, LOGIN, SESSION_INFO, *OBJECTS.values()):
        Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("name", "schema"),
    [
        ("get-v3-users.json", listing(USER)),
        ("get-v3-roles.json", listing(ROLE)),
        ("post-v3-users.json", USER),
        ("post-v3-users-archive.json", USER),
    ],
)
def test_recorded_answers_satisfy_the_schemas(name: str, schema: dict[str, Any]) -> None:
    check(schema, recorded(name))


def test_schemas_catch_wrong_shapes() -> None:
    user = recorded("post-v3-users.json")
    for broken in (
        {**user, "id": "0060SHORT"},
        {**user, "id": "00902TVPVXMHNJFZfyy1"},
        {**user, "createdTime": "2024-10-18T16:23:59Z"},
        {**user, "role": {"id": "0po02JGHMWNQCWY1izyf"}},
        {k: v for k, v in user.items() if k != "archived"},
    ):
        with pytest.raises(AssertionError):
            check(USER, broken)
    with pytest.raises(AssertionError):
        check(listing(USER), {"results": [user], "nextPage": ""})


async def test_login_and_session_answers(demo: Demo) -> None:
    check(LOGIN, demo.login)
    check(SESSION_INFO, (await demo.get("/login/session")).json())


async def test_error_answers(demo: Demo) -> None:
    for response in (
        await demo.get("/vendors", filters="nope:eq:1"),
        await demo.get("/nothing"),
        await demo.http.post("/connect/v3/login", json={}),
        await demo.http.get("/connect/v3/spend/users"),
    ):
        check(ERRORS, response.json())
        assert error_code(response)


@pytest.mark.parametrize("family", sorted(CATALOG))
async def test_simulator_lists_and_objects(demo: Demo, family: str) -> None:
    first = (await demo.get(f"/{family}", max=3)).json()
    check(listing(OBJECTS[family]), first)
    if "nextPage" in first:
        check(listing(OBJECTS[family]), (await demo.get(f"/{family}", max=3, page=first["nextPage"])).json())
    one = first["results"][0]
    check(OBJECTS[family], (await demo.get(f"/{family}/{one['id']}")).json())


async def test_user_answers_match_the_recording_field_for_field(demo: Demo) -> None:
    record = recorded("get-v3-users.json")["results"][0]
    ours = (await demo.get("/users", max=1)).json()["results"][0]
    assert list(ours) == list(record)
    assert list(ours["role"]) == list(record["role"])
    role = recorded("get-v3-roles.json")["results"][0]
    assert list((await demo.get("/roles", max=1)).json()["results"][0]) == list(role)
    body = recorded("post-v3-users.request.json")
    body["roleId"] = ours["role"]["id"]
    created = (await demo.post("/users", body)).json()
    assert list(created) == list(recorded("post-v3-users.json"))
    archived = (await demo.post(f"/users/{created['id']}/archive")).json()
    check(USER, archived)
    assert archived["archived"] is True
    assert archived["updatedTime"] >= created["updatedTime"]
