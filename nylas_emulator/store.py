"""All emulator state: mailboxes, grants, webhook destinations, and save/load."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .http_types import ApiError
from .ids import make_message_id, random_hex
from .mailbox_state import Grant, Mailbox, Message
from .mime_parse import MailRecord

STATE_VERSION = 1


@dataclass
class Destination:
    """A webhook destination registered through the API or the command line."""

    id: str
    webhook_url: str
    webhook_secret: str
    trigger_types: list[str]
    created_at: int
    updated_at: int
    status_updated_at: int
    status: str = "active"
    description: str | None = None
    notification_email_addresses: list[str] = field(default_factory=list)

    def to_api(self, with_secret: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": self.id,
            "description": self.description,
            "trigger_types": list(self.trigger_types),
            "webhook_url": self.webhook_url,
            "status": self.status,
            "notification_email_addresses": list(self.notification_email_addresses),
            "status_updated_at": self.status_updated_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "compressed_delivery": False,
        }
        if with_secret:
            payload["webhook_secret"] = self.webhook_secret
        return payload

    def to_state(self) -> dict[str, Any]:
        return self.to_api(with_secret=True) | {"compressed_delivery": False}


class Store:
    """Shared state. Hold ``lock`` while reading or changing anything in it."""

    def __init__(self, load_time: int | None = None) -> None:
        self.lock = threading.RLock()
        self.load_time = load_time if load_time is not None else int(time.time())
        self.mailboxes: dict[str, Mailbox] = {}
        self.grants: dict[str, str] = {}
        self.destinations: dict[str, Destination] = {}
        self.auth_codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.idempotency: dict[tuple[str, str], dict[str, Any]] = {}
        self.sent_log: list[dict[str, Any]] = []
        self.opens: dict[str, list[dict[str, Any]]] = {}

    def mailbox(self, owner: str, id_style: str = "hex") -> Mailbox:
        """Return the mailbox of an address, creating an empty one if missing."""
        key = owner.strip().lower()
        if key not in self.mailboxes:
            self.mailboxes[key] = Mailbox(key, id_style)
        return self.mailboxes[key]

    def find_mailbox(self, owner: str) -> Mailbox | None:
        return self.mailboxes.get(owner.strip().lower())

    def attach_grant(self, mailbox: Mailbox, grant: Grant) -> None:
        mailbox.grant = grant
        self.grants[grant.id] = mailbox.owner

    def drop_grant(self, grant_id: str) -> Mailbox | None:
        owner = self.grants.pop(grant_id, None)
        mailbox = self.mailboxes.get(owner) if owner else None
        if mailbox is not None:
            mailbox.grant = None
        return mailbox

    def resolve_grant(self, identifier: str) -> Mailbox:
        """Find the mailbox behind a grant path segment (id or email forms)."""
        for prefix in ("grant:", "email:"):
            identifier = identifier.removeprefix(prefix)
        owner = self.grants.get(identifier)
        mailbox = self.mailboxes.get(owner) if owner else None
        if mailbox is None:
            candidate = self.mailboxes.get(identifier.lower())
            if candidate is not None and candidate.grant is not None:
                mailbox = candidate
        if mailbox is None or mailbox.grant is None:
            raise ApiError(404, "not_found_error", f"Grant {identifier} was not found.")
        return mailbox

    def add_records(self, owner: str, records: list[MailRecord]) -> int:
        """Place parsed mail in the owner's mailbox. Returns the number added."""
        mailbox = self.mailbox(owner)
        ordered = sorted(
            records, key=lambda r: (r.date or self.load_time, r.source_key)
        )
        for record in ordered:
            message, data = self._message_from_record(mailbox, record)
            mailbox.add(message, data)
        return len(ordered)

    def _message_from_record(
        self, mailbox: Mailbox, record: MailRecord
    ) -> tuple[Message, dict[str, bytes]]:
        senders = {p["email"].lower() for p in record.participants["from"]}
        folder = "SENT" if mailbox.owner in senders else "INBOX"
        header_id = record.header_id or f"<{record.source_key}@emulator.invalid>"
        message_id = make_message_id(
            mailbox.id_style, folder, mailbox.next_uid, header_id, record.source_key
        )
        thread_id = mailbox.thread_for(
            record.header_id, record.in_reply_to, record.references
        )
        date = record.date if record.date is not None else self.load_time

        message: Message = {
            "object": "message",
            "id": message_id,
            "thread_id": thread_id or message_id,
            "subject": record.subject,
            **dict(record.participants),
            "date": date,
            "created_at": date,
            "unread": folder == "INBOX",
            "starred": False,
            "snippet": record.snippet,
            "body": record.body,
            "folders": [folder],
            "attachments": [meta for meta, _ in record.attachments],
            "metadata": {},
            "headers": record.headers,
        }
        data = {meta["id"]: raw for meta, raw in record.attachments}
        return message, data

    # Save and load -----------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": STATE_VERSION,
                "load_time": self.load_time,
                "mailboxes": [_mailbox_state(m) for m in self.mailboxes.values()],
                "destinations": [d.to_state() for d in self.destinations.values()],
                "sent_log": self.sent_log,
                "opens": self.opens,
            }

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(path.suffix + ".tmp")
        text = json.dumps(self.to_state(), ensure_ascii=False, sort_keys=True)
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Store:
        store = cls(load_time=int(state["load_time"]))
        for entry in state["mailboxes"]:
            mailbox = _mailbox_from_state(entry)
            store.mailboxes[mailbox.owner] = mailbox
            if mailbox.grant is not None:
                store.grants[mailbox.grant.id] = mailbox.owner
        for entry in state["destinations"]:
            destination = Destination(**entry_without(entry, "compressed_delivery"))
            store.destinations[destination.id] = destination
        store.sent_log = list(state.get("sent_log", []))
        store.opens = dict(state.get("opens", {}))
        return store

    @classmethod
    def load(cls, path: Path) -> Store:
        return cls.from_state(json.loads(path.read_text(encoding="utf-8")))


def entry_without(entry: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in keys}


def _mailbox_state(mailbox: Mailbox) -> dict[str, Any]:
    ordered = [mailbox.messages[key[1]] for key in mailbox.order]
    return {
        "owner": mailbox.owner,
        "id_style": mailbox.id_style,
        "grant": mailbox.grant.to_state() if mailbox.grant else None,
        "messages": ordered,
        "attachments": {
            key: base64.b64encode(value).decode("ascii")
            for key, value in mailbox.attachment_data.items()
        },
        "root_threads": mailbox.root_threads,
        "next_uid": mailbox.next_uid,
    }


def _mailbox_from_state(entry: dict[str, Any]) -> Mailbox:
    mailbox = Mailbox(entry["owner"], entry["id_style"])
    if entry["grant"] is not None:
        mailbox.grant = Grant(**entry["grant"])
    mailbox.add_presorted(list(entry["messages"]))
    mailbox.attachment_data = {
        key: base64.b64decode(value) for key, value in entry["attachments"].items()
    }
    mailbox.root_threads = dict(entry["root_threads"])
    mailbox.next_uid = int(entry["next_uid"])
    return mailbox


def new_grant(
    email: str, provider: str, now: int, grant_id: str | None = None
) -> Grant:
    return Grant(
        id=grant_id or _uuid_like(),
        email=email.lower(),
        provider=provider,
        grant_status="valid",
        created_at=now,
        updated_at=now,
        scope=["https://www.googleapis.com/auth/gmail.modify"],
    )


def _uuid_like() -> str:
    raw = random_hex(32)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"
