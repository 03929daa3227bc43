"""End to end with @nangohq/node and @nangohq/frontend against `billbridge serve` and the simulator.

The journey runs once per module (flow.mjs, failures.mjs, an S&E link); the tests check its parts.
The last test stops the server and searches its whole log output and its database for secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from e2e_stack import RECORDS, Stack
from node_drivers import run_node

pytestmark = pytest.mark.e2e

NANGO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


@dataclass
class Journey:
    flow: dict[str, Any]
    failures: dict[str, Any]
    stats_before_failures: dict[str, Any]
    stats_after_failures: dict[str, Any]
    spend: httpx.Response
    spend_link: dict[str, Any]
    connect_token: str


def _spend_link(stack: Stack) -> tuple[dict[str, Any], httpx.Response, str]:
    """Link with the optional S&E API token (the frontend SDK drops it; our form sends it)."""
    auth = {"Authorization": f"Bearer {stack.secret_key}"}
    with httpx.Client(base_url=stack.api, timeout=30) as http:
        token = http.post("/connect/sessions", json={"end_user": {"id": "spend-user"}}, headers=auth).json()
        token = token["data"]["token"]
        body = {**stack.demo, "api_token": stack.world["api_tokens"][0]["token"]}
        linked = http.post(
            "/auth/bill/bill-sandbox", params={"connect_session_token": token}, json=body
        ).json()
        spend = http.get(
            "/proxy/v3/spend/budgets",
            headers={**auth, "Connection-Id": linked["connectionId"], "Provider-Config-Key": "bill-sandbox"},
        )
        http.delete(
            f"/connections/{linked['connectionId']}",
            params={"provider_config_key": "bill-sandbox"},
            headers=auth,
        )
    return linked, spend, token


@pytest.fixture(scope="module")
def journey(stack: Stack) -> Journey:
    flow = run_node("flow.mjs", env=stack.node_env())
    before = httpx.get(f"{stack.sim}/_sim/stats").json()
    failures = run_node("failures.mjs", env=stack.node_env())
    after = httpx.get(f"{stack.sim}/_sim/stats").json()
    linked, spend, token = _spend_link(stack)
    return Journey(flow, failures, before, after, spend, linked, token)


def test_connect_session_and_link_with_the_frontend_sdk(journey: Journey, stack: Stack) -> None:
    flow = journey.flow
    assert flow["session"]["tokenShape"] is True
    assert flow["session"]["connect_link"].startswith(f"{stack.api}/connect?session_token=")
    assert flow["linked"]["providerConfigKey"] == "bill-sandbox"
    assert re.fullmatch(r"[0-9a-f-]{36}", flow["linked"]["connectionId"])


def test_get_connection_and_token(journey: Journey, stack: Stack) -> None:
    conn = journey.flow["connection"]
    creds = conn["credentials"]
    assert conn["connection_id"] == journey.flow["linked"]["connectionId"]
    assert conn["end_user"]["id"] == "e2e-user"
    assert conn["tags"]["end_user_email"] == "e2e@example.com"
    for stamp in (conn["created_at"], conn["updated_at"], conn["last_fetched_at"], creds["expires_at"]):
        assert NANGO_TIME.match(stamp)
    assert creds["type"] == "BILL"
    assert creds["username"] == stack.demo["username"]
    assert creds["dev_key"] == stack.demo["dev_key"]
    assert "password" not in creds
    assert journey.flow["token"] == creds  # getToken returns the credentials object for BILL


def test_list_and_integrations(journey: Journey) -> None:
    flow = journey.flow
    connection_id = flow["linked"]["connectionId"]
    assert [c["connection_id"] for c in flow["list"]["connections"]] == [connection_id]
    assert [c["connection_id"] for c in flow["listFiltered"]["connections"]] == [connection_id]
    assert "created" in flow["list"]["connections"][0]
    assert {c["unique_key"] for c in flow["integrations"]["configs"]} == {"bill", "bill-sandbox"}
    assert flow["integration"]["data"]["unique_key"] == "bill-sandbox"


def test_proxy_get_post_and_every_vendor_once(journey: Journey) -> None:
    flow = journey.flow
    assert flow["firstPage"] == {"status": 200, "count": 5, "contentType": flow["firstPage"]["contentType"]}
    assert flow["firstPage"]["contentType"].startswith("application/json")
    assert flow["created"]["status"] in (200, 201)
    assert flow["created"]["name"] == "E2E Supplies Inc"
    ids = flow["paging"]["ids"]
    assert len(ids) == len(set(ids)) == RECORDS + 1
    assert flow["created"]["id"] in ids
    assert flow["paging"]["pages"] == -(-(RECORDS + 1) // 50)
    assert flow["missingVendor"]["status"] == 404
    assert flow["missingVendor"]["code"].startswith("BDC_")


def test_a_keyed_create_from_the_node_client_happens_once(journey: Journey, stack: Stack) -> None:
    first, again = journey.flow["keyed"]
    assert first["status"] in (200, 201)
    assert (again["status"], again["id"]) == (first["status"], first["id"])
    assert (first["replayed"], again["replayed"]) == (None, "true")
    vendors = httpx.get(f"{stack.sim}/_sim/objects", params={"family": "vendors"}, timeout=10).json()
    assert sum(vendor["name"] == "E2E Once Ltd" for vendor in vendors["results"]) == 1


def test_forced_refresh_gives_a_new_working_session(journey: Journey) -> None:
    flow = journey.flow
    assert flow["refreshed"]["sessionId"] != flow["connection"]["credentials"]["session_id"]
    assert flow["afterRefresh"] == 200


def test_metadata_patch_and_delete(journey: Journey) -> None:
    flow = journey.flow
    assert flow["metadata"] == {"plan": "gold", "seats": 5}
    assert flow["patched"] == {"success": True}
    assert flow["tagsAfterPatch"] == {"team": "finance"}
    assert flow["deleted"] == {"status": 200, "data": {"success": True}}
    assert flow["afterDelete"]["status"] == 404
    assert flow["deleteAgain"]["status"] == 400
    assert flow["deleteAgain"]["data"]["error"]["code"] == "unknown_connection"
    assert flow["listAfterDelete"] == {"connections": []}


EXPECTED_FAILURES = {
    "blankUsername": ("invalid_body", "username is required"),
    "badEmail": ("invalid_body", "e-mail address"),
    "blankPassword": ("invalid_body", "password is required"),
    "orgWithout008": ("invalid_body", "must begin with 008"),
    "blankDevKey": ("invalid_body", "dev_key is required"),
    "wrongPassword": (
        "connection_test_failed",
        "The username or password was not accepted by BILL's sandbox. "
        "Credentials from production do not work in the sandbox.",
    ),
    "wrongDevKey": ("connection_test_failed", "The developer key is not valid for BILL's sandbox."),
    "notAllowed": ("integration_not_allowed", "not allowed for this connect session"),
    "unknownIntegration": ("unknown_provider_config", "No integration is configured"),
    "unreachable": ("bill_tokens_fetch_error", "could not be reached"),
    "unknownToken": ("unknown_connect_session_token", "unknown or has expired"),
    "endedToken": ("unknown_connect_session_token", "unknown or has expired"),
}


@pytest.mark.parametrize("case", sorted(EXPECTED_FAILURES))
def test_each_refusal_reaches_the_frontend_with_its_code_and_message(journey: Journey, case: str) -> None:
    code, words = EXPECTED_FAILURES[case]
    result = journey.failures[case]
    assert result["ok"] is False
    assert result["type"] == code
    assert words in result["message"]


def test_refusals_store_nothing_and_only_bill_refusals_log_in(journey: Journey) -> None:
    failures = journey.failures
    assert failures["list"] == {"connections": []}
    assert failures["missingToken"] == {"ok": False, "type": "missing_auth_token"}
    assert failures["badSecretKey"]["status"] == 401
    assert failures["invalidSessionBody"]["status"] == 400
    assert failures["unknownConnection"]["status"] == 404
    before, after = journey.stats_before_failures, journey.stats_after_failures
    assert after["logins"] == before["logins"]
    assert after["login_failures"] - before["login_failures"] == 2  # wrong password, wrong dev key


def test_spend_calls_use_the_api_token(journey: Journey) -> None:
    assert journey.spend.status_code == 200, journey.spend.text


def test_auth_webhooks_verify_with_the_node_client(journey: Journey, stack: Stack) -> None:
    import time

    deadline = time.monotonic() + 20

    def auth_hooks() -> list[dict[str, Any]]:
        # Syncs started by the link report to this URL too; the auth webhooks are the ones checked here.
        return [hook for hook in stack.webhooks() if (hook["body"] or {}).get("type") == "auth"]

    while time.monotonic() < deadline and len(auth_hooks()) < 5:
        time.sleep(0.1)
    hooks = auth_hooks()
    assert hooks, "no webhook arrived"
    assert all(hook["verified"] and hook["legacyVerified"] and hook["stampVerified"] for hook in hooks)
    bodies = [hook["body"] for hook in hooks]
    created = [b for b in bodies if b["operation"] == "creation" and b["success"]]
    failed = [b for b in bodies if b["operation"] == "creation" and not b["success"]]
    assert journey.flow["linked"]["connectionId"] in {b["connectionId"] for b in created}
    assert {b["error"]["type"] for b in failed} == {"connection_test_failed", "bill_tokens_fetch_error"}
    assert all(b["from"] == "nango" and b["authMode"] == "BILL" for b in bodies)


def test_logs_and_database_hold_no_secret(journey: Journey, stack: Stack) -> None:
    """Runs last: stops the server (so every line is written) and searches everything it wrote."""
    assert stack.server.stop() == 0
    demo = stack.demo
    secrets = {
        "password": demo["password"],
        "wrong password": "wrong-" + demo["password"],
        "dev key": demo["dev_key"],
        "secret key": stack.secret_key,
        "session id": journey.flow["connection"]["credentials"]["session_id"],
        "refreshed session id": journey.flow["refreshed"]["sessionId"],
        "API token": stack.world["api_tokens"][0]["token"],
        "connect token": journey.connect_token,
        "encryption key": (stack.data_dir / "encryption.key").read_text().strip().split(":")[-1],
    }
    log = stack.server.text()
    assert "connection_linked" in log  # the log is really there, at DEBUG
    for name, secret in secrets.items():
        assert secret, f"no {name} to look for"
        assert secret not in log, f"the server log contains the {name}"
    stored = b"".join(
        path.read_bytes() for path in stack.data_dir.iterdir() if path.name.startswith("billbridge.db")
    )
    for name in ("password", "dev key", "session id", "refreshed session id", "API token", "secret key"):
        assert secrets[name].encode() not in stored, f"the database holds the {name} in plaintext"
