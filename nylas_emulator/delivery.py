"""Place outgoing and incoming mail into emulated mailboxes and notify about it."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from .app import App, grant_id_of
from .ids import imap_message_id, make_header_message_id, random_hex
from .mailbox_state import Mailbox, Message, header_value
from .mime_parse import make_snippet
from .participants import Participant, format_participant

TRACKING_HOST = "https://tracking.us.nylas.com"


@dataclass
class Outgoing:
    """A message on its way into one or more mailboxes."""

    sender: list[Participant]
    to: list[Participant]
    subject: str
    body: str
    cc: list[Participant] = field(default_factory=list)
    bcc: list[Participant] = field(default_factory=list)
    reply_to: list[Participant] = field(default_factory=list)
    date: int = 0
    header_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    extra_headers: list[dict[str, str]] = field(default_factory=list)
    attachments: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)
    tracking_options: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def new_message_id(mailbox: Mailbox, folder: str, header_id: str) -> str:
    if mailbox.id_style == "imap":
        return imap_message_id(folder, mailbox.next_uid, header_id)
    return random_hex(16)


def build_headers(outgoing: Outgoing) -> list[dict[str, str]]:
    headers = [
        {"name": "Message-ID", "value": outgoing.header_id},
        {
            "name": "Date",
            "value": format_datetime(datetime.fromtimestamp(outgoing.date, UTC)),
        },
        {
            "name": "From",
            "value": ", ".join(format_participant(p) for p in outgoing.sender),
        },
        {"name": "To", "value": ", ".join(format_participant(p) for p in outgoing.to)},
        {"name": "Subject", "value": outgoing.subject},
    ]
    if outgoing.cc:
        headers.append(
            {
                "name": "Cc",
                "value": ", ".join(format_participant(p) for p in outgoing.cc),
            }
        )
    if outgoing.in_reply_to:
        headers.append({"name": "In-Reply-To", "value": " ".join(outgoing.in_reply_to)})
    if outgoing.references:
        headers.append({"name": "References", "value": " ".join(outgoing.references)})
    return headers + outgoing.extra_headers


def make_copy(
    mailbox: Mailbox,
    outgoing: Outgoing,
    folder: str,
    bcc: list[Participant],
    thread_id: str | None = None,
) -> Message:
    """Create and store one mailbox's copy of a message."""
    message_id = new_message_id(mailbox, folder, outgoing.header_id)
    if thread_id is None:
        thread_id = mailbox.thread_for(
            outgoing.header_id, outgoing.in_reply_to, outgoing.references
        )
    attachments = []
    data = {}
    for meta, content in outgoing.attachments:
        attachment_id = "v0:" + random_hex(20)
        attachments.append(dict(meta, id=attachment_id))
        data[attachment_id] = content

    message: Message = {
        "object": "message",
        "id": message_id,
        "thread_id": thread_id or message_id,
        "subject": outgoing.subject,
        "from": outgoing.sender,
        "to": outgoing.to,
        "cc": outgoing.cc,
        "bcc": bcc,
        "reply_to": outgoing.reply_to,
        "date": outgoing.date,
        "created_at": outgoing.date,
        "unread": folder == "INBOX",
        "starred": False,
        "snippet": make_snippet(outgoing.body),
        "body": outgoing.body,
        "folders": [folder],
        "attachments": attachments,
        "metadata": dict(outgoing.metadata) if folder == "SENT" else {},
        "headers": build_headers(outgoing),
    }
    if outgoing.tracking_options and folder == "SENT":
        message["tracking_options"] = outgoing.tracking_options
    mailbox.add(message, data)
    return message


def add_open_pixel(body: str, token: str) -> str:
    """Insert Nylas's 1x1 open-tracking image, before </body> when there is one."""
    pixel = (
        f'<img src="{TRACKING_HOST}/open/{html.escape(token)}" width="1" height="1" '
        'alt="" style="border:0;width:1px;height:1px">'
    )
    lowered = body.lower()
    index = lowered.rfind("</body>")
    if index == -1:
        return body + pixel
    return body[:index] + pixel + body[index:]


@dataclass
class Delivered:
    """Copies created by one delivery: the sender's SENT copy and inbox copies."""

    sent: Message | None
    copies: list[tuple[Mailbox, Message]]


def deliver(
    app: App, sender: Mailbox | None, outgoing: Outgoing, sent_thread: str | None
) -> Delivered:
    """Store the SENT copy and one INBOX copy per recipient that has a mailbox.

    To and Cc recipients see an empty bcc list, and each Bcc recipient sees
    only their own address in it. Call with the store lock held.
    """
    sent = None
    copies: list[tuple[Mailbox, Message]] = []
    if sender is not None:
        sent = make_copy(sender, outgoing, "SENT", outgoing.bcc, sent_thread)
        copies.append((sender, sent))

    seen: set[str] = set()
    for kind, people in (
        ("to", outgoing.to),
        ("cc", outgoing.cc),
        ("bcc", outgoing.bcc),
    ):
        for person in people:
            address = person["email"].lower()
            mailbox = app.store.find_mailbox(address)
            if mailbox is None or address in seen:
                continue
            seen.add(address)
            visible_bcc = [person] if kind == "bcc" else []
            copies.append((mailbox, make_copy(mailbox, outgoing, "INBOX", visible_bcc)))
    return Delivered(sent, copies)


def announce(app: App, delivered: Delivered) -> None:
    """Emit message.created for every copy, and thread.replied where tracked."""
    for mailbox, message in delivered.copies:
        app.emit_message("message.created", mailbox, message)
        if "INBOX" in message["folders"]:
            _announce_tracked_reply(app, mailbox, message)


def _announce_tracked_reply(app: App, mailbox: Mailbox, reply: Message) -> None:
    with app.store.lock:
        original = None
        for header_id in header_value(reply, "In-Reply-To").split():
            original = mailbox.find_by_header_id(header_id)
            if original is not None:
                break
    if original is None:
        return
    options = original.get("tracking_options") or {}
    if options.get("thread_replies"):
        emit_thread_replied(app, mailbox, original, reply)


def emit_thread_replied(
    app: App, mailbox: Mailbox, original: Message, reply: Message
) -> None:
    options = original.get("tracking_options") or {}
    grant_id = grant_id_of(mailbox)
    replies = [
        m
        for m in mailbox.thread_messages(original["thread_id"])
        if m["date"] >= original["date"]
    ]
    obj = {
        "object": "thread",
        "grant_id": grant_id,
        "message_id": reply["id"],
        "root_message_id": original["id"],
        "reply_to_message_id": original["id"],
        "thread_id": reply["thread_id"],
        "label": options.get("label"),
        "reply_data": {"count": max(len(replies) - 1, 1)},
        "from_self": any(
            p["email"].lower() == mailbox.owner for p in reply.get("from") or []
        ),
        "sender_app_id": app.settings.application_id,
        "timestamp": int(time.time()),
    }
    app.emit("thread.replied", obj, {"grant_id": grant_id})


def incoming_from_spec(spec: dict[str, Any], owner: str, now: int) -> Outgoing:
    """Build an incoming message from the control API's inject request."""
    sender = spec.get("from") or [{"email": "someone@example.org"}]
    domain = sender[0]["email"].rpartition("@")[2] or "example.org"
    headers = list(spec.get("headers") or [])
    header_id = next(
        (h["value"] for h in headers if h["name"].lower() == "message-id"), ""
    ) or make_header_message_id(domain, owner, str(now), random_hex(8))
    in_reply_to: list[str] = next(
        (h["value"].split() for h in headers if h["name"].lower() == "in-reply-to"), []
    )
    references: list[str] = next(
        (h["value"].split() for h in headers if h["name"].lower() == "references"), []
    )
    extra = [
        h
        for h in headers
        if h["name"].lower() not in ("message-id", "in-reply-to", "references")
    ]
    return Outgoing(
        sender=sender,
        to=spec.get("to") or [{"email": owner}],
        cc=spec.get("cc") or [],
        bcc=spec.get("bcc") or [],
        subject=str(spec.get("subject", "")),
        body=str(spec.get("body", "")),
        date=int(spec.get("date") or now),
        header_id=header_id,
        in_reply_to=in_reply_to,
        references=references,
        extra_headers=extra,
    )
