"""Parse message and thread list query strings and apply them to a mailbox."""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Iterator
from dataclasses import dataclass

from .http_types import ApiError, Request
from .mailbox_state import Mailbox, Message, SortKey

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_ANY_EMAIL = 25
PARTICIPANT_FIELDS = ("from", "to", "cc", "bcc")


@dataclass
class MessageQuery:
    limit: int
    after_key: SortKey | None
    received_after: int | None
    received_before: int | None
    any_email: set[str]
    field_emails: dict[str, str]
    thread_id: str | None
    folder: str | None
    subject: str | None
    unread: bool | None
    starred: bool | None
    has_attachment: bool | None
    search: str | None
    select: list[str] | None
    fields: set[str]

    def has_filters(self) -> bool:
        values = (
            self.received_after,
            self.received_before,
            self.thread_id,
            self.folder,
            self.subject,
            self.unread,
            self.starred,
            self.has_attachment,
            self.search,
        )
        return bool(self.any_email or self.field_emails) or any(
            v is not None for v in values
        )


def parse_limit(request: Request, default: int = DEFAULT_LIMIT) -> int:
    limit = request.int_param("limit")
    if limit is None:
        return default
    if limit < 1 or limit > MAX_LIMIT:
        raise ApiError(
            400,
            "invalid_request_error",
            f"limit must be between 1 and {MAX_LIMIT}, got {limit}.",
        )
    return limit


def parse_select(request: Request) -> list[str] | None:
    raw = request.param("select")
    if not raw:
        return None
    return [name.strip() for name in raw.split(",") if name.strip()]


def parse_fields(request: Request) -> set[str]:
    return {v.strip() for raw in request.params("fields") for v in raw.split(",")}


def parse_message_query(request: Request) -> MessageQuery:
    any_email = {
        address.strip().lower()
        for raw in request.params("any_email")
        for address in raw.split(",")
        if address.strip()
    }
    if len(any_email) > MAX_ANY_EMAIL:
        raise ApiError(
            400,
            "invalid_request_error",
            f"any_email accepts at most {MAX_ANY_EMAIL} addresses, "
            f"got {len(any_email)}.",
        )
    field_emails = {
        name: value.strip().lower()
        for name in PARTICIPANT_FIELDS
        if (value := request.param(name))
    }
    return MessageQuery(
        limit=parse_limit(request),
        after_key=decode_cursor(request.param("page_token")),
        received_after=request.int_param("received_after"),
        received_before=request.int_param("received_before"),
        any_email=any_email,
        field_emails=field_emails,
        thread_id=request.param("thread_id") or None,
        folder=request.param("in") or None,
        subject=request.param("subject") or None,
        unread=request.bool_param("unread"),
        starred=request.bool_param("starred"),
        has_attachment=request.bool_param("has_attachment"),
        search=(request.param("search_query_native") or "").lower() or None,
        select=parse_select(request),
        fields=parse_fields(request),
    )


def encode_cursor(key: SortKey) -> str:
    """Encode the sort key of the last item, so pages stay stable under inserts."""
    raw = json.dumps([-key[0], key[1]]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_cursor(token: str | None) -> SortKey | None:
    if not token:
        return None
    try:
        date, message_id = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        return (-int(date), str(message_id))
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        raise ApiError(
            400, "invalid_request_error", f"page_token {token!r} is not valid."
        ) from None


def iter_keys(mailbox: Mailbox, query: MessageQuery) -> Iterator[SortKey]:
    """Yield sort keys after the cursor, newest first."""
    if query.thread_id is not None:
        ids = mailbox.threads.get(query.thread_id, [])
        keys = sorted((-int(mailbox.messages[i]["date"]), i) for i in ids)
    else:
        keys = mailbox.order
    start = 0 if query.after_key is None else bisect.bisect_right(keys, query.after_key)
    for index in range(start, len(keys)):
        yield keys[index]


def select_page(
    mailbox: Mailbox, query: MessageQuery
) -> tuple[list[Message], str | None]:
    """Return one page of matching messages and the cursor for the next page."""
    page: list[Message] = []
    last_key: SortKey | None = None
    more = False
    filtering = query.has_filters()

    for key in iter_keys(mailbox, query):
        message = mailbox.messages[key[1]]
        if filtering and not matches(message, query):
            continue
        if len(page) == query.limit:
            more = True
            break
        page.append(message)
        last_key = key

    cursor = encode_cursor(last_key) if more and last_key is not None else None
    return page, cursor


def matches(message: Message, query: MessageQuery) -> bool:
    date = int(message["date"])
    checks = (
        query.received_after is None or date >= query.received_after,
        query.received_before is None or date < query.received_before,
        query.folder is None or query.folder in message["folders"],
        query.unread is None or message["unread"] == query.unread,
        query.starred is None or message["starred"] == query.starred,
        query.has_attachment is None
        or bool(message["attachments"]) == query.has_attachment,
        query.subject is None or query.subject.lower() in message["subject"].lower(),
    )
    if not all(checks):
        return False
    return _matches_people(message, query) and _matches_search(message, query)


def _emails(message: Message, field_name: str) -> set[str]:
    return {p["email"].lower() for p in message.get(field_name) or []}


def _matches_people(message: Message, query: MessageQuery) -> bool:
    for field_name, address in query.field_emails.items():
        if address not in _emails(message, field_name):
            return False
    if not query.any_email:
        return True
    everyone: set[str] = set()
    for field_name in PARTICIPANT_FIELDS:
        everyone |= _emails(message, field_name)
    return bool(everyone & query.any_email)


def _matches_search(message: Message, query: MessageQuery) -> bool:
    if query.search is None:
        return True
    people = " ".join(
        f"{p.get('name', '')} {p['email']}"
        for field_name in ("from", "to")
        for p in message.get(field_name) or []
    )
    haystack = f"{message['subject']} {people} {message['body']}".lower()
    return query.search in haystack
