"""Identifier helpers: Gmail-like hex ids and IMAP-like ids that embed a Message-ID."""

from __future__ import annotations

import hashlib
import secrets

ID_STYLES = ("hex", "imap")


def stable_hex(*parts: str, length: int = 16) -> str:
    """Derive a hex id from the given parts, so reloading the same data keeps it."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace"))
    return digest.hexdigest()[:length]


def random_hex(length: int = 16) -> str:
    return secrets.token_hex(length // 2 + 1)[:length]


def imap_message_id(folder: str, uid: int, header_id: str) -> str:
    """Build an IMAP-style id such as ``INBOX/17+v1=<abc@host>``.

    The result always contains ``/``, ``+``, ``=``, ``<``, ``>`` and ``@``, so
    a client that does not percent-encode path segments breaks on it.
    """
    if "@" not in header_id:
        header_id = f"<{header_id.strip('<>') or 'none'}@imap.emulator.invalid>"
    return f"{folder}/{uid}+v1={header_id}"


def make_message_id(
    style: str, folder: str, uid: int, header_id: str, source_key: str
) -> str:
    if style == "imap":
        return imap_message_id(folder, uid, header_id)
    return stable_hex(header_id, source_key)


def make_header_message_id(domain: str, *parts: str) -> str:
    """Build an RFC 5322 Message-ID value for mail created by the emulator."""
    return f"<{stable_hex(*parts, length=24)}@{domain}>"
