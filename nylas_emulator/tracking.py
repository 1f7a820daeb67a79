"""Open-tracking events: who fetched the pixel, from where, and when."""

from __future__ import annotations

from typing import Any

from .app import App, grant_id_of
from .http_types import ApiError
from .mailbox_state import Mailbox, Message

# Example clients per kind. The proxy values imitate Apple Mail Privacy
# Protection and the Gmail image proxy, which fetch images on the reader's behalf.
OPENERS = {
    "human": (
        "203.0.113.7",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ),
    "proxy_apple": (
        "17.58.63.12",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko)",
    ),
    "proxy_google": (
        "66.249.84.1",
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
        "(via ggpht.com GoogleImageProxy)",
    ),
}
PROXY_PREFETCH_DELAY_S = 3
MAX_RECENTS = 50


def record_open(
    app: App, mailbox: Mailbox, message: Message, kind: str, at: Any
) -> dict[str, Any]:
    """Record one pixel fetch and build the message.opened object.

    A proxy fetch defaults to a few seconds after the message date, like a
    prefetch on delivery. Call with the store lock held.
    """
    if kind not in OPENERS:
        raise ApiError(
            400, "invalid_request_error", f"kind must be one of {', '.join(OPENERS)}."
        )
    ip, user_agent = OPENERS[kind]
    default_at = (
        app.now() if kind == "human" else int(message["date"]) + PROXY_PREFETCH_DELAY_S
    )
    timestamp = int(at) if at is not None else default_at

    opens = app.store.opens.setdefault(message["id"], [])
    opens.append(
        {
            "opened_id": len(opens),
            "ip": ip,
            "user_agent": user_agent,
            "timestamp": timestamp,
        }
    )
    options = message.get("tracking_options") or {}
    grant_id = grant_id_of(mailbox)
    return {
        "object": "message",
        "grant_id": grant_id,
        "message_id": message["id"],
        "label": options.get("label"),
        "message_data": {"count": len(opens), "timestamp": timestamp},
        "recents": opens[-MAX_RECENTS:],
        "sender_app_id": app.settings.application_id,
        "timestamp": timestamp,
    }
