"""request/send/pages against scripted answers: headers, URLs, auth rules, page walking."""

from __future__ import annotations

import httpx
import orjson
import pytest
from pydantic import SecretStr

from billbridge.bill import ApiTokenAuth, Filter, SessionAuth, Sort
from billbridge.errors import BillAPIError, ValidationError

from .conftest import MockClientFactory, recording

AUTH = SessionAuth(SecretStr("dev-key-1"), SecretStr("session-1"), "00801ABCDEFGHIJKLMNO")
TOKEN = ApiTokenAuth(SecretStr("api-token-1"), "00801ABCDEFGHIJKLMNO")


async def test_request_sends_auth_json_and_query(mock_client: MockClientFactory) -> None:
    seen, handler = recording(json={"id": "009x"})

    client, _ = await mock_client(handler)
    answer = await client.request(
        "post", "/v3/vendors", auth=AUTH, params={"a": True, "skip": None}, json={"name": "Acme"}
    )
    assert answer == {"id": "009x"}
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://gateway.test/connect/v3/vendors?a=true"
    assert request.headers["devKey"] == "dev-key-1"
    assert request.headers["sessionId"] == "session-1"
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == {"name": "Acme"}


async def test_filters_reach_bill_encoded(mock_client: MockClientFactory) -> None:
    seen, handler = recording(json={"results": []})

    client, _ = await mock_client(handler)
    pages = [
        p
        async for p in client.pages(
            "vendors",
            auth=AUTH,
            max=5,
            sort=[Sort("name", desc=True)],
            filters=[Filter("name", "eq", "A, B & C")],
        )
    ]
    assert len(pages) == 1
    params = seen[0].url.params
    assert params["max"] == "5"
    assert params["sort"] == "name:desc"
    assert params["filters"] == 'name:eq:"A, B & C"'


async def test_spend_paths_take_the_api_token(mock_client: MockClientFactory) -> None:
    seen, handler = recording(json={"results": []})

    client, _ = await mock_client(handler)
    await client.request("GET", "/v3/spend/users", auth=TOKEN)
    assert seen[0].headers["apiToken"] == "api-token-1"
    assert "devKey" not in seen[0].headers
    with pytest.raises(ValidationError, match="ApiTokenAuth"):
        await client.request("GET", "/v3/spend/users", auth=AUTH)
    with pytest.raises(ValidationError, match="ApiTokenAuth"):
        await client.request("GET", "/v3/vendors", auth=TOKEN)
    await client.request("GET", "/v3/subscriptions", auth=TOKEN, api="events")
    assert seen[-1].url.path == "/connect-events/v3/subscriptions"


@pytest.mark.parametrize("path", ["v3/vendors", "/v2/Login.json", "/v3/../admin", "/connect/v3/x"])
async def test_paths_must_be_v3(mock_client: MockClientFactory, path: str) -> None:
    client, _ = await mock_client(lambda _: httpx.Response(200))
    with pytest.raises(ValidationError) as caught:
        await client.request("GET", path, auth=AUTH)
    assert caught.value.field == "path"


async def test_send_replaces_caller_auth_headers(mock_client: MockClientFactory) -> None:
    seen, handler = recording(404, content=b'[{"code":"BDC_1120","message":"No data found."}]')

    client, _ = await mock_client(handler)
    raw = await client.send(
        "GET",
        "/v3/vendors/009x",
        auth=AUTH,
        params=[("a", "1"), ("a", "2")],
        headers={"DEVKEY": "someone-else", "X-Trace": "t1"},
    )
    assert raw.status == 404
    assert raw.body.startswith(b"[")
    request = seen[0]
    assert request.headers.get_list("devkey") == ["dev-key-1"]
    assert request.headers["x-trace"] == "t1"
    assert request.url.query == b"a=1&a=2"


async def test_pages_stop_only_without_next_page(mock_client: MockClientFactory) -> None:
    answers = [
        {"results": [{"id": 1}], "nextPage": "p2"},
        {"results": [], "nextPage": "p3"},  # an empty page is not the end
        {"results": [{"id": 2}, {"id": 3}], "nextPage": "p4", "prevPage": "p2"},
        {"results": [{"id": 4}], "nextPage": None},
    ]
    tokens: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(request.url.params.get("page"))
        return httpx.Response(200, json=answers[len(tokens) - 1])

    client, _ = await mock_client(handler)
    records = [r["id"] async for r in client.iterate("/v3/vendors", auth=AUTH, max=2)]
    assert records == [1, 2, 3, 4]
    assert tokens == [None, "p2", "p3", "p4"]


async def test_pages_resume_from_a_saved_token(mock_client: MockClientFactory) -> None:
    tokens: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(request.url.params.get("page"))
        return httpx.Response(200, json={"results": [{"id": 9}]})

    client, _ = await mock_client(handler)
    pages = [p async for p in client.pages("bills", auth=AUTH, page="saved")]
    assert tokens == ["saved"]
    assert pages[0].next_page is None
    assert pages[0].results == [{"id": 9}]


async def test_repeated_cursor_raises(mock_client: MockClientFactory) -> None:
    cycle = ["p2", "p3", "p2"]
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, json={"results": [{"id": len(calls)}], "nextPage": cycle[len(calls) - 1]})

    client, _ = await mock_client(handler)
    seen: list[int] = []

    async def walk() -> None:
        async for record in client.iterate("vendors", auth=AUTH):
            seen.append(record["id"])

    with pytest.raises(BillAPIError) as caught:
        await walk()
    assert caught.value.code == "repeated_page_token"
    assert seen == [1, 2, 3]
    assert len(calls) == 3


async def test_a_list_answer_without_results_is_an_error(mock_client: MockClientFactory) -> None:
    client, _ = await mock_client(lambda _: httpx.Response(200, json={"items": []}))
    with pytest.raises(BillAPIError, match="results"):
        [r async for r in client.iterate("vendors", auth=AUTH)]


@pytest.mark.parametrize("bad", [0, 101])
async def test_max_is_validated_before_anything_is_sent(mock_client: MockClientFactory, bad: int) -> None:
    seen, handler = recording(json={"results": []})
    client, _ = await mock_client(handler)
    with pytest.raises(ValidationError) as caught:
        client.iterate("vendors", auth=AUTH, max=bad)
    assert caught.value.field == "max"
    assert seen == []


async def test_login_result_hides_the_session(mock_client: MockClientFactory) -> None:
    answer = {"sessionId": "sess-secret-1", "organizationId": "008a", "userId": "006b", "trusted": False}
    seen, handler = recording(json=answer)

    client, _ = await mock_client(handler)
    result = await client.login(
        username="u@x.com",
        password="pw",
        organization_id="008a",
        dev_key="dk",
        remember_me_id="rm",
        device="d1",
    )
    assert orjson.loads(seen[0].content) == {
        "username": "u@x.com",
        "password": "pw",
        "organizationId": "008a",
        "devKey": "dk",
        "rememberMeId": "rm",
        "device": "d1",
    }
    assert "devKey" not in seen[0].headers
    assert result.session_id.get_secret_value() == "sess-secret-1"
    assert (result.organization_id, result.user_id, result.trusted) == ("008a", "006b", False)
    assert "sessionId" not in result.raw
    assert "sess-secret-1" not in repr(result)
    auth = result.auth("dk")
    assert auth.headers == {"devKey": "dk", "sessionId": "sess-secret-1"}
    assert "sess-secret-1" not in repr(auth)
    assert "dk'" not in repr(auth)
    assert client.limits.logins_left("dk") == 199
