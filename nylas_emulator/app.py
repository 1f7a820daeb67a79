"""The emulator application object that endpoint handlers receive."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .faults import FaultBook
from .mailbox_state import Mailbox, Message
from .store import Store
from .webhooks_out import Notifier, Target, build_event

logger = logging.getLogger(__name__)

HIDDEN_KEYS = ("headers", "tracking_options")
BASIC_HEADERS = {"message-id", "in-reply-to", "references"}


@dataclass
class Settings:
    api_key: str = "nyk_emulator"
    application_id: str = "app_emulator"
    client_id: str = "emulator-client"
    id_style: str = "hex"
    seed: int = 1
    state_file: Path | None = None
    webhook_base_delay_s: float = 1.0
    webhook_retry_window_s: float = 20 * 60
    challenge_timeout_s: float = 10.0


class App:
    """Holds the store, the webhook notifier and the fault rules."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.faults = FaultBook()
        self.notifier = Notifier(
            self._find_target,
            settings.webhook_base_delay_s,
            settings.webhook_retry_window_s,
        )

    def now(self) -> int:
        return int(time.time())

    def _find_target(self, destination_id: str) -> Target | None:
        with self.store.lock:
            destination = self.store.destinations.get(destination_id)
            if destination is None or destination.status != "active":
                return None
            return Target(destination.webhook_url, destination.webhook_secret)

    def emit(
        self, trigger: str, obj: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Queue one notification for every active destination subscribed to it."""
        with self.store.lock:
            destination_ids = [
                d.id
                for d in self.store.destinations.values()
                if d.status == "active" and trigger in d.trigger_types
            ]
        if not destination_ids:
            return None
        event = build_event(trigger, obj, self.settings.application_id, extra or {})
        self.notifier.enqueue(destination_ids, event)
        return event

    def emit_message(self, trigger: str, mailbox: Mailbox, message: Message) -> None:
        if mailbox.grant is None:
            return
        self.emit(trigger, render_message(message, mailbox.grant.id, set(), None))

    def emit_grant(self, trigger: str, mailbox: Mailbox, code: int) -> None:
        grant = mailbox.grant
        if grant is None:
            return
        obj: dict[str, Any] = {
            "code": code,
            "grant_id": grant.id,
            "integration_id": self.settings.client_id,
            "provider": grant.provider,
            "email": grant.email,
        }
        if trigger == "grant.created":
            obj.update(login_id=grant.id, name=grant.name, scope=list(grant.scope))
        if trigger == "grant.updated":
            obj["reauthentication_flag"] = True
        if trigger == "grant.expired":
            obj["grant_updated_at"] = grant.updated_at
        self.emit(trigger, obj)


def render_message(
    message: Message, grant_id: str, fields: set[str], select: list[str] | None
) -> dict[str, Any]:
    """Build the API view of a stored message.

    Headers appear only with fields=include_headers (all of them) or
    include_basic_headers (threading headers only), tracking options only with
    include_tracking_options, and ``select`` keeps only the named keys.
    """
    if select is not None:
        return _render_selected(message, grant_id, fields, select)

    out = {k: v for k, v in message.items() if k not in HIDDEN_KEYS}
    out["grant_id"] = grant_id
    if message["attachments"]:
        out["attachments"] = [
            dict(a, grant_id=grant_id) for a in message["attachments"]
        ]
    _add_optional(out, message, fields)
    return out


def _render_selected(
    message: Message, grant_id: str, fields: set[str], select: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in select:
        if key == "grant_id":
            out[key] = grant_id
        elif key == "attachments":
            out[key] = [dict(a, grant_id=grant_id) for a in message["attachments"]]
        elif key in message and key not in HIDDEN_KEYS:
            out[key] = message[key]
    _add_optional(out, message, fields)
    return out


def _add_optional(out: dict[str, Any], message: Message, fields: set[str]) -> None:
    headers = message.get("headers") or []
    if "include_headers" in fields:
        out["headers"] = headers
    elif "include_basic_headers" in fields:
        out["headers"] = [h for h in headers if h["name"].lower() in BASIC_HEADERS]
    if "include_tracking_options" in fields:
        out["tracking_options"] = message.get("tracking_options")


def usable_mailbox(app: App, grant_segment: str) -> Mailbox:
    """Resolve a grant path segment, rejecting an expired grant with 401.

    Call with ``app.store.lock`` held.
    """
    mailbox = app.store.resolve_grant(grant_segment)
    grant = mailbox.grant
    if grant is not None and grant.grant_status != "valid":
        from .http_types import ApiError

        raise ApiError(
            401,
            "grant.expired",
            f"Grant {grant.id} has expired. Send the user through hosted "
            "authentication again to re-authenticate it.",
        )
    return mailbox


def grant_id_of(mailbox: Mailbox) -> str:
    return mailbox.grant.id if mailbox.grant else ""
