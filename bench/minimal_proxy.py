"""The yardstick of ``proxy_overhead.py`` (c): a forwarding proxy with no checks at all.

    .venv/bin/python bench/minimal_proxy.py PORT GATEWAY SESSIONS_FILE

Starlette + aiohttp on billbridge's own server stack (uvloop, httptools, tuned GC), so that the
comparison measures what billbridge does per request, not the server it runs on.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from yarl import URL

from billbridge.cli import _server


def minimal_proxy(gateway: str, sessions: dict[str, list[str]]) -> Starlette:
    """Forward ``/proxy/...`` to the gateway with the caller's session, no checks.

    ``sessions`` maps a ``Connection-Id`` to the ``[devKey, sessionId]`` of a session opened
    beforehand; nothing is validated, limited, counted, retried or renewed.
    """
    state: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
            state["http"] = http
            yield

    async def forward(request: Request) -> Response:
        dev_key, session_id = sessions[request.headers["connection-id"]]
        url = f"{gateway}/connect/{request.path_params['path']}"
        if request.url.query:
            url += "?" + request.url.query
        body = await request.body()
        async with state["http"].request(
            request.method,
            URL(url, encoded=True),
            headers={"devKey": dev_key, "sessionId": session_id},
            data=body or None,
        ) as answer:
            content = await answer.read()
            return Response(content, status_code=answer.status, media_type=answer.content_type)

    async def health(_: Request) -> Response:
        return Response("ok")

    routes = [Route("/proxy/{path:path}", forward, methods=["GET", "POST"]), Route("/health", health)]
    return Starlette(routes=routes, lifespan=lifespan)


def serve(port: int, gateway: str, sessions_file: Path) -> None:
    """Run :func:`minimal_proxy` on loopback until terminated."""
    app = minimal_proxy(gateway, json.loads(sessions_file.read_text()))
    config = _server.config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    _server.Server(config).run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("gateway")
    parser.add_argument("sessions_file", type=Path)
    parsed = parser.parse_args()
    serve(parsed.port, parsed.gateway, parsed.sessions_file)
