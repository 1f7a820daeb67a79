"""Turn address headers into Nylas participant lists ({"name", "email"})."""

from __future__ import annotations

import email.utils
from email.header import decode_header, make_header
from email.headerregistry import AddressHeader
from typing import Any

Participant = dict[str, str]


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words, keeping the raw text when decoding fails."""
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return value


def participants_from_header(header: Any, raw: str) -> list[Participant]:
    """Read the addresses of one header value parsed with the modern policy.

    Groups contribute their members, an empty group contributes nothing, and
    an entry without an address is dropped. ``raw`` is the undecoded value.
    """
    try:
        if isinstance(header, AddressHeader):
            return _from_address_objects(header, raw)
    except (ValueError, TypeError, IndexError, AttributeError):
        pass
    return participants_from_raw(raw)


def _from_address_objects(header: AddressHeader, raw: str) -> list[Participant]:
    # The modern parser keeps the space between two adjacent encoded words,
    # which RFC 2047 section 6.2 says to drop, so such names are re-decoded.
    encoded_names = {}
    if "=?" in raw:
        encoded_names = {
            addr.lower(): decode_words(name)
            for name, addr in email.utils.getaddresses([raw])
        }
    result: list[Participant] = []
    for address in header.addresses:
        addr_spec = address.addr_spec
        if not addr_spec or "@" not in addr_spec:
            continue
        name = encoded_names.get(addr_spec.lower()) or address.display_name
        result.append(make_participant(name, addr_spec))
    return result


def participants_from_raw(value: str) -> list[Participant]:
    """Fallback parser for header values the modern policy could not read."""
    result: list[Participant] = []
    for name, addr in email.utils.getaddresses([value]):
        if not addr or "@" not in addr:
            continue
        result.append(make_participant(decode_words(name), addr))
    return result


def make_participant(name: str, addr: str) -> Participant:
    participant = {"email": addr.strip()}
    clean_name = " ".join(name.split())
    if clean_name:
        participant = {"name": clean_name, "email": addr.strip()}
    return participant


def format_participant(participant: Participant) -> str:
    """Format for a header, quoting names that contain specials such as commas."""
    return email.utils.formataddr((participant.get("name", ""), participant["email"]))
