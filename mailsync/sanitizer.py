"""The one function that makes third-party email HTML safe to display."""

from __future__ import annotations

import bleach
from bleach.css_sanitizer import CSSSanitizer

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col",
        "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p", "pre", "q",
        "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
LAYOUT_ATTRIBUTES = ["align", "valign", "width", "height", "bgcolor", "style", "dir"]
ALLOWED_ATTRIBUTES = {
    "*": [*LAYOUT_ATTRIBUTES, "title", "lang"],
    "a": ["href", "title", "name"],
    "img": ["src", "alt", "width", "height", "style", "title"],
    "table": [*LAYOUT_ATTRIBUTES, "border", "cellpadding", "cellspacing"],
    "td": [*LAYOUT_ATTRIBUTES, "colspan", "rowspan"],
    "th": [*LAYOUT_ATTRIBUTES, "colspan", "rowspan"],
    "font": ["color", "face", "size"],
    "col": ["span", "width"],
    "colgroup": ["span", "width"],
    "ol": ["start", "type"],
}
ALLOWED_PROTOCOLS = ["http", "https", "mailto", "tel", "cid", "data"]
ALLOWED_CSS_PROPERTIES = frozenset(
    {
        "background-color", "border", "border-bottom", "border-collapse",
        "border-color", "border-left", "border-radius", "border-right",
        "border-spacing", "border-style", "border-top", "border-width", "clear",
        "color", "direction", "display", "float", "font", "font-family",
        "font-size", "font-style", "font-variant", "font-weight", "height",
        "letter-spacing", "line-height", "list-style-type", "margin",
        "margin-bottom", "margin-left", "margin-right", "margin-top", "max-width",
        "min-width", "padding", "padding-bottom", "padding-left", "padding-right",
        "padding-top", "text-align", "text-decoration", "text-indent",
        "text-transform", "vertical-align", "white-space", "width", "word-break",
        "word-spacing",
    }
)  # fmt: skip


def sanitise_email_html(html: str) -> str:
    """Return `html` with everything active removed: scripts, event handlers,
    forms, frames, styles that load or position things, and disallowed URL
    schemes. Ordinary email layout (tables, inline styles, images) is kept."""
    return bleach.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        css_sanitizer=CSSSanitizer(allowed_css_properties=ALLOWED_CSS_PROPERTIES),
        strip=True,
        strip_comments=True,
    )
