"""A small HTTP balancer, sticky by sender id: one URL in front of several Rasa replicas (Starlette + uvicorn + httpx,
all already in the app environment).

For production use nginx or the school's own load balancer (docs/scaling.md). This one lets
`python -m bot.ops.stack run --replicas 2` and the tests run the multi-replica layout on one machine.
"""
from __future__ import annotations

import argparse
import itertools
import json
import zlib

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


def make_app(backends: list[str]) -> Starlette:
    """The balancer application for a list of backend base URLs."""
    cycle = itertools.cycle(backends)
    client = httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=500))

    def order(body: bytes) -> list[str]:
        """Backends to try: the sender's own replica first (sticky by sender id), else round-robin."""
        try:
            sender = json.loads(body).get("sender") if body else None
        except (ValueError, AttributeError):
            sender = None
        if isinstance(sender, str):
            first = zlib.crc32(sender.encode()) % len(backends)
            return backends[first:] + backends[:first]
        start = backends.index(next(cycle))
        return backends[start:] + backends[:start]

    async def forward(request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        last_error: Exception | None = None
        for backend in order(body):
            try:
                upstream = await client.request(request.method, backend + request.url.path,
                                                params=request.query_params, content=body, headers=headers)
            except httpx.TransportError as exc:  # that replica is down: try the next one
                last_error = exc
                continue
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            out["X-Replica"] = backend
            return Response(upstream.content, status_code=upstream.status_code, headers=out)
        return JSONResponse({"error": f"no Rasa replica answered ({last_error})"}, status_code=502)

    methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


def main(argv: list[str] | None = None) -> None:
    """`python -m bot.ops.balancer --port 5005 http://127.0.0.1:5006 http://127.0.0.1:5007`."""
    import uvicorn  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m bot.ops.balancer")
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("backends", nargs="+")
    args = parser.parse_args(argv)
    uvicorn.run(make_app([b.rstrip("/") for b in args.backends]), host="127.0.0.1", port=args.port,
                log_level="warning")


if __name__ == "__main__":
    main()
