"""Build the document shown inside a message's sandboxed frame."""

from __future__ import annotations

import html
import re

from django.utils.html import urlize

from mailsync.sanitizer import sanitise_email_html

TAG_PATTERN = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
FRAME_STYLE = (
    "body{margin:0;padding:12px;font:14px/1.45 system-ui,sans-serif;color:#1f2933;"
    "overflow-wrap:anywhere}img{max-width:100%;height:auto}"
    "pre.plain{white-space:pre-wrap;font:inherit;margin:0}"
)
NOTICES = {
    "unavailable": "This message is no longer available in the mailbox.",
    "failed": "The message could not be loaded right now. Try again in a moment.",
}


def looks_like_html(body: str) -> bool:
    return bool(TAG_PATTERN.search(body))


def render_body_document(
    body: str | None, *, unavailable: bool = False, failed: bool = False
) -> str:
    """Return a full HTML document for the frame: sanitised HTML, or plain
    text escaped with its links made clickable."""
    if unavailable or failed or body is None:
        notice = NOTICES["unavailable" if unavailable else "failed"]
        content = f'<p class="notice">{html.escape(notice)}</p>'
    elif looks_like_html(body):
        content = sanitise_email_html(body)
    else:
        linked = urlize(html.escape(body), autoescape=False, nofollow=True)
        content = f'<pre class="plain">{linked}</pre>'
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<base target="_blank">'
        f"<style>{FRAME_STYLE}</style></head><body>{content}</body></html>"
    )
