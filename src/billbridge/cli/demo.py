"""``billbridge demo``: the BILL simulator and billbridge in one process, ready to link an account."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import SecretStr

from billbridge.cli import app
from billbridge.cli._logging import configure_logging
from billbridge.cli._output import console, fail
from billbridge.cli._server import Server
from billbridge.cli._server import config as server_config
from billbridge.cli.serve import announce, prepare, server_settings
from billbridge.settings import Settings
from billbridge.simulator import SimConfig
from billbridge.simulator import create_app as create_simulator
from billbridge.web import create_app

INTEGRATION = "bill-sandbox"


class _Server(Server):
    """A uvicorn server that leaves signals to the demo, which stops both servers together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface for both servers.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="billbridge's port.")] = 3003,
    sim_port: Annotated[int, typer.Option(help="The BILL simulator's port.")] = 3004,
    records: Annotated[int, typer.Option(help="Simulated records per object family.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world (fixes its credentials).")] = 7,
    latency_ms: Annotated[int, typer.Option(help="Latency the simulator adds to each answer.")] = 0,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the demo's data here (default: a temporary directory).")
    ] = None,
) -> None:
    """Run the BILL simulator and billbridge together and print how to link and call an account."""
    workdir = data_dir or Path(tempfile.mkdtemp(prefix="billbridge-demo-"))
    secret = SecretStr(str(uuid.uuid4()))
    settings = server_settings(
        host,
        port,
        data_dir=workdir,
        database_url=f"sqlite+aiosqlite:///{(workdir / 'billbridge.db').resolve()}",
        secret_key=secret,
        bill_sandbox_url=f"http://{host}:{sim_port}",
    )
    configure_logging(settings.log_level)
    config = SimConfig(records=records, seed=seed, latency_ms=latency_ms)
    try:
        asyncio.run(_run(settings, config, host=host, port=port, sim_port=sim_port))
    finally:
        if data_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


async def _run(settings: Settings, config: SimConfig, *, host: str, port: int, sim_port: int) -> None:
    prepared = await prepare(settings)
    simulator = _Server(
        server_config(
            create_simulator(config),
            host=host,
            port=sim_port,
            log_config=None,
            access_log=False,
            lifespan="auto",
        )
    )
    api = _Server(
        server_config(
            create_app(settings, sync_role="api"), host=host, port=port, log_config=None, lifespan="on"
        )
    )
    servers = (simulator, api)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.force_exit = server.should_exit  # a second Ctrl-C stops without waiting
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        if not await _started(servers, tasks):
            stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            fail(f"could not start: are ports {sim_port} and {port} free?")
        announce(settings, prepared, listen=f"http://{host}:{port}")
        assert settings.secret_key is not None
        await _show_guide(settings, settings.secret_key.get_secret_value(), sim=f"http://{host}:{sim_port}")
        await asyncio.gather(*tasks)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    console.print("billbridge demo stopped.")


async def _started(servers: tuple[_Server, ...], tasks: list[asyncio.Task[None]]) -> bool:
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            return False
        await asyncio.sleep(0.05)
    return True


async def _show_guide(settings: Settings, secret_key: str, *, sim: str) -> None:
    api = str(settings.public_url).rstrip("/")
    async with httpx.AsyncClient(timeout=30) as http:
        world = (await http.get(f"{sim}/_sim/world")).json()
        session = await http.post(
            f"{api}/connect/sessions",
            headers={"Authorization": f"Bearer {secret_key}"},
            json={
                "end_user": {"id": "demo-user", "email": "demo@example.com", "display_name": "Demo User"},
                "allowed_integrations": [INTEGRATION],
            },
        )
        session.raise_for_status()
    token = session.json()["data"]
    creds = demo_credentials(world)
    console.print(
        f"\n[bold]Secret key[/] of this demo (the apiKey of @nangohq/node): {secret_key}", soft_wrap=True
    )
    console.print(f"\n[bold]BILL simulator[/] at {sim}; its demo credentials:")
    for label, value in creds.items():
        console.print(f"  {label:<16} {value}", soft_wrap=True)
    console.print("\n[bold]Link an account in the browser[/] (valid 30 minutes):")
    console.print(f"  {token['connect_link']}", soft_wrap=True)
    console.print("\n[bold]Or link it with curl, then call BILL through billbridge:[/]")
    for line in guide_lines(api, secret_key, token["token"], creds):
        console.print(line, soft_wrap=True, markup=False)
    console.print(
        "\n[bold]Linking starts the account's default syncs[/] (vendors, bills, invoices and the rest, "
        "hourly). Read the synced vendors as listRecords of @nangohq/node does "
        "(nango.listRecords({providerConfigKey: 'bill-sandbox', connectionId, model: 'Vendor'})):",
        soft_wrap=True,
    )
    console.print(records_line(api, secret_key), soft_wrap=True, markup=False)
    console.print("\nPress Ctrl-C to stop.")


def demo_credentials(world: dict[str, Any]) -> dict[str, str]:
    """The first organization's first user and the first developer key of the simulated world."""
    org = world["organizations"][0]
    user = org["users"][0]
    return {
        "username": user["username"],
        "password": user["password"],
        "organization_id": org["id"],
        "dev_key": world["dev_keys"][0]["key"],
    }


def guide_lines(api: str, secret_key: str, connect_token: str, creds: dict[str, str]) -> list[str]:
    """Shell lines that link an account with ``creds`` and proxy one call; they run as printed."""
    body = shlex.quote(httpx.Request("POST", api, json=creds).content.decode())
    link = shlex.quote(f"{api}/auth/bill/{INTEGRATION}?connect_session_token={connect_token}")
    pick = shlex.quote('import json,sys; print(json.load(sys.stdin)["connectionId"])')
    proxy = shlex.quote(f"{api}/proxy/v3/vendors?max=5")
    return [
        f"  CONNECTION_ID=$(curl -s -X POST {link} -H 'Content-Type: application/json' -d {body} "
        f"| python3 -c {pick})",
        f"  curl -s {proxy} -H 'Authorization: Bearer {secret_key}' "
        f"-H 'Provider-Config-Key: {INTEGRATION}' -H \"Connection-Id: $CONNECTION_ID\"",
    ]


def records_line(api: str, secret_key: str) -> str:
    """The shell line that reads synced vendors as ``listRecords`` of @nangohq/node does."""
    records = shlex.quote(f"{api}/records?model=Vendor&limit=5")
    return (
        f"  curl -s {records} -H 'Authorization: Bearer {secret_key}' "
        f"-H 'Provider-Config-Key: {INTEGRATION}' -H \"Connection-Id: $CONNECTION_ID\""
    )
