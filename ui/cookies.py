"""Sign-in that survives a reload: a signed, HTTP-only cookie set by a small route next to the Streamlit app.

Streamlit can read cookies (st.context.cookies) but not set an HTTP-only one, so ui/server.py mounts
`/api/session` beside the app (st.App): after a sign-in the page POSTs a one-time ticket there and the
response sets the cookie; JavaScript never sees the cookie's value. The cookie holds only the records key
and the account's session generation, signed with `<runtime dir>/session.key` (itsdangerous); a password
reset or roster removal bumps the generation, so old cookies stop at once.
"""
from __future__ import annotations

import json
import secrets
import threading
import time

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from bot.tokens import SESSION_SECRET, ensure_token
from knowledge.settings import get_settings

COOKIE = "policy_coach_session"
ROUTE = "/api/session"
TICKET_SECONDS = 60
_tickets: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


def session_seconds() -> int:
    """How long a sign-in lasts across reloads (POLICY_COACH_SESSION_HOURS, default 8)."""
    return int(get_settings().session_hours * 3600)


def idle_seconds() -> int:
    """Idle time after which a browser session is signed out (POLICY_COACH_IDLE_MINUTES, default 30)."""
    return int(get_settings().idle_minutes * 60)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ensure_token(SESSION_SECRET, get_settings().var_dir), salt="policy-coach-session")


def make_cookie(sender_id: str, generation: int) -> str:
    """The signed cookie value for a signed-in account (no password, no personal data beyond the key)."""
    return _serializer().dumps({"sid": sender_id, "gen": int(generation)})


def read_cookie(value: str | None) -> tuple[str, int] | None:
    """(records key, generation) from a cookie that is genuine and not expired, else None."""
    if not value:
        return None
    try:
        data = _serializer().loads(value, max_age=session_seconds())
    except (BadSignature, SignatureExpired, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sid"), str) or not isinstance(data.get("gen"), int):
        return None
    return data["sid"], data["gen"]


def issue_ticket(cookie_value: str) -> str:
    """A one-time ticket the page exchanges (within a minute) for the HTTP-only cookie."""
    ticket = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for key in [k for k, (_, until) in _tickets.items() if until < now]:
            del _tickets[key]
        _tickets[ticket] = (cookie_value, now + TICKET_SECONDS)
    return ticket


def redeem_ticket(ticket: str) -> str | None:
    """The cookie value for a ticket, once; None for an unknown, used or expired ticket."""
    with _lock:
        found = _tickets.pop(ticket or "", None)
    if found is None or found[1] < time.monotonic():
        return None
    return found[0]


def set_cookie_script(ticket: str) -> str:
    """JavaScript for the page: exchange the ticket for the cookie (same origin only)."""
    return (f"<script>fetch({json.dumps(ROUTE)}, {{method: 'POST', credentials: 'same-origin', "
            f"headers: {{'Content-Type': 'text/plain'}}, body: {json.dumps(ticket)}}});</script>")


def clear_cookie_script() -> str:
    """JavaScript for the page: ask the route to clear the cookie."""
    return f"<script>fetch({json.dumps(ROUTE)}, {{method: 'DELETE', credentials: 'same-origin'}});</script>"


async def session_endpoint(request):
    """POST a ticket: set the HTTP-only cookie. DELETE: clear it."""
    from starlette.responses import Response  # noqa: PLC0415

    secure = request.url.scheme == "https"
    if request.method == "DELETE":
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
        return response
    body = (await request.body())[:200].decode("utf-8", "replace").strip()
    value = redeem_ticket(body)
    if value is None:
        return Response("unknown or expired ticket", status_code=403)
    response = Response(status_code=204)
    response.set_cookie(COOKIE, value, max_age=session_seconds(), path="/", httponly=True, samesite="strict",
                        secure=secure)
    return response


def routes() -> list:
    """The Starlette routes ui/server.py mounts beside the app."""
    from starlette.routing import Route  # noqa: PLC0415

    return [Route(ROUTE, session_endpoint, methods=["POST", "DELETE"])]
