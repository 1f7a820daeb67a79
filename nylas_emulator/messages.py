"""Message, thread and attachment endpoints under /v3/grants/{grant}/."""

from __future__ import annotations

from typing import Any

from .app import App, grant_id_of, render_message, usable_mailbox
from .http_types import ApiError, Request, Response, data_response
from .mailbox_state import Mailbox, Message
from .query import (
    MessageQuery,
    encode_cursor,
    parse_fields,
    parse_limit,
    parse_message_query,
    parse_select,
    select_page,
)

Params = dict[str, str]


def _message_or_404(mailbox: Mailbox, message_id: str) -> Message:
    message = mailbox.messages.get(message_id)
    if message is None:
        raise ApiError(404, "not_found_error", f"Message {message_id} was not found.")
    return message


def list_messages(app: App, request: Request, params: Params) -> Response:
    query = parse_message_query(request)
    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        page, cursor = select_page(mailbox, query)
        grant_id = grant_id_of(mailbox)
        data = [render_message(m, grant_id, query.fields, query.select) for m in page]
    return data_response(data, next_cursor=cursor)


def find_message(app: App, request: Request, params: Params) -> Response:
    fields, select = parse_fields(request), parse_select(request)
    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        message = _message_or_404(mailbox, params["message"])
        data = render_message(message, grant_id_of(mailbox), fields, select)
    return data_response(data)


def update_message(app: App, request: Request, params: Params) -> Response:
    body = request.json()
    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        message = _message_or_404(mailbox, params["message"])
        apply_message_update(message, body)
        data = render_message(message, grant_id_of(mailbox), set(), None)
    app.emit_message("message.updated", mailbox, message)
    return data_response(data)


def apply_message_update(message: Message, body: dict[str, Any]) -> None:
    """Apply a partial update: only unread, starred, folders and metadata change."""
    for key in ("unread", "starred"):
        if key in body:
            if not isinstance(body[key], bool):
                raise ApiError(
                    400, "invalid_request_error", f"{key} must be a boolean."
                )
            message[key] = body[key]
    if "folders" in body:
        folders = body["folders"]
        if not isinstance(folders, list) or not all(
            isinstance(f, str) for f in folders
        ):
            raise ApiError(
                400, "invalid_request_error", "folders must be a list of ids."
            )
        message["folders"] = list(folders)
    if "metadata" in body:
        if not isinstance(body["metadata"], dict):
            raise ApiError(400, "invalid_request_error", "metadata must be an object.")
        message["metadata"] = dict(body["metadata"])


def delete_message(app: App, request: Request, params: Params) -> Response:
    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        message = _message_or_404(mailbox, params["message"])
        mailbox.remove(message["id"])
    app.emit_message("message.deleted", mailbox, message)
    return data_response({"status": "success"})


# Threads ---------------------------------------------------------------------


def render_thread(mailbox: Mailbox, thread_id: str) -> dict[str, Any]:
    messages = mailbox.thread_messages(thread_id)
    grant_id = grant_id_of(mailbox)
    latest = messages[-1]
    sent = [m["date"] for m in messages if "SENT" in m["folders"]]
    received = [m["date"] for m in messages if "SENT" not in m["folders"]]
    participants: dict[str, dict[str, str]] = {}
    for message in messages:
        for field_name in ("from", "to", "cc", "bcc"):
            for person in message.get(field_name) or []:
                participants.setdefault(person["email"].lower(), person)
    folders = sorted({f for m in messages for f in m["folders"]})

    return {
        "object": "thread",
        "id": thread_id,
        "grant_id": grant_id,
        "subject": messages[0]["subject"],
        "snippet": latest["snippet"],
        "participants": list(participants.values()),
        "message_ids": [m["id"] for m in messages],
        "draft_ids": [],
        "folders": folders,
        "earliest_message_date": messages[0]["date"],
        "latest_message_received_date": max(received) if received else None,
        "latest_message_sent_date": max(sent) if sent else None,
        "has_attachments": any(m["attachments"] for m in messages),
        "has_drafts": False,
        "starred": any(m["starred"] for m in messages),
        "unread": any(m["unread"] for m in messages),
        "latest_draft_or_message": render_message(latest, grant_id, set(), None),
    }


def list_threads(app: App, request: Request, params: Params) -> Response:
    query = parse_message_query(request)
    query.limit = parse_limit(request, default=20)
    after = request.int_param("latest_message_after")
    before = request.int_param("latest_message_before")
    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        data, cursor = _thread_page(mailbox, query, after, before)
    if query.select is not None:
        data = [{k: t[k] for k in query.select if k in t} for t in data]
    return data_response(data, next_cursor=cursor)


def _thread_page(
    mailbox: Mailbox, query: MessageQuery, after: int | None, before: int | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Order threads by their newest matching message and cut one page.

    The cursor is the sort key of that newest message, so later pages do not
    repeat a thread that gained older matches.
    """
    limit, after_key = query.limit, query.after_key
    query.limit, query.after_key = 10**9, None
    messages, _ = select_page(mailbox, query)

    seen: set[str] = set()
    page: list[dict[str, Any]] = []
    for message in messages:
        thread_id = message["thread_id"]
        key = (-int(message["date"]), str(message["id"]))
        if thread_id in seen:
            continue
        seen.add(thread_id)
        if after_key is not None and key <= after_key:
            continue
        if not _latest_in_range(mailbox, thread_id, after, before):
            continue
        if len(page) == limit:
            last = page[-1]["_key"]
            return _strip_keys(page), encode_cursor(last)
        page.append(dict(render_thread(mailbox, thread_id), _key=key))
    return _strip_keys(page), None


def _latest_in_range(
    mailbox: Mailbox, thread_id: str, after: int | None, before: int | None
) -> bool:
    latest = max(mailbox.messages[i]["date"] for i in mailbox.threads[thread_id])
    return (after is None or latest >= after) and (before is None or latest < before)


def _strip_keys(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in thread.items() if k != "_key"} for thread in page]


def find_thread(app: App, request: Request, params: Params) -> Response:
    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        if params["thread"] not in mailbox.threads:
            raise ApiError(
                404, "not_found_error", f"Thread {params['thread']} was not found."
            )
        data = render_thread(mailbox, params["thread"])
    return data_response(data)


def update_thread(app: App, request: Request, params: Params) -> Response:
    body = request.json()
    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        if params["thread"] not in mailbox.threads:
            raise ApiError(
                404, "not_found_error", f"Thread {params['thread']} was not found."
            )
        changed = mailbox.thread_messages(params["thread"])
        for message in changed:
            apply_message_update(message, body)
        data = render_thread(mailbox, params["thread"])
    for message in changed:
        app.emit_message("message.updated", mailbox, message)
    return data_response(data)


def delete_thread(app: App, request: Request, params: Params) -> Response:
    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        removed = [
            mailbox.remove(m["id"]) for m in mailbox.thread_messages(params["thread"])
        ]
    for message in removed:
        if message is not None:
            app.emit_message("message.deleted", mailbox, message)
    return data_response({"status": "success"})


# Attachments -----------------------------------------------------------------


def _attachment(
    mailbox: Mailbox, request: Request, attachment_id: str
) -> dict[str, Any]:
    message_id = request.param("message_id")
    if not message_id:
        raise ApiError(
            400, "invalid_request_error", "Query parameter message_id is required."
        )
    message = _message_or_404(mailbox, message_id)
    for attachment in message["attachments"]:
        if attachment["id"] == attachment_id:
            return dict(attachment, grant_id=grant_id_of(mailbox))
    raise ApiError(404, "not_found_error", f"Attachment {attachment_id} was not found.")


def find_attachment(app: App, request: Request, params: Params) -> Response:
    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        data = _attachment(mailbox, request, params["attachment"])
    return data_response(data)


def download_attachment(app: App, request: Request, params: Params) -> Response:
    with app.store.lock:
        mailbox = usable_mailbox(app, params["grant"])
        meta = _attachment(mailbox, request, params["attachment"])
        content = mailbox.attachment_data.get(meta["id"], b"")
    disposition = f'attachment; filename="{meta["filename"]}"'.encode(
        "ascii", "replace"
    )
    return Response(
        200,
        content,
        meta["content_type"] or "application/octet-stream",
        {"Content-Disposition": disposition.decode("ascii")},
    )
