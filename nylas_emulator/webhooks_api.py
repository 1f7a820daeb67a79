"""Webhook destination endpoints under /v3/webhooks."""

from __future__ import annotations

import logging
from typing import Any

from .app import App
from .http_types import ApiError, Request, Response, data_response
from .ids import random_hex
from .store import Destination
from .webhooks_out import verify_challenge

logger = logging.getLogger(__name__)

# Trigger values that nylas-python 6.18 can decode (its WebhookTriggers enum).
# Returning any other value makes the SDK raise ValueError.
SDK_TRIGGERS = frozenset(
    (
        "booking.created",
        "booking.pending",
        "booking.rescheduled",
        "booking.cancelled",
        "booking.reminder",
        "calendar.created",
        "calendar.updated",
        "calendar.deleted",
        "contact.updated",
        "contact.deleted",
        "event.created",
        "event.updated",
        "event.deleted",
        "grant.created",
        "grant.updated",
        "grant.deleted",
        "grant.expired",
        "message.send_success",
        "message.send_failed",
        "message.bounce_detected",
        "message.created",
        "message.updated",
        "message.deleted",
        "message.opened",
        "message.link_clicked",
        "message.opened.legacy",
        "message.link_clicked.legacy",
        "message.intelligence.order",
        "message.intelligence.tracking",
        "message.intelligence.return",
        "thread.replied",
        "thread.replied.legacy",
        "folder.created",
        "folder.updated",
        "folder.deleted",
    )
)
STATUSES = ("active", "pause")
WEBHOOK_IPS = ["127.0.0.1"]


def _triggers(body: dict[str, Any], required: bool) -> list[str] | None:
    value = body.get("trigger_types")
    if value is None and not required:
        return None
    if not isinstance(value, list) or not value:
        raise ApiError(
            400, "invalid_request_error", "trigger_types must be a non-empty list."
        )
    unknown = [t for t in value if t not in SDK_TRIGGERS]
    if unknown:
        raise ApiError(
            400,
            "invalid_request_error",
            f"Unknown trigger types: {', '.join(map(str, unknown))}.",
        )
    return [str(t) for t in value]


def _url(body: dict[str, Any], required: bool) -> str | None:
    value = body.get("webhook_url")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ApiError(
            400, "invalid_request_error", "webhook_url must be an http(s) URL."
        )
    return value


def _emails(body: dict[str, Any]) -> list[str] | None:
    value = body.get("notification_email_addresses")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(
            400, "invalid_request_error", "notification_email_addresses must be a list."
        )
    return list(value)


def _destination(app: App, webhook_id: str) -> Destination:
    destination = app.store.destinations.get(webhook_id)
    if destination is None:
        raise ApiError(404, "not_found_error", f"Webhook {webhook_id} was not found.")
    return destination


def _require_challenge(app: App, url: str) -> None:
    if not verify_challenge(url, app.settings.challenge_timeout_s):
        raise ApiError(
            400,
            "invalid_request_error",
            f"Failed to verify the challenge at {url}: it must return the "
            "challenge value as the raw body with status 200 within 10 seconds.",
        )


def create_destination(
    app: App,
    url: str,
    triggers: list[str],
    secret: str | None = None,
    description: str | None = None,
    emails: list[str] | None = None,
) -> Destination:
    now = app.now()
    destination = Destination(
        id="wh_" + random_hex(24),
        webhook_url=url,
        webhook_secret=secret or random_hex(40),
        trigger_types=triggers,
        created_at=now,
        updated_at=now,
        status_updated_at=now,
        description=description,
        notification_email_addresses=emails or [],
    )
    with app.store.lock:
        app.store.destinations[destination.id] = destination
    logger.info("registered webhook destination %s for %s", destination.id, url)
    return destination


def create_webhook(app: App, request: Request, params: dict[str, str]) -> Response:
    body = request.json()
    triggers = _triggers(body, required=True)
    url = _url(body, required=True)
    assert triggers is not None and url is not None
    emails = _emails(body)
    _require_challenge(app, url)
    description = body.get("description")
    destination = create_destination(
        app, url, triggers, None, str(description) if description else None, emails
    )
    return data_response(destination.to_api(with_secret=True))


def list_webhooks(app: App, request: Request, params: dict[str, str]) -> Response:
    with app.store.lock:
        data = [d.to_api() for d in app.store.destinations.values()]
    return data_response(data)


def find_webhook(app: App, request: Request, params: dict[str, str]) -> Response:
    with app.store.lock:
        return data_response(_destination(app, params["webhook"]).to_api())


def update_webhook(app: App, request: Request, params: dict[str, str]) -> Response:
    body = request.json()
    triggers, url, emails = _triggers(body, False), _url(body, False), _emails(body)
    status = body.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid_request_error", "status must be active or pause.")
    with app.store.lock:
        destination = _destination(app, params["webhook"])
        reactivating = status == "active" and destination.status != "active"
    if url is not None or reactivating:
        _require_challenge(app, url or destination.webhook_url)

    with app.store.lock:
        _apply_update(app, destination, body, triggers, url, emails, status)
        return data_response(destination.to_api())


def _apply_update(
    app: App,
    destination: Destination,
    body: dict[str, Any],
    triggers: list[str] | None,
    url: str | None,
    emails: list[str] | None,
    status: str | None,
) -> None:
    now = app.now()
    if triggers is not None:
        destination.trigger_types = triggers
    if url is not None:
        destination.webhook_url = url
    if emails is not None:
        destination.notification_email_addresses = emails
    if "description" in body:
        destination.description = body["description"]
    if status is not None and status != destination.status:
        destination.status = status
        destination.status_updated_at = now
    destination.updated_at = now


def delete_webhook(app: App, request: Request, params: dict[str, str]) -> Response:
    with app.store.lock:
        _destination(app, params["webhook"])
        del app.store.destinations[params["webhook"]]
    return data_response({"status": "success"})


def rotate_secret(app: App, request: Request, params: dict[str, str]) -> Response:
    with app.store.lock:
        destination = _destination(app, params["webhook"])
        destination.webhook_secret = random_hex(40)
        destination.updated_at = app.now()
        return data_response(destination.to_api(with_secret=True))


def ip_addresses(app: App, request: Request, params: dict[str, str]) -> Response:
    return data_response({"ip_addresses": WEBHOOK_IPS, "updated_at": app.now()})
