"""Email address normalisation shared by contacts and mail matching."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.policy import default as default_policy

WHITESPACE = re.compile(r"\s")
ANGLE_ADDRESS = re.compile(r"<([^<>]*)>\s*$")


class InvalidAddress(ValueError):
    """An email address that cannot be normalised."""


def normalise_email(raw: str) -> str:
    """Return the comparison form of an address: trimmed, lower-case, ASCII domain.

    Case is folded in the local part too, because mail systems in practice
    deliver regardless of case and CRMs that kept the case split one person
    into several. The domain is IDNA-encoded so that `bücher.example` and
    `xn--bcher-kva.example` compare equal. Raises InvalidAddress when the
    value has no `@`, an empty part, spaces or a domain that IDNA rejects.
    """
    address = raw.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress(f"{raw!r} is not an email address: expected name@domain.")
    if WHITESPACE.search(address):
        raise InvalidAddress(f"{raw!r} contains spaces: remove them and try again.")
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError as error:
        raise InvalidAddress(f"{raw!r} has an invalid domain: {error}.") from error
    return f"{local.lower()}@{ascii_domain.lower()}"


def normalise_email_or_none(raw: str | None) -> str | None:
    """Return normalise_email(raw), or None for an empty or invalid value."""
    if not raw:
        return None
    try:
        return normalise_email(raw)
    except InvalidAddress:
        return None


def base_address(normalised: str) -> str:
    """Return a normalised address without its `+tag` sub-address."""
    local, _, domain = normalised.rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def parse_address_list(text: str) -> list[Address]:
    """Parse an RFC 5322 address list as typed into a To, Cc or Bcc field.

    A quoted display name may contain commas (`"Ortega, Maria" <m@x.org>` is
    one recipient). Raises InvalidAddress naming the first entry that is not
    a valid mailbox, so that nothing is silently dropped or sent to a bogus
    recipient such as `Ortega`.
    """
    addresses: list[Address] = []
    for entry in _split_entries(text):
        parsed = _parse_one_mailbox(entry)
        normalised = normalise_email(parsed.addr_spec)
        local, _, domain = normalised.rpartition("@")
        if "." not in domain:
            raise InvalidAddress(f"{entry!r} has no valid domain after the @.")
        addresses.append(
            Address(display_name=parsed.display_name, username=local, domain=domain)
        )
    return addresses


def _parse_one_mailbox(entry: str) -> Address:
    _reject_non_ascii_local_part(entry)
    try:
        header = default_policy.header_factory("To", entry)
    except (HeaderParseError, IndexError, ValueError) as error:
        raise InvalidAddress(f"{entry!r} is not a valid recipient.") from error
    found: list[Address] = list(getattr(header, "addresses", ()))
    if header.defects or len(found) != 1 or not found[0].domain:
        raise InvalidAddress(
            f"{entry!r} is not a valid recipient: write it as name@domain, and "
            'put a display name that contains a comma in quotes ("Last, First").'
        )
    return found[0]


def _reject_non_ascii_local_part(entry: str) -> None:
    bracketed = ANGLE_ADDRESS.search(entry)
    address = bracketed.group(1) if bracketed else entry
    local, at, _ = address.rpartition("@")
    if at and not local.isascii():
        raise InvalidAddress(
            f"{entry!r} has non-ASCII characters before the @, which most mail "
            "servers reject: check the address with the recipient."
        )


def _split_entries(text: str) -> list[str]:
    """Split on commas and semicolons outside quotes and angle brackets."""
    entries: list[str] = []
    current: list[str] = []
    in_quotes = False
    in_angle = False
    escaped = False
    for character in text:
        if escaped:
            current.append(character)
            escaped = False
            continue
        if character == "\\" and in_quotes:
            escaped = True
        elif character == '"' and not in_angle:
            in_quotes = not in_quotes
        elif character == "<" and not in_quotes:
            in_angle = True
        elif character == ">" and not in_quotes:
            in_angle = False
        elif character in ",;" and not in_quotes and not in_angle:
            entries.append("".join(current))
            current = []
            continue
        current.append(character)
    entries.append("".join(current))
    return [entry.strip() for entry in entries if entry.strip()]
