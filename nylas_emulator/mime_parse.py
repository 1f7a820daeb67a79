"""Parse .eml and mbox files into message records in the Nylas Message shape."""

from __future__ import annotations

import email.policy
import html
import logging
import mailbox
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from .dates import date_from_received, parse_date_header
from .ids import stable_hex
from .participants import Participant, decode_words, participants_from_header

logger = logging.getLogger(__name__)

_PARSER = BytesParser(policy=email.policy.default)
_TAG = re.compile(r"<[^>]*>")
_STYLE_OR_SCRIPT = re.compile(r"<(style|script)\b.*?</\1\s*>", re.S | re.I)
_MSG_ID = re.compile(r"<[^<>\s]+>")
SNIPPET_LENGTH = 100
ADDRESS_FIELDS = (("from", "From"), ("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"))


@dataclass
class MailRecord:
    """One parsed message before it is placed in a mailbox."""

    subject: str
    participants: dict[str, list[Participant]]
    date: int | None
    body: str
    snippet: str
    headers: list[dict[str, str]]
    header_id: str
    in_reply_to: list[str]
    references: list[str]
    attachments: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)
    source_key: str = ""


@dataclass
class LoadResult:
    records: list[MailRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def load_path(path: Path) -> LoadResult:
    """Load one file or every regular file below a folder. Never raises on content."""
    result = LoadResult()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*"))
    for file in files:
        if file.is_file() and not file.name.startswith("."):
            _load_file(file, path, result)
    logger.info(
        "loaded %s messages from %s, skipped %s files",
        len(result.records),
        path,
        len(result.skipped),
    )
    return result


def _load_file(file: Path, root: Path, result: LoadResult) -> None:
    key = str(file.relative_to(root)) if file != root else file.name
    try:
        raw = file.read_bytes()
        blobs = _split_mbox(file) if _looks_like_mbox(file, raw) else [raw]
    except (OSError, mailbox.Error) as exc:
        logger.warning("skipped %s: cannot read (%s)", file, exc)
        result.skipped.append(key)
        return

    for index, blob in enumerate(blobs):
        record = parse_bytes(blob, f"{key}#{index}")
        if record is None:
            logger.warning("skipped %s message %s: no mail headers", file, index)
            result.skipped.append(f"{key}#{index}")
            continue
        result.records.append(record)


def _looks_like_mbox(file: Path, raw: bytes) -> bool:
    if file.name.endswith((".mbox", ".mbox.txt")):
        return True
    return raw.startswith(b"From ") and b"\nFrom " in raw


def _split_mbox(file: Path) -> list[bytes]:
    box = mailbox.mbox(file, create=False)
    try:
        return [box.get_bytes(key) for key in box.iterkeys()]
    finally:
        box.close()


def parse_bytes(raw: bytes, source_key: str) -> MailRecord | None:
    """Parse one RFC 5322 message, or return None when it has no mail headers."""
    if b"\x00" in raw[:4096]:
        return None
    try:
        message = _PARSER.parsebytes(raw)
    except Exception:
        logger.warning("skipped %s: the email parser raised", source_key)
        return None
    if not _has_mail_headers(message):
        return None
    try:
        return _record_from_message(message, source_key)
    except Exception:
        logger.warning(
            "skipped %s: the message structure could not be read", source_key
        )
        return None


def _has_mail_headers(message: Message) -> bool:
    return len(message) > 0


def _record_from_message(message: EmailMessage, source_key: str) -> MailRecord:
    body_html, attachments = _extract_body_and_attachments(message, source_key)
    header_id = _first_message_id(_raw_header(message, "Message-ID"))

    return MailRecord(
        subject=read_subject(message),
        participants=read_participants(message),
        date=read_date(message),
        body=body_html,
        snippet=make_snippet(body_html),
        headers=_read_headers(message),
        header_id=header_id,
        in_reply_to=_all_message_ids(_raw_header(message, "In-Reply-To")),
        references=_all_message_ids(_raw_header(message, "References")),
        attachments=attachments,
        source_key=source_key,
    )


def _raw_header(message: Message, name: str) -> str:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def _raw_headers(message: Message, name: str) -> list[str]:
    return [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]


def read_subject(message: Message) -> str:
    raw = fix_8bit(_raw_header(message, "Subject"))
    return " ".join(decode_words(_unfold(raw)).split())


def fix_8bit(value: str) -> str:
    """Decode raw 8-bit header bytes as UTF-8, or Latin-1 when they are not UTF-8.

    The parser keeps such bytes as surrogate escapes, which cannot be encoded
    in a JSON response.
    """
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _unfold(value: str) -> str:
    return value.replace("\r\n", "").replace("\n", "")


def read_participants(message: Message) -> dict[str, list[Participant]]:
    result: dict[str, list[Participant]] = {}
    for key, name in (*ADDRESS_FIELDS, ("reply_to", "Reply-To")):
        entries: list[Participant] = []
        raw_values = [fix_8bit(v) for v in _raw_headers(message, name)]
        parsed_values = _header_values(message, name)
        for parsed, raw in zip(parsed_values, raw_values, strict=False):
            entries.extend(participants_from_header(parsed, _unfold(raw)))
        result[key] = entries
    return result


def _header_values(message: Message, name: str) -> list[Any]:
    try:
        return list(message.get_all(name) or [])
    except (ValueError, TypeError, IndexError, AttributeError):
        return _raw_headers(message, name)


def read_date(message: Message) -> int | None:
    parsed = parse_date_header(_unfold(_raw_header(message, "Date")))
    if parsed is not None:
        return parsed
    return date_from_received([_unfold(v) for v in _raw_headers(message, "Received")])


def _first_message_id(value: str) -> str:
    ids = _all_message_ids(value)
    return ids[0] if ids else ""


def _all_message_ids(value: str) -> list[str]:
    return _MSG_ID.findall(_unfold(value))


def _read_headers(message: Message) -> list[dict[str, str]]:
    headers = []
    for name, value in message.raw_items():
        text = decode_words(_unfold(fix_8bit(str(value))))
        headers.append({"name": name, "value": text})
    return headers


def _extract_body_and_attachments(
    message: EmailMessage, source_key: str
) -> tuple[str, list[tuple[dict[str, Any], bytes]]]:
    body_part = _find_body_part(message)
    body = _part_text(body_part) if body_part is not None else ""
    if body_part is not None and body_part.get_content_type() != "text/html":
        body = plain_to_html(body)

    attachments = []
    for index, part in enumerate(message.walk()):
        if part is body_part or part.is_multipart() or part is message:
            continue
        if not _is_attachment(part):
            continue
        attachments.append(_attachment(part, source_key, index))
    return body, attachments


def _find_body_part(message: EmailMessage) -> EmailMessage | None:
    try:
        found = message.get_body(preferencelist=("html", "plain"))
    except (KeyError, ValueError, TypeError, AttributeError):
        found = None
    if isinstance(found, EmailMessage):
        return found
    if not message.is_multipart() and message.get_content_maintype() == "text":
        return message
    return None


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _is_attachment(part: Message) -> bool:
    if part.get_filename():
        return True
    disposition = (part.get_content_disposition() or "").lower()
    return disposition == "attachment" or part.get_content_maintype() not in (
        "text",
        "multipart",
        "message",
    )


def _attachment(
    part: Message, source_key: str, index: int
) -> tuple[dict[str, Any], bytes]:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    try:
        filename = part.get_filename() or f"attachment-{index}"
    except (ValueError, TypeError, LookupError):
        filename = f"attachment-{index}"

    content_id = str(part.get("Content-ID", "") or "").strip("<> ") or None
    disposition = part.get_content_disposition() or "attachment"
    meta: dict[str, Any] = {
        "id": "v0:" + stable_hex(source_key, str(index), length=20),
        "filename": decode_words(str(filename)),
        "content_type": part.get_content_type(),
        "size": len(data),
        "content_id": content_id,
        "content_disposition": disposition,
        "is_inline": disposition == "inline",
    }
    return meta, data


def plain_to_html(text: str) -> str:
    escaped = html.escape(text).replace("\r\n", "\n").replace("\n", "<br>\n")
    return f"<div>{escaped}</div>"


def make_snippet(body_html: str) -> str:
    """Return the first characters of the visible text, as Nylas's snippet does."""
    text = _STYLE_OR_SCRIPT.sub(" ", body_html[:20000])
    text = html.unescape(_TAG.sub(" ", text))
    return " ".join(text.split())[:SNIPPET_LENGTH]
