"""Run the rasa-sdk action server bound to 127.0.0.1, answering only Rasa (the action token) on /webhook.

rasa-sdk listens on 0.0.0.0 and runs any action for any hand-made tracker; here `/webhook` needs the token
that the launcher writes into Rasa's endpoints.yml (`action_endpoint: token:`, sent as `?token=`).
"""
from __future__ import annotations

import argparse
import logging

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response

from bot.tokens import ACTION_TOKEN, bearer, ensure_token, same
from knowledge.settings import exit_on_bad_settings, get_settings

log = logging.getLogger(__name__)


def build_app(actions_module: str) -> Sanic:
    """The action server app: rasa-sdk's routes, no CORS, and a token check before every action call."""
    executor = ActionExecutor()
    executor.register_package(actions_module)
    app = create_app(executor, cors_origins="")
    token = ensure_token(ACTION_TOKEN, get_settings().var_dir)

    @app.on_request
    async def require_token(request):
        if request.path == "/health":
            return None
        supplied = request.args.get("token") or bearer(request.headers.get("Authorization"))
        if not same(supplied, token):
            return response.json({"error": "missing or wrong action token"}, status=401)
        return None

    return app


def main(argv: list[str] | None = None) -> None:
    """`python -m bot.action_server --port 5055 [--host 127.0.0.1]`."""
    settings = exit_on_bad_settings()
    parser = argparse.ArgumentParser(prog="python -m bot.action_server")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default=settings.action_server_host)
    parser.add_argument("--actions", default="bot.actions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    build_app(args.actions).run(host=args.host, port=args.port, single_process=True, motd=False,
                                access_log=False)


if __name__ == "__main__":
    main()
