"""One emulated mailbox: messages kept sorted newest first, threads and indexes."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from .ids import stable_hex

Message = dict[str, Any]
# Sort key: newest first, then by id, so (-date, id) ascending is list order.
SortKey = tuple[int, str]
# Keys stored on a message dict that the API only shows on request.
HEADER_KEY = "headers"
TRACKING_KEY = "tracking_options"


@dataclass
class Grant:
    """A Nylas grant: the connection between the application and a mailbox."""

    id: str
    email: str
    provider: str
    grant_status: str
    created_at: int
    updated_at: int
    scope: list[str] = field(default_factory=list)
    state: str | None = None
    name: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "grant_status": self.grant_status,
            "email": self.email,
            "name": self.name,
            "scope": list(self.scope),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "state": self.state,
            "ip": "127.0.0.1",
            "user_agent": "nylas-emulator",
            "provider_user_id": stable_hex("provider-user", self.email),
            "settings": dict(self.settings),
            "credential_id": None,
            "blocked": False,
        }

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "provider": self.provider,
            "grant_status": self.grant_status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "scope": list(self.scope),
            "state": self.state,
            "name": self.name,
            "settings": dict(self.settings),
        }


class Mailbox:
    """Messages of one owner address, with the indexes the list endpoint needs."""

    def __init__(self, owner: str, id_style: str = "hex") -> None:
        self.owner = owner.lower()
        self.id_style = id_style
        self.grant: Grant | None = None
        self.messages: dict[str, Message] = {}
        self.order: list[SortKey] = []
        self.threads: dict[str, list[str]] = {}
        self.attachment_data: dict[str, bytes] = {}
        self.header_index: dict[str, str] = {}
        self.root_threads: dict[str, str] = {}
        self.next_uid = 1

    def add(
        self, message: Message, attachments: dict[str, bytes] | None = None
    ) -> None:
        """Insert a message whose id and thread_id are already set."""
        message_id = message["id"]
        if message_id in self.messages:
            self.remove(message_id)

        self.messages[message_id] = message
        bisect.insort(self.order, _sort_key(message))
        self.threads.setdefault(message["thread_id"], []).append(message_id)
        self._index_headers(message)

        for attachment_id, data in (attachments or {}).items():
            self.attachment_data[attachment_id] = data
        self.next_uid += 1

    def add_presorted(self, messages: list[Message]) -> None:
        """Bulk insert for generated or loaded data, then sort once."""
        for message in messages:
            self.messages[message["id"]] = message
            self.threads.setdefault(message["thread_id"], []).append(message["id"])
            self._index_headers(message)
        self.order = sorted(_sort_key(m) for m in self.messages.values())
        self.next_uid += len(messages)

    def remove(self, message_id: str) -> Message | None:
        message = self.messages.pop(message_id, None)
        if message is None:
            return None
        key = _sort_key(message)
        index = bisect.bisect_left(self.order, key)
        if index < len(self.order) and self.order[index] == key:
            del self.order[index]
        thread = self.threads.get(message["thread_id"], [])
        if message_id in thread:
            thread.remove(message_id)
        if not thread:
            self.threads.pop(message["thread_id"], None)
        return message

    def _index_headers(self, message: Message) -> None:
        header_id = header_value(message, "Message-ID")
        if header_id:
            self.header_index[header_id.strip().lower()] = message["id"]

    def thread_for(
        self, header_id: str, in_reply_to: list[str], refs: list[str]
    ) -> str:
        """Pick the thread of a new message from its reply headers.

        A message joins the thread of any known message it replies to or
        references. Otherwise messages sharing the first References entry (the
        thread root) share a thread, and a message without reply headers starts
        its own thread.
        """
        for candidate in [*in_reply_to, *reversed(refs)]:
            known = self.header_index.get(candidate.lower())
            if known is not None:
                return str(self.messages[known]["thread_id"])

        root = refs[0] if refs else (in_reply_to[0] if in_reply_to else header_id)
        if not root:
            return ""
        root_key = root.lower()
        if root_key not in self.root_threads:
            self.root_threads[root_key] = stable_hex("thread", self.owner, root_key)
        return self.root_threads[root_key]

    def find_by_header_id(self, header_id: str) -> Message | None:
        message_id = self.header_index.get(header_id.strip().lower())
        return self.messages.get(message_id) if message_id else None

    def thread_messages(self, thread_id: str) -> list[Message]:
        ids = self.threads.get(thread_id, [])
        return sorted(
            (self.messages[i] for i in ids), key=lambda m: (m["date"], m["id"])
        )


def _sort_key(message: Message) -> SortKey:
    return (-int(message["date"]), str(message["id"]))


def header_value(message: Message, name: str) -> str:
    lowered = name.lower()
    for header in message.get(HEADER_KEY) or []:
        if header["name"].lower() == lowered:
            return str(header["value"])
    return ""
