"""``GET /metrics``: logins, connection events, proxied requests, BILL's limits; never a secret."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from web_harness import SECRET_KEY, Api, make_settings

from billbridge.bill.limits import key_digest
from billbridge.runtime import open_runtime
from fixtures_db import TEST_KEY_LINE

Form = Callable[..., dict[str, str]]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(api: Api) -> tuple[str, Samples]:
    response = await api.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return response.text, samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_need_the_secret_key(api: Api) -> None:
    missing = await api.anon.get("/metrics")
    wrong = await api.anon.get("/metrics", headers={"Authorization": "Bearer not-the-key"})

    assert missing.status_code == wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unknown_account"


async def test_logins_events_and_proxied_requests_are_counted(api: Api, demo_form: Form) -> None:
    form = demo_form()
    connection_id = await api.linked(form)
    refused = await api.link(demo_form(password="not-the-password"))
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}
    for _ in range(3):
        assert (await api.client.get("/proxy/v3/vendors", headers=headers)).status_code == 200
    unknown = await api.client.get("/proxy/v3/vendors", headers={**headers, "Connection-Id": "nobody"})

    _, samples = await _scrape(api)

    assert (refused.status_code, unknown.status_code) == (400, 400)
    assert _value(samples, "billbridge_bill_logins_total", purpose="link") == 2
    assert _value(samples, "billbridge_bill_login_failures_total", purpose="link", reason="BDC_1101") == 1
    assert _value(samples, "billbridge_connection_events_total", event="linked") == 1
    assert _value(samples, "billbridge_connection_events_total", event="link_refused") == 1
    assert _value(samples, "billbridge_proxy_requests_total", status="200") == 3
    assert _value(samples, "billbridge_proxy_requests_total", status="400") == 1
    assert _value(samples, "billbridge_proxy_request_duration_seconds_count") == 4
    digest = key_digest(form["dev_key"])
    # Two logins and three proxied calls so far (the refused login counts against the budget too).
    assert _value(samples, "billbridge_bill_requests_left", dev_key_hash=digest) == 20_000 - 5
    assert _value(samples, "billbridge_bill_logins_left", dev_key_hash=digest) == 200 - 2


async def test_in_flight_requests_show_per_organization(api: Api, demo_form: Form) -> None:
    form = demo_form()
    connection_id = await api.linked(form)
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}
    await api.sim.post("/_sim/faults", json={"latency_ms": 400})
    calls = [asyncio.create_task(api.client.get("/proxy/v3/vendors", headers=headers)) for _ in range(2)]
    limits = api.runtime.clients.limits
    async with asyncio.timeout(10):
        while limits.in_flight(form["dev_key"], form["organization_id"]) < 2:
            await asyncio.sleep(0.01)

    _, samples = await _scrape(api)
    await asyncio.gather(*calls)
    _, after = await _scrape(api)

    labels = {"dev_key_hash": key_digest(form["dev_key"]), "organization_id": form["organization_id"]}
    assert _value(samples, "billbridge_bill_in_flight", **labels) == 2
    assert _value(after, "billbridge_bill_in_flight", **labels) == 0


async def test_no_secret_appears_in_the_metrics(api: Api, demo_form: Form) -> None:
    form = demo_form(api_token="sandbox-api-token-7c41")
    connection_id = await api.linked(form)
    await api.link(demo_form(password="a-wrong-password-93"))
    headers = {"Connection-Id": connection_id, "Provider-Config-Key": "bill-sandbox"}
    await api.client.get("/proxy/v3/vendors", headers=headers)
    stored = await api.runtime.connections.get(connection_id, "bill-sandbox")
    assert stored is not None
    assert stored.session.session_id is not None

    text, _ = await _scrape(api)

    for secret in (
        form["dev_key"],
        form["password"],
        "a-wrong-password-93",
        "sandbox-api-token-7c41",
        stored.session.session_id.get_secret_value(),
        SECRET_KEY,
    ):
        assert secret not in text


async def test_each_runtime_has_its_own_registry(tmp_path: Path, sqlite_database_url: str) -> None:
    settings = make_settings(
        tmp_path, database_url=sqlite_database_url, encryption_key=SecretStr(TEST_KEY_LINE)
    )
    async with open_runtime(settings) as first, open_runtime(settings) as second:
        first.metrics.proxied(200, 0.0)
        assert b'billbridge_proxy_requests_total{status="200"} 1.0' in await first.metrics.render()
        assert b"billbridge_proxy_requests_total{" not in await second.metrics.render()
