"""Grant endpoints under /v3/grants and the grant lifecycle helpers."""

from __future__ import annotations

from .app import App
from .http_types import ApiError, Request, Response, data_response
from .mailbox_state import Mailbox

GRANT_DELETED, GRANT_EXPIRED, GRANT_UPDATED = 25013, 25009, 25014
DEFAULT_GRANT_LIMIT = 10


def list_grants(app: App, request: Request, params: dict[str, str]) -> Response:
    limit = request.int_param("limit") or DEFAULT_GRANT_LIMIT
    offset = request.int_param("offset") or 0
    if limit < 1 or offset < 0:
        raise ApiError(
            400,
            "invalid_request_error",
            "limit must be positive and offset not negative.",
        )
    filters = {
        "email": (request.param("email") or "").lower() or None,
        "grant_status": request.param("grant_status"),
        "provider": request.param("provider"),
    }
    with app.store.lock:
        grants = [
            m.grant.to_api()
            for m in app.store.mailboxes.values()
            if m.grant is not None
        ]
    grants.sort(key=lambda g: (g["created_at"], g["id"]))
    for name, value in filters.items():
        if value is not None:
            grants = [g for g in grants if g[name] == value]
    return data_response(grants[offset : offset + limit], limit=limit, offset=offset)


def find_grant(app: App, request: Request, params: dict[str, str]) -> Response:
    with app.store.lock:
        mailbox = app.store.resolve_grant(params["grant"])
        assert mailbox.grant is not None
        return data_response(mailbox.grant.to_api())


def update_grant(app: App, request: Request, params: dict[str, str]) -> Response:
    body = request.json()
    with app.store.lock:
        mailbox = app.store.resolve_grant(params["grant"])
        grant = mailbox.grant
        assert grant is not None
        if isinstance(body.get("settings"), dict):
            grant.settings = dict(body["settings"])
        if isinstance(body.get("scope"), list):
            grant.scope = [str(s) for s in body["scope"]]
        grant.updated_at = app.now()
        data = grant.to_api()
    app.emit_grant("grant.updated", mailbox, GRANT_UPDATED)
    return data_response(data)


def delete_grant(app: App, request: Request, params: dict[str, str]) -> Response:
    with app.store.lock:
        mailbox = app.store.resolve_grant(params["grant"])
    remove_grant(app, mailbox)
    return data_response({"status": "success"})


def remove_grant(app: App, mailbox: Mailbox) -> None:
    """Delete a grant for good and emit grant.deleted. The mailbox stays."""
    app.emit_grant("grant.deleted", mailbox, GRANT_DELETED)
    with app.store.lock:
        if mailbox.grant is not None:
            app.store.drop_grant(mailbox.grant.id)


def expire_grant(app: App, mailbox: Mailbox) -> None:
    with app.store.lock:
        if mailbox.grant is not None:
            mailbox.grant.grant_status = "invalid"
            mailbox.grant.updated_at = app.now()
    app.emit_grant("grant.expired", mailbox, GRANT_EXPIRED)
