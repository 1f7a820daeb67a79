"""POST /v3/grants/{grant}/messages/send: parsing, idempotency and delivery."""

from __future__ import annotations

import base64
import binascii
import email.policy
import hashlib
import json
import logging
import time
from email.parser import BytesParser
from typing import Any

from .app import App, grant_id_of, render_message, usable_mailbox
from .delivery import Outgoing, add_open_pixel, announce, deliver
from .http_types import ApiError, Request, Response, dump_json
from .ids import make_header_message_id, random_hex
from .mailbox_state import Mailbox, Message, header_value
from .participants import Participant
from .query import parse_fields

logger = logging.getLogger(__name__)

IDEMPOTENCY_TTL_S = 3600
MAX_IDEMPOTENCY_KEY = 256
Attachment = tuple[dict[str, Any], bytes]


def send_message(app: App, request: Request, params: dict[str, str]) -> Response:
    body, attachments = parse_send_body(request)
    key = request.header("Idempotency-Key")
    fingerprint = _fingerprint(request.body)

    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        grant_id = grant_id_of(mailbox)
        if key is not None:
            cached = _check_idempotency(app, grant_id, key, fingerprint)
            if cached is not None:
                return cached
        try:
            payload, delivered = _send(app, mailbox, body, attachments, request)
        except ApiError:
            if key is not None:
                app.store.idempotency.pop((grant_id, key), None)
            raise
        if key is not None:
            app.store.idempotency[(grant_id, key)] = {
                "fingerprint": fingerprint,
                "payload": payload,
                "expires": time.monotonic() + IDEMPOTENCY_TTL_S,
            }
        _log_sent(app, grant_id, payload["data"]["id"], body, attachments, request, key)

    announce(app, delivered)
    return Response(200, dump_json(payload))


def _fingerprint(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _check_idempotency(
    app: App, grant_id: str, key: str, fingerprint: str
) -> Response | None:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise ApiError(
            400,
            "api.invalid_idempotency_key",
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters long.",
        )
    entry = app.store.idempotency.get((grant_id, key))
    if entry is None or entry["expires"] < time.monotonic():
        return None
    if entry["fingerprint"] != fingerprint:
        raise ApiError(
            409,
            "api.invalid_idempotent_request",
            f"Idempotency-Key {key} was already used with a different request body.",
        )
    return Response(
        200, dump_json(entry["payload"]), headers={"Idempotent-Response": "true"}
    )


def parse_send_body(request: Request) -> tuple[dict[str, Any], list[Attachment]]:
    content_type = (request.header("Content-Type") or "application/json").lower()
    if content_type.startswith("multipart/form-data"):
        return _parse_multipart(request, content_type)
    if not content_type.startswith("application/json"):
        raise ApiError(
            400,
            "invalid_request_error",
            f"Content-Type {content_type} is not supported; send JSON or multipart.",
        )
    body = request.json()
    attachments = [_json_attachment(a) for a in body.get("attachments") or []]
    return body, attachments


def _json_attachment(entry: Any) -> Attachment:
    if not isinstance(entry, dict) or not isinstance(entry.get("content"), str):
        raise ApiError(
            400, "invalid_request_error", "Each attachment needs base64 content."
        )
    try:
        content = base64.b64decode(entry["content"], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            400, "invalid_request_error", "Attachment content is not valid base64."
        ) from None
    return _attachment_meta(entry, content), content


def _attachment_meta(entry: dict[str, Any], content: bytes) -> dict[str, Any]:
    is_inline = (
        bool(entry.get("is_inline")) or entry.get("content_disposition") == "inline"
    )
    return {
        "id": "",
        "filename": str(entry.get("filename") or "attachment"),
        "content_type": str(entry.get("content_type") or "application/octet-stream"),
        "size": len(content),
        "content_id": entry.get("content_id"),
        "content_disposition": "inline" if is_inline else "attachment",
        "is_inline": is_inline,
    }


def _parse_multipart(
    request: Request, content_type: str
) -> tuple[dict[str, Any], list[Attachment]]:
    raw_type = request.header("Content-Type") or content_type
    document = f"Content-Type: {raw_type}\r\n\r\n".encode("latin-1") + request.body
    parsed = BytesParser(policy=email.policy.default).parsebytes(document)
    body: dict[str, Any] | None = None
    attachments: list[Attachment] = []

    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        if name == "message":
            body = _decode_message_part(content)
            continue
        entry = {
            "filename": part.get_filename() or str(name),
            "content_type": part.get_content_type(),
            "content_id": None if str(name).startswith("file") else str(name),
        }
        attachments.append((_attachment_meta(entry, content), content))

    if body is None:
        raise ApiError(
            400, "invalid_request_error", "Multipart body lacks a message part."
        )
    return body, attachments


def _decode_message_part(content: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(
            400, "invalid_request_error", "The message part is not JSON."
        ) from None
    if not isinstance(decoded, dict):
        raise ApiError(
            400, "invalid_request_error", "The message part must be an object."
        )
    return decoded


def read_participants(
    body: dict[str, Any], key: str, required: bool = False
) -> list[Participant]:
    value = body.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise ApiError(
            400,
            "invalid_request_error",
            f"{key} must be a non-empty list of participants.",
        )
    result = []
    for entry in value:
        address = entry.get("email") if isinstance(entry, dict) else None
        if not isinstance(address, str) or "@" not in address:
            raise ApiError(
                400,
                "invalid_request_error",
                f"{key} has an entry without a valid email.",
            )
        participant = {"email": address}
        if entry.get("name"):
            participant = {"name": str(entry["name"]), "email": address}
        result.append(participant)
    return result


def _find_parent(mailbox: Mailbox, reply_to_id: str) -> Message:
    parent = mailbox.messages.get(reply_to_id) or mailbox.find_by_header_id(reply_to_id)
    if parent is None:
        raise ApiError(
            400,
            "invalid_request_error",
            f"reply_to_message_id {reply_to_id} does not name a message of this grant.",
        )
    return parent


def _send(
    app: App,
    mailbox: Mailbox,
    body: dict[str, Any],
    attachments: list[Attachment],
    request: Request,
) -> tuple[dict[str, Any], Any]:
    outgoing = _outgoing(app, mailbox, body, attachments)
    parent_thread = None
    reply_to_id = body.get("reply_to_message_id")
    if reply_to_id:
        parent = _find_parent(mailbox, str(reply_to_id))
        parent_thread = parent["thread_id"]
        _set_reply_headers(outgoing, parent)

    sent_body = outgoing.body
    if (outgoing.tracking_options or {}).get("opens"):
        outgoing.body = add_open_pixel(outgoing.body, random_hex(32))
    delivered = deliver(app, mailbox, outgoing, parent_thread)

    assert delivered.sent is not None
    data = render_message(
        delivered.sent, grant_id_of(mailbox), parse_fields(request), None
    )
    data["body"] = sent_body
    data["reply_to_message_id"] = reply_to_id
    data["tracking_options"] = outgoing.tracking_options
    data["schedule_id"] = ""
    payload = {
        "request_id": random_hex(32),
        "grant_id": grant_id_of(mailbox),
        "data": data,
    }
    return payload, delivered


def _outgoing(
    app: App, mailbox: Mailbox, body: dict[str, Any], attachments: list[Attachment]
) -> Outgoing:
    sender = read_participants(body, "from") or [_owner_participant(mailbox)]
    now = app.now()
    domain = mailbox.owner.rpartition("@")[2]
    tracking = body.get("tracking_options")
    if tracking is not None and not isinstance(tracking, dict):
        raise ApiError(
            400, "invalid_request_error", "tracking_options must be an object."
        )
    custom = body.get("custom_headers") or []
    if not isinstance(custom, list) or not all(_is_header(h) for h in custom):
        raise ApiError(
            400, "invalid_request_error", "custom_headers must be name/value pairs."
        )

    return Outgoing(
        sender=sender,
        to=read_participants(body, "to", required=True),
        cc=read_participants(body, "cc"),
        bcc=read_participants(body, "bcc"),
        reply_to=read_participants(body, "reply_to"),
        subject=str(body.get("subject") or ""),
        body=str(body.get("body") or ""),
        date=now,
        header_id=make_header_message_id(
            domain, mailbox.owner, str(now), random_hex(8)
        ),
        extra_headers=[{"name": h["name"], "value": h["value"]} for h in custom],
        attachments=attachments,
        tracking_options=tracking,
        metadata=dict(body.get("metadata") or {}),
    )


def _is_header(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("name"), str)
        and isinstance(entry.get("value"), str)
    )


def _owner_participant(mailbox: Mailbox) -> Participant:
    grant = mailbox.grant
    if grant is not None and grant.name:
        return {"name": grant.name, "email": mailbox.owner}
    return {"email": mailbox.owner}


def _set_reply_headers(outgoing: Outgoing, parent: Message) -> None:
    parent_id = header_value(parent, "Message-ID").strip()
    references = header_value(parent, "References").split()
    if parent_id:
        outgoing.in_reply_to = [parent_id]
        outgoing.references = [*references, parent_id]


def _log_sent(
    app: App,
    grant_id: str,
    message_id: str,
    body: dict[str, Any],
    attachments: list[Attachment],
    request: Request,
    key: str | None,
) -> None:
    app.store.sent_log.append(
        {
            "grant_id": grant_id,
            "message_id": message_id,
            "request_body": body,
            "content_type": request.header("Content-Type"),
            "file_parts": [meta for meta, _ in attachments]
            if (request.header("Content-Type") or "").startswith("multipart")
            else [],
            "idempotency_key": key,
            "tracking_options": body.get("tracking_options"),
            "sent_at": app.now(),
        }
    )
    logger.info("grant %s sent message %s", grant_id, message_id)
