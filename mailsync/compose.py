"""Pure steps of writing an email: recipients, subject, quote, signature, request.

Nothing here touches the database or Nylas. The compose views call these
steps to prefill the form, to check what the user typed and to build the
Nylas send request. That request must come out the same for every attempt
of one send, so that Nylas's Idempotency-Key cache recognises a retry.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from html import escape
from typing import Any
from urllib.parse import urlsplit

import bleach

from contacts.addresses import (
    InvalidAddress,
    base_address,
    normalise_email_or_none,
    parse_address_list,
)
from mailsync.nylas_client import EmailName, MessageSummary
from mailsync.sanitizer import (
    EmailCSSSanitizer,
    ImagePolicy,
    sanitise_email_html,
    url_scheme,
)

# Reply and forward prefixes of common mail clients, in several languages,
# optionally with a counter (`Re[2]:`, `AW(3):`), before an ASCII or a
# full-width colon.
REPLY_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|fw|aw|wg|sv|vs|ref|réf|rif|antw|odp|tr|enc|res|ynt|"
    r"απ|σχετ|回复|回覆|答复|答覆|转发|轉寄|返信|전달|회신)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*",
    re.IGNORECASE,
)

SIGNATURE_CLASS = "crm-signature"
SIGNATURE_TAGS = frozenset(
    {
        "a", "b", "br", "div", "em", "h1", "h2", "h3", "hr", "i", "img", "li",
        "ol", "p", "s", "small", "span", "strong", "sub", "sup", "u", "ul",
    }
)  # fmt: skip
# Classes the editor writes: its own `ql-` formats and the signature marker.
EDITOR_CLASS = re.compile(r"^(?:ql-[a-z0-9-]+|crm-signature)$")
SIGNATURE_LINK_SCHEMES = frozenset({"https", "http", "mailto", "tel"})
RASTER_DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpeg|webp);base64,", re.I)


class ComposeError(ValueError):
    """An invalid compose field, named in `field`, with the reason as message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Draft:
    """A message as the user wrote it, checked and ready to send."""

    to: tuple[EmailName, ...]
    cc: tuple[EmailName, ...]
    bcc: tuple[EmailName, ...]
    subject: str
    body_html: str
    reply_to_message_id: str = ""

    def recipients(self) -> tuple[EmailName, ...]:
        return (*self.to, *self.cc, *self.bcc)


def reply_subject(subject: str) -> str:
    """Return `subject` with exactly one leading `Re: `.

    Every reply or forward prefix already in front (`Re:`, `AW:`, `Fwd:`,
    `回复` with a full-width colon, `Re[2]:`, repeated or mixed) is removed
    first, so that replies never stack as `Re: Re:`.
    """
    stripped = subject.strip()
    while True:
        shorter = REPLY_PREFIX.sub("", stripped, count=1)
        if shorter == stripped:
            break
        stripped = shorter
    return f"Re: {stripped}" if stripped else "Re:"


def format_address(entry: EmailName) -> str:
    """Write one recipient as RFC 5322 text, quoting a display name that
    needs it: `"Ortega, Maria PhD" <maria.ortega@example.org>`."""
    name = entry.name.strip()
    if not name:
        return entry.email
    try:
        return str(Address(display_name=name, addr_spec=entry.email))
    except (HeaderParseError, IndexError, ValueError):
        return entry.email


def format_address_list(entries: Iterable[EmailName]) -> str:
    return ", ".join(format_address(entry) for entry in entries)


def parse_recipients(field: str, text: str) -> tuple[EmailName, ...]:
    """Parse a To, Cc or Bcc field; raises ComposeError naming the bad entry."""
    try:
        addresses = parse_address_list(text)
    except InvalidAddress as error:
        raise ComposeError(field, str(error)) from error
    return tuple(
        EmailName(name=address.display_name, email=address.addr_spec)
        for address in addresses
    )


def _is_own(email: str, own_addresses: frozenset[str]) -> bool:
    normalised = normalise_email_or_none(email)
    return normalised is not None and base_address(normalised) in own_addresses


def _unique_others(
    entries: Iterable[EmailName], own_addresses: frozenset[str], seen: set[str]
) -> list[EmailName]:
    """Drop the user's own addresses and repeats, keeping the first spelling."""
    kept = []
    for entry in entries:
        normalised = normalise_email_or_none(entry.email)
        if normalised is None or normalised in seen:
            continue
        if base_address(normalised) in own_addresses:
            continue
        seen.add(normalised)
        kept.append(EmailName(name=entry.name, email=normalised))
    return kept


def reply_recipients(
    parent: MessageSummary, own_addresses: frozenset[str], *, reply_all: bool
) -> tuple[list[EmailName], list[EmailName]]:
    """Return (to, cc) of a reply to `parent`, without any of the user's own
    addresses (any letter case, any `+tag`, aliases).

    A reply goes to Reply-To when set, else to the sender. When the user sent
    the parent, it goes to the parent's recipients instead. Reply-all adds
    the parent's other To and Cc recipients as Cc.
    """
    sent_by_user = any(_is_own(entry.email, own_addresses) for entry in parent.from_)
    if sent_by_user:
        primary: Sequence[EmailName] = parent.to
    else:
        primary = parent.reply_to or parent.from_

    seen: set[str] = set()
    to = _unique_others(primary, own_addresses, seen)
    if not reply_all:
        return to, []
    others = parent.cc if sent_by_user else (*parent.to, *parent.cc)
    return to, _unique_others(others, own_addresses, seen)


def quote_html(parent: MessageSummary, parent_body: str) -> str:
    """Return the quoted original for a reply: an attribution line and the
    parent's body, sanitised, in a blockquote. Tracking pixels and remote
    images of the original are removed by the sanitiser."""
    sender = parent.from_[0] if parent.from_ else None
    who = format_address(sender) if sender else "the sender"
    when = ""
    if parent.date:
        moment = datetime.fromtimestamp(parent.date, tz=UTC)
        when = f"On {moment:%a, %d %b %Y at %H:%M} UTC, "
    body = sanitise_email_html(parent_body)
    return (
        f"<p>{escape(when)}{escape(who)} wrote:</p>"
        f'<blockquote type="cite">{body}</blockquote>'
    )


def sanitise_signature_html(html: str) -> str:
    """Return a signature (or the editor's body) with nothing active in it.

    Stricter than the email body sanitiser: after that sanitiser has dropped
    scripts, styles, forms and frames with their content, a short allow-list
    of text elements remains. Images keep only `https:` or raster `data:`
    sources, links only http(s), mailto and tel, and inline CSS loses every
    url() and position.
    """
    https_only = ImagePolicy(remote=_https_image_or_none)
    first_pass = sanitise_email_html(html, https_only)
    clean = bleach.clean(
        first_pass,
        tags=SIGNATURE_TAGS,
        attributes=_signature_attribute_allowed,
        protocols=frozenset({"https", "http", "mailto", "tel", "data"}),
        strip=True,
        strip_comments=True,
        css_sanitizer=EmailCSSSanitizer(),
    )
    return clean.strip()


def _https_image_or_none(url: str) -> str | None:
    return url if urlsplit(url).scheme.lower() == "https" else None


def _signature_attribute_allowed(tag: str, name: str, value: str) -> bool:
    if name == "style":
        return True
    if name == "class":
        return all(EDITOR_CLASS.match(part) for part in value.split())
    if tag == "a" and name == "href":
        return url_scheme(value)[0] in SIGNATURE_LINK_SCHEMES
    if tag == "img" and name == "src":
        scheme, url = url_scheme(value)
        return scheme == "https" or bool(RASTER_DATA_IMAGE.match(url))
    if tag == "img":
        return name in ("alt", "width", "height", "title")
    return name == "title"


def signature_block(signature_html: str) -> str:
    """Wrap a saved signature in the marked block the compose box starts with."""
    clean = sanitise_signature_html(signature_html)
    if not clean.strip():
        return ""
    return f'<div class="{SIGNATURE_CLASS}">{clean}</div>'


def initial_body(signature_html: str, include_signature: bool) -> str:
    """Build the compose box's first content: an empty line, then the signature."""
    block = signature_block(signature_html) if include_signature else ""
    return f"<p><br></p>{block}"


def outgoing_body(editor_html: str, quote: str = "") -> str:
    """Return the body to send: the editor's HTML (which holds the signature,
    if the user kept it) sanitised again, then the quoted original."""
    return f"{sanitise_signature_html(editor_html)}{quote}"


def has_text(html: str) -> bool:
    """Whether the editor's HTML shows anything (text or an image)."""
    if "<img" in html.lower():
        return True
    text = bleach.clean(html, tags=set(), strip=True)
    return bool(text.replace("&nbsp;", " ").strip())


def tracking_label(form_key: str) -> str:
    """The label Nylas echoes in open and reply notifications for this send."""
    return f"crm-h-{form_key}"


def participants(entries: Iterable[EmailName]) -> list[dict[str, str]]:
    found = []
    for entry in entries:
        item = {"email": entry.email}
        if entry.name:
            item["name"] = entry.name
        found.append(item)
    return found


def build_send_request(draft: Draft, label: str) -> dict[str, Any]:
    """Build the JSON body of the Nylas send call.

    Threading is left to the provider through `reply_to_message_id`: no
    In-Reply-To, References or Thread-Index header is written by hand.
    """
    request: dict[str, Any] = {
        "to": participants(draft.to),
        "subject": draft.subject,
        "body": draft.body_html,
        "tracking_options": {"opens": True, "thread_replies": True, "label": label},
    }
    if draft.cc:
        request["cc"] = participants(draft.cc)
    if draft.bcc:
        request["bcc"] = participants(draft.bcc)
    if draft.reply_to_message_id:
        request["reply_to_message_id"] = draft.reply_to_message_id
    return request


def idempotency_key(form_key: str, request: dict[str, Any]) -> str:
    """Combine the form's key with a hash of the request.

    Pressing Send again on an unchanged message reuses the key, so Nylas
    returns the first result instead of sending twice. A message edited
    after a failure gets a new key, because Nylas rejects a reused key with
    a different body.
    """
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:24]
    return f"{form_key}-{digest}"
