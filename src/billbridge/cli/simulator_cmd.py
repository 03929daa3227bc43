"""``billbridge simulator``: run the BILL simulator alone on a loopback (or any) port."""

from __future__ import annotations

import socket
import sys
from enum import StrEnum

import typer
from rich.console import Console

from billbridge.cli import _server, app
from billbridge.simulator import SimConfig, create_app


class EnvironmentChoice(StrEnum):
    """Which BILL environment the simulator pretends to be."""

    sandbox = "sandbox"
    production = "production"


def _bind(host: str, port: int) -> socket.socket:
    # Binding here (not in uvicorn) lets --port 0 pick a free port that we can print.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@app.command("simulator")
def simulator(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8765, help="Port to listen on (0 picks a free one)."),
    records: int = typer.Option(200, min=0, help="Records per object family per organization."),
    seed: int = typer.Option(7, help="Seed of the deterministic world."),
    latency_ms: int = typer.Option(0, "--latency-ms", min=0, help="Delay added to every API answer."),
    organizations: int = typer.Option(3, min=1, max=100, help="Number of organizations."),
    environment: EnvironmentChoice = typer.Option(EnvironmentChoice.sandbox, help="sandbox or production."),
    dev_keys: int = typer.Option(
        3,
        "--dev-keys",
        min=1,
        max=1000,
        help="Developer keys: three shared ones, then one per organization (organizations + 3: one each).",
    ),
) -> None:
    """Run the BILL simulator and print where it listens and its demo credentials."""
    config = SimConfig(
        records=records,
        seed=seed,
        latency_ms=latency_ms,
        organizations=organizations,
        environment=environment.value,
        dev_keys=dev_keys,
    )
    sim_app = create_app(config)
    world = sim_app.state.sim.world
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    root = f"http://{shown_host}:{bound_port}"
    org = world.organizations[0]
    user = org.users[0]
    console = Console(highlight=False)
    console.print(f"BILL simulator ({config.environment}) listening on {root}")
    console.print(f"  login:   POST {root}/connect/v3/login")
    console.print(f"  control: {root}/_sim/world (all organizations, users and keys)")
    # These are the simulator's own made-up credentials; printing them is the point of the command.
    console.print("Demo credentials:")
    console.print(f"  username:        {user.username}")
    console.print(f"  password:        {user.password}")
    console.print(f"  organization id: {org.id}")
    console.print(f"  developer key:   {world.dev_keys[0].key}")
    console.print(f"  S&E API token:   {world.api_tokens[0].token}")
    sys.stdout.flush()  # the lines above must reach a pipe before the server blocks
    server = _server.Server(_server.config(sim_app, log_level="warning", access_log=False, lifespan="off"))
    server.run(sockets=[sock])
