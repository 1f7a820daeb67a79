"""Control API under /_emulator/: seed data, inject events, faults and inspection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .app import App
from .delivery import (
    Outgoing,
    deliver,
    emit_thread_replied,
    incoming_from_spec,
    make_copy,
)
from .faults import fault_from_body
from .generate import correspondents, generate_mailbox
from .grants import expire_grant, remove_grant
from .http_types import ApiError, Request, Response, json_response, require_str
from .ids import ID_STYLES, make_header_message_id, random_hex
from .mailbox_state import Mailbox, header_value
from .messages import apply_message_update
from .mime_parse import load_path
from .store import Store, new_grant
from .tracking import record_open

Params = dict[str, str]


def _ok(payload: dict[str, Any] | None = None) -> Response:
    return json_response({"request_id": random_hex(16), **(payload or {})})


def add_mailbox(app: App, request: Request, params: Params) -> Response:
    body = request.json()
    owner = require_str(body, "owner")
    id_style = str(body.get("id_style", app.settings.id_style))
    if id_style not in ID_STYLES:
        raise ApiError(
            400, "invalid_request_error", f"id_style must be one of {ID_STYLES}."
        )
    result = seed_mailbox(app, owner, body.get("generate"), body.get("path"), id_style)
    if body.get("grant_id"):
        ensure_grant(app, owner, str(body["grant_id"]))
    return _ok(result)


def seed_mailbox(
    app: App, owner: str, generate: Any, path: Any, id_style: str
) -> dict[str, Any]:
    """Create a mailbox and fill it from generated data or from mail files."""
    with app.store.lock:
        mailbox = app.store.mailbox(owner, id_style)
        mailbox.id_style = id_style
    if isinstance(generate, dict):
        generated = generate_mailbox(
            owner,
            int(generate.get("count", 100)),
            int(generate.get("days", 30)),
            int(generate.get("seed", app.settings.seed)),
            int(generate.get("now", app.now())),
            id_style,
        )
        with app.store.lock:
            mailbox.add_presorted(generated.messages)
            mailbox.attachment_data.update(generated.attachments)
        return {"owner": mailbox.owner, "loaded": len(generated.messages), "skipped": 0}
    if isinstance(path, str):
        loaded = load_path(Path(path))
        with app.store.lock:
            app.store.add_records(owner, loaded.records)
        return {
            "owner": mailbox.owner,
            "loaded": len(loaded.records),
            "skipped": len(loaded.skipped),
        }
    return {"owner": mailbox.owner, "loaded": 0, "skipped": 0}


def ensure_grant(
    app: App, owner: str, grant_id: str | None, provider: str = "google"
) -> str:
    """Give a mailbox a valid grant, keeping an existing grant id."""
    with app.store.lock:
        mailbox = app.store.mailbox(owner)
        if mailbox.grant is None:
            app.store.attach_grant(
                mailbox, new_grant(owner, provider, app.now(), grant_id)
            )
        assert mailbox.grant is not None
        mailbox.grant.grant_status = "valid"
        return mailbox.grant.id


def create_grant(app: App, request: Request, params: Params) -> Response:
    body = request.json()
    grant_id = ensure_grant(
        app,
        require_str(body, "owner"),
        body.get("grant_id"),
        str(body.get("provider", "google")),
    )
    return _ok({"grant_id": grant_id})


def list_mailboxes(app: App, request: Request, params: Params) -> Response:
    with app.store.lock:
        data = [
            {
                "owner": m.owner,
                "count": len(m.messages),
                "grant_id": m.grant.id if m.grant else None,
                "grant_status": m.grant.grant_status if m.grant else None,
                "id_style": m.id_style,
            }
            for m in app.store.mailboxes.values()
        ]
    return _ok({"data": data})


def list_correspondents(app: App, request: Request, params: Params) -> Response:
    return _ok({"data": correspondents(app.settings.seed)})


def _mailbox_by_owner(app: App, owner: str) -> Mailbox:
    mailbox = app.store.find_mailbox(owner)
    if mailbox is None:
        raise ApiError(404, "not_found_error", f"Mailbox {owner} was not found.")
    return mailbox


def inject_message(app: App, request: Request, params: Params) -> Response:
    body = request.json()
    owner = require_str(body, "owner")
    spec = body.get("message")
    if not isinstance(spec, dict):
        raise ApiError(400, "invalid_request_error", "message must be an object.")
    with app.store.lock:
        mailbox = app.store.mailbox(owner)
        outgoing = incoming_from_spec(spec, mailbox.owner, app.now())
        message = make_copy(mailbox, outgoing, "INBOX", [], spec.get("thread_id"))
    app.emit_message("message.created", mailbox, message)
    return _ok({"id": message["id"], "thread_id": message["thread_id"]})


def update_message(app: App, request: Request, params: Params) -> Response:
    body = request.json()
    with app.store.lock:
        mailbox = app.store.resolve_grant(params["grant"])
        message = mailbox.messages.get(params["message"])
        if message is None:
            raise ApiError(
                404, "not_found_error", f"Message {params['message']} was not found."
            )
        apply_message_update(message, body)
    app.emit_message("message.updated", mailbox, message)
    return _ok({"id": message["id"]})


def open_message(app: App, request: Request, params: Params) -> Response:
    body = request.json()
    with app.store.lock:
        mailbox = app.store.resolve_grant(require_str(body, "grant_id"))
        message = mailbox.messages.get(require_str(body, "message_id"))
        if message is None:
            raise ApiError(
                404, "not_found_error", f"Message {body['message_id']} was not found."
            )
        obj = record_open(
            app, mailbox, message, str(body.get("kind", "human")), body.get("at")
        )
    app.emit("message.opened", obj, {"grant_id": obj["grant_id"]})
    return _ok({"object": obj})


def reply_to_message(app: App, request: Request, params: Params) -> Response:
    body = request.json()
    sender = body.get("from")
    if isinstance(sender, str):
        sender = {"email": sender}
    if not isinstance(sender, dict) or "@" not in str(sender.get("email", "")):
        raise ApiError(
            400, "invalid_request_error", "from must be an address or participant."
        )

    with app.store.lock:
        mailbox = app.store.resolve_grant(require_str(body, "grant_id"))
        original = mailbox.messages.get(require_str(body, "message_id"))
        if original is None:
            raise ApiError(
                404, "not_found_error", f"Message {body['message_id']} was not found."
            )
        outgoing = _reply_outgoing(app, mailbox, original, sender, body)
        delivered = deliver(app, None, outgoing, None)
        reply = next(m for box, m in delivered.copies if box is mailbox)
    app.emit_message("message.created", mailbox, reply)
    emit_thread_replied(app, mailbox, original, reply)
    return _ok({"id": reply["id"], "thread_id": reply["thread_id"]})


def _reply_outgoing(
    app: App,
    mailbox: Mailbox,
    original: dict[str, Any],
    sender: dict[str, Any],
    body: dict[str, Any],
) -> Outgoing:
    parent_id = header_value(original, "Message-ID")
    references = [*header_value(original, "References").split(), parent_id]
    subject = original["subject"]
    domain = str(sender["email"]).rpartition("@")[2]
    text = str(body.get("body") or "<div>Thanks, that works for us.</div>")
    return Outgoing(
        sender=[sender],
        to=[{"email": mailbox.owner}],
        subject=subject if subject.lower().startswith("re:") else f"Re: {subject}",
        body=text,
        date=int(body.get("date") or app.now()),
        header_id=make_header_message_id(domain, mailbox.owner, random_hex(8)),
        in_reply_to=[parent_id] if parent_id else [],
        references=[r for r in references if r],
    )


def add_fault(app: App, request: Request, params: Params) -> Response:
    app.faults.add(fault_from_body(request.json()))
    return _ok({"faults": app.faults.list()})


def list_faults(app: App, request: Request, params: Params) -> Response:
    return _ok({"faults": app.faults.list()})


def clear_faults(app: App, request: Request, params: Params) -> Response:
    app.faults.clear()
    return _ok({"faults": []})


def grant_action(app: App, request: Request, params: Params) -> Response:
    action = params["action"]
    with app.store.lock:
        owner = app.store.grants.get(params["grant"])
        mailbox = app.store.mailboxes.get(owner) if owner else None
    if mailbox is None:
        raise ApiError(
            404, "not_found_error", f"Grant {params['grant']} was not found."
        )
    if action == "expire":
        expire_grant(app, mailbox)
    elif action == "revoke":
        remove_grant(app, mailbox)
    elif action == "restore":
        ensure_grant(app, mailbox.owner, params["grant"])
    else:
        raise ApiError(404, "not_found_error", f"Unknown grant action {action}.")
    return _ok({"grant_id": params["grant"], "action": action})


def webhooks_pause(app: App, request: Request, params: Params) -> Response:
    app.notifier.pause()
    return _ok({"paused": True})


def webhooks_resume(app: App, request: Request, params: Params) -> Response:
    app.notifier.resume()
    return _ok({"paused": False})


def webhooks_chaos(app: App, request: Request, params: Params) -> Response:
    body = request.json()
    ratio = float(body.get("duplicate_ratio", 0.0))
    if not 0.0 <= ratio <= 1.0:
        raise ApiError(
            400, "invalid_request_error", "duplicate_ratio must be between 0 and 1."
        )
    app.notifier.set_chaos(
        ratio, bool(body.get("shuffle", False)), int(body.get("seed", 0))
    )
    return _ok({"duplicate_ratio": ratio, "shuffle": bool(body.get("shuffle", False))})


def webhooks_flush(app: App, request: Request, params: Params) -> Response:
    body = request.json()
    emptied = app.notifier.flush(float(body.get("timeout", 10.0)))
    return _ok(
        {
            "empty": emptied,
            "pending": app.notifier.pending(),
            "attempts": len(app.notifier.deliveries),
            "given_up": app.notifier.given_up,
        }
    )


def webhooks_deliveries(app: App, request: Request, params: Params) -> Response:
    return _ok({"data": list(app.notifier.deliveries)})


def sent_log(app: App, request: Request, params: Params) -> Response:
    with app.store.lock:
        return _ok({"data": list(app.store.sent_log)})


def save_state(app: App, request: Request, params: Params) -> Response:
    path = app.settings.state_file
    if path is None:
        raise ApiError(
            400,
            "invalid_request_error",
            "Start the emulator with --state-file to save.",
        )
    app.store.save(path)
    return _ok({"saved": str(path)})


def reset(app: App, request: Request, params: Params) -> Response:
    """Drop all mailboxes, grants, destinations, faults and queued deliveries."""
    fresh = Store()
    with app.store.lock:
        for name in (
            "mailboxes",
            "grants",
            "destinations",
            "auth_codes",
            "tokens",
            "idempotency",
            "sent_log",
            "opens",
        ):
            setattr(app.store, name, getattr(fresh, name))
    app.faults.clear()
    app.notifier.clear()
    return _ok({"reset": True})
