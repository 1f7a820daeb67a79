"""Build the document shown inside a message's sandboxed frame."""

from __future__ import annotations

import html
import re
from collections.abc import MutableMapping

import bleach

from mailsync.sanitizer import ImagePolicy, sanitise_email_html, url_scheme

TAG_PATTERN = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
FRAME_STYLE = (
    "html{overflow-wrap:anywhere}"
    "body{margin:0;padding:12px;font:14px/1.45 system-ui,sans-serif;color:#1f2933}"
    "img{max-width:100%;height:auto}table{max-width:100%}"
    "pre.plain{white-space:pre-wrap;font:inherit;margin:0}"
    ".notice{color:#66788a}"
)
NOTICES = {
    "unavailable": (
        "This message is no longer available: it was deleted from the mailbox "
        "or moved where Convex cannot read it."
    ),
    "disconnected": (
        "This message cannot be shown right now: its mailbox's connection to "
        "Convex has expired or was removed. Once the mailbox owner reconnects "
        "it in Settings, the message can be read again."
    ),
    "failed": "The message could not be loaded right now. Try again in a moment.",
}
PLAIN_TEXT_LINK_SCHEMES = frozenset({"http", "https", "mailto"})


def looks_like_html(body: str) -> bool:
    return bool(TAG_PATTERN.search(body))


def render_body_document(body: str, images: ImagePolicy | None = None) -> str:
    """Return a full HTML document for the frame: sanitised HTML, or plain
    text escaped with its http, https and mailto links made clickable."""
    if looks_like_html(body):
        content = sanitise_email_html(body, images)
    else:
        content = f'<pre class="plain">{linkify_plain_text(body)}</pre>'
    return _document(content)


def render_notice_document(reason: str) -> str:
    """Return a frame document that explains why the body is not shown.

    `reason` is a key of NOTICES.
    """
    return _document(f'<p class="notice">{html.escape(NOTICES[reason])}</p>')


def linkify_plain_text(text: str) -> str:
    """Escape plain text and turn its web and mailto addresses into links."""
    return str(
        bleach.linkify(
            html.escape(text, quote=False),
            # types-bleach's callback type omits the None return that bleach
            # documents for dropping a link.
            callbacks=[_plain_text_link],  # type: ignore[list-item]
            parse_email=True,
        )
    )


def _plain_text_link(
    attributes: MutableMapping[tuple[str | None, str], str], new: bool = False
) -> MutableMapping[tuple[str | None, str], str] | None:
    href = attributes.get((None, "href"), "")
    if url_scheme(href)[0] not in PLAIN_TEXT_LINK_SCHEMES:
        return None
    attributes[(None, "target")] = "_blank"
    attributes[(None, "rel")] = "noopener noreferrer"
    return attributes


def _document(content: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer">'
        f"<style>{FRAME_STYLE}</style></head><body>{content}</body></html>"
    )
