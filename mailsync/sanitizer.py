"""The one function that makes third-party email HTML safe to display.

`sanitise_email_html` runs one html5lib token stream through four steps.
Elements whose content is never shown (script, style, title, ...) are
dropped with their content. bleach's allow-list removes every other unknown
element and attribute. Links are forced into a new tab without opener or
referrer. Image sources are checked and optionally rewritten to the
product's own routes. Inline CSS is parsed with tinycss2, and each
declaration is kept only when both its property and its value are allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import bleach
import tinycss2  # type: ignore[import-untyped]  # ships no type information
from bleach.css_sanitizer import CSSSanitizer
from bleach.html5lib_shim import Filter  # type: ignore[attr-defined]  # stub omits it
from bleach.sanitizer import BleachSanitizerFilter

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col",
        "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p", "pre", "q",
        "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip

# Elements removed together with everything inside them. Without this list
# bleach's strip mode would show the text of a <style> or <script> as
# visible characters.
DROPPED_WITH_CONTENT = frozenset(
    {
        "applet", "audio", "datalist", "embed", "frame", "frameset",
        "head", "iframe", "math", "meta", "noembed", "noframes", "noscript",
        "object", "option", "plaintext", "script", "select", "style", "svg",
        "template", "textarea", "title", "video", "xmp",
    }
)  # fmt: skip

LAYOUT_ATTRIBUTES = ("align", "valign", "width", "height", "bgcolor", "style", "dir")
ALLOWED_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "*": (*LAYOUT_ATTRIBUTES, "title", "lang"),
    "a": ("href", "title"),
    "img": ("src", "alt", "width", "height", "style", "title", "border"),
    "table": (*LAYOUT_ATTRIBUTES, "border", "cellpadding", "cellspacing"),
    "td": (*LAYOUT_ATTRIBUTES, "colspan", "rowspan", "nowrap"),
    "th": (*LAYOUT_ATTRIBUTES, "colspan", "rowspan", "nowrap"),
    "font": ("color", "face", "size"),
    "col": ("span", "width"),
    "colgroup": ("span", "width"),
    "ol": ("start", "type"),
}
NUMERIC_ATTRIBUTES = frozenset(
    {"width", "height", "border", "cellpadding", "cellspacing", "colspan", "rowspan"}
    | {"span", "start", "size"}
)
MAX_ATTRIBUTE_NUMBER = 2000
NUMERIC_VALUE = re.compile(r"^\s*(\d{1,5})(%|px)?\s*$")

# bleach checks these on href and src before our own filters run. "cid" and
# "data" are listed only so that inline images reach the image step, which
# admits cid: and data:image/<raster> on <img> and nothing else.
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "tel", "cid", "data"})
LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
REMOTE_SCHEMES = frozenset({"http", "https"})
RASTER_DATA_IMAGE = re.compile(
    r"^data:image/(png|gif|jpeg|jpg|webp|bmp)[;,]", re.IGNORECASE
)
SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
URL_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
C0_CONTROL_OR_SPACE = "".join(chr(code) for code in range(0x21))

ALLOWED_CSS_PROPERTIES = frozenset(
    {
        "background", "background-color", "border", "border-bottom",
        "border-bottom-color", "border-bottom-style", "border-bottom-width",
        "border-collapse", "border-color", "border-left", "border-left-color",
        "border-left-style", "border-left-width", "border-radius", "border-right",
        "border-right-color", "border-right-style", "border-right-width",
        "border-spacing", "border-style", "border-top", "border-top-color",
        "border-top-style", "border-top-width", "border-width", "clear", "color",
        "direction", "display", "float", "font", "font-family", "font-size",
        "font-style", "font-variant", "font-weight", "height", "letter-spacing",
        "line-height", "list-style-type", "margin", "margin-bottom",
        "margin-left", "margin-right", "margin-top", "max-height", "max-width",
        "min-height", "min-width", "padding", "padding-bottom", "padding-left",
        "padding-right", "padding-top", "table-layout", "text-align",
        "text-decoration", "text-indent", "text-transform", "vertical-align",
        "white-space", "width", "word-break", "word-spacing", "word-wrap",
        "overflow-wrap",
    }
)  # fmt: skip
ALLOWED_CSS_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla"})
ALLOWED_DISPLAY_VALUES = frozenset(
    {
        "block", "inline", "inline-block", "list-item", "none", "table",
        "table-caption", "table-cell", "table-column", "table-column-group",
        "table-footer-group", "table-header-group", "table-row",
        "table-row-group",
    }
)  # fmt: skip
# Upper bounds for one length, per unit: larger values are dropped so that a
# message cannot stretch its frame (or a plain page) without limit.
MAX_CSS_LENGTH = {
    "px": 2000,
    "pt": 1500,
    "pc": 125,
    "cm": 53,
    "mm": 530,
    "in": 21,
    "em": 100,
    "rem": 100,
    "ex": 200,
    "ch": 200,
    "%": 400,
    "vw": 100,
    "vh": 100,
}
# Text sizes get tighter bounds: a 900pt heading is an overlay in disguise.
MAX_TEXT_LENGTH = {"px": 100, "pt": 75, "pc": 6, "em": 6, "rem": 6, "%": 600}
TEXT_SIZE_PROPERTIES = frozenset({"font", "font-size", "line-height"})
MAX_CSS_NUMBER = 2000

TRACKING_HOST_SUFFIX = ".nylas.com"

# Passes over the sanitiser's own output before giving up and returning text.
MAX_SANITISE_PASSES = 3

ImageRewrite = Callable[[str], str | None]


@dataclass(frozen=True)
class ImagePolicy:
    """Rules for `<img src>` values in one sanitiser run.

    `remote` maps an http(s) URL to the URL to load instead (the signed image
    proxy), or returns None to block it. `inline` does the same for the
    Content-ID of a cid: URL. With neither, only data:image rasters are kept.
    `drop_tiny_images` removes images of at most 1x1 pixel, which is what
    open-tracking pixels look like in mail our users sent. `trusted_sources`
    are URLs an earlier pass produced, kept as they are.
    """

    remote: ImageRewrite | None = None
    inline: ImageRewrite | None = None
    drop_tiny_images: bool = False
    trusted_sources: frozenset[str] = frozenset()


def sanitise_email_html(html: str, images: ImagePolicy | None = None) -> str:
    """Return `html` with everything active removed: scripts, event handlers,
    forms, frames, styles that load or position things, and disallowed URL
    schemes. Ordinary email layout (tables, inline styles, images) is kept.

    Remote and cid: images lose their src unless `images` rewrites them, and
    images on Nylas tracking hosts are always removed.
    """
    produced: set[str] = set()
    result = _sanitise_once(html, _recording(images or ImagePolicy(), produced))
    # Later passes keep exactly the image URLs the first pass produced.
    repeat_policy = ImagePolicy(trusted_sources=frozenset(produced))
    for _attempt in range(MAX_SANITISE_PASSES):
        # Invalid nesting (a heading inside a heading, list items outside a
        # list) serialises to markup that parses into a different tree: run
        # again on the output until it no longer changes.
        again = _sanitise_once(result, repeat_policy)
        if again == result:
            return result
        result = again
    return bleach.clean(result, tags=set(), strip=True)


def _recording(policy: ImagePolicy, produced: set[str]) -> ImagePolicy:
    def record(rewrite: ImageRewrite | None) -> ImageRewrite | None:
        if rewrite is None:
            return None

        def rewrite_and_record(source: str) -> str | None:
            result = rewrite(source)
            if result:
                produced.add(result)
            return result

        return rewrite_and_record

    return ImagePolicy(
        remote=record(policy.remote),
        inline=record(policy.inline),
        drop_tiny_images=policy.drop_tiny_images,
    )


def _sanitise_once(html: str, images: ImagePolicy) -> str:
    if not html:
        return ""

    # The parser must see the dropped elements as elements (bleach's tokenizer
    # turns unknown tags into text), so it is built with both lists and the
    # sanitiser filter below gets the allow-list alone.
    cleaner = bleach.Cleaner(
        tags=ALLOWED_TAGS | DROPPED_WITH_CONTENT,
        attributes=_attribute_allowed,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        css_sanitizer=EmailCSSSanitizer(),
    )
    document = cleaner.parser.parseFragment(html)
    # types-bleach types `walker` as a TreeWalker instance, but bleach stores
    # the class returned by getTreeWalker("etree").
    walker = cleaner.walker(document)  # type: ignore[operator]
    stream: Any = DropContentFilter(walker)

    stream = BleachSanitizerFilter(
        source=stream,
        allowed_tags=ALLOWED_TAGS,
        attributes=cleaner.attributes,
        strip_disallowed_tags=True,
        strip_html_comments=True,
        css_sanitizer=cleaner.css_sanitizer,
        allowed_protocols=cleaner.protocols,
    )
    stream = LinkFilter(stream)
    stream = ImageFilter(stream, images)
    return str(cleaner.serializer.render(stream))


def _attribute_allowed(tag: str, name: str, value: str) -> bool:
    allowed = name in ALLOWED_ATTRIBUTES["*"] or name in ALLOWED_ATTRIBUTES.get(tag, ())
    if not allowed:
        return False
    if name in NUMERIC_ATTRIBUTES:
        return _numeric_attribute_allowed(value)
    return True


def _numeric_attribute_allowed(value: str) -> bool:
    match = NUMERIC_VALUE.match(value)
    if match is None:
        return False
    limit = 100 if match.group(2) == "%" else MAX_ATTRIBUTE_NUMBER
    return int(match.group(1)) <= limit


def url_scheme(value: str) -> tuple[str, str]:
    """Return (lowercase scheme or "", normalised URL) the way browsers read
    an attribute URL: leading and trailing C0 controls and spaces are
    ignored, and tabs and newlines anywhere are removed."""
    normalised = URL_TAB_OR_NEWLINE.sub("", value.strip(C0_CONTROL_OR_SPACE))
    match = SCHEME.match(normalised)
    return (match.group(1).lower() if match else ""), normalised


def is_tracking_url(url: str) -> bool:
    """True for images served by Nylas (its open-tracking pixels)."""
    host = _host_of(url)
    return host == TRACKING_HOST_SUFFIX[1:] or host.endswith(TRACKING_HOST_SUFFIX)


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


class DropContentFilter(Filter):  # type: ignore[misc]
    """Remove the elements in DROPPED_WITH_CONTENT and all they contain."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        depth = 0
        for token in super().__iter__():
            kind = token["type"]
            name = str(token.get("name", "")).lower()
            if kind == "StartTag" and name in DROPPED_WITH_CONTENT:
                depth += 1
                continue
            if kind == "EndTag" and name in DROPPED_WITH_CONTENT and depth:
                depth -= 1
                continue
            if depth or (kind == "EmptyTag" and name in DROPPED_WITH_CONTENT):
                continue
            yield token


class LinkFilter(Filter):  # type: ignore[misc]
    """Keep only absolute http, https, mailto and tel links, and make every
    link open a new tab with neither opener nor referrer."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for token in super().__iter__():
            if token["type"] == "StartTag" and token["name"] == "a":
                token["data"] = _link_attributes(token["data"])
            yield token


def _link_attributes(attributes: dict[tuple[str | None, str], str]) -> dict[Any, str]:
    kept = {key: value for key, value in attributes.items() if key[1] != "href"}
    href = attributes.get((None, "href"))
    if href is not None:
        scheme, normalised = url_scheme(href)
        if scheme in LINK_SCHEMES:
            kept[(None, "href")] = normalised
    kept[(None, "target")] = "_blank"
    kept[(None, "rel")] = "noopener noreferrer"
    return kept


class ImageFilter(Filter):  # type: ignore[misc]
    """Check each `<img src>` and rewrite it as the image policy directs."""

    def __init__(self, source: Any, policy: ImagePolicy) -> None:
        super().__init__(source)
        self.policy = policy

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for token in super().__iter__():
            is_image = token["type"] in ("StartTag", "EmptyTag")
            if is_image and token["name"] == "img":
                if self._drops_whole_image(token["data"]):
                    continue
                token["data"] = self._image_attributes(token["data"])
            yield token

    def _drops_whole_image(self, attributes: dict[Any, str]) -> bool:
        source = attributes.get((None, "src"), "")
        if is_tracking_url(url_scheme(source)[1]):
            return True
        return self.policy.drop_tiny_images and _is_tiny(attributes)

    def _image_attributes(self, attributes: dict[Any, str]) -> dict[Any, str]:
        kept = {key: value for key, value in attributes.items() if key[1] != "src"}
        source = attributes.get((None, "src"))
        if source is not None:
            replacement = self._image_source(source)
            if replacement:
                kept[(None, "src")] = replacement
        return kept

    def _image_source(self, source: str) -> str | None:
        # bleach's parser leaves entities in attribute values undecoded, so a
        # trusted URL comes back from serialisation as "&amp;" in later passes.
        if unescape(source) in self.policy.trusted_sources:
            return source
        scheme, url = url_scheme(source)
        if scheme == "data":
            return url if RASTER_DATA_IMAGE.match(url) else None
        if scheme == "cid" and self.policy.inline is not None:
            return self.policy.inline(url[len("cid:") :])
        if scheme in REMOTE_SCHEMES and self.policy.remote is not None:
            return self.policy.remote(url)
        return None


def _is_tiny(attributes: dict[Any, str]) -> bool:
    """True when width and height are both at most one pixel, given as
    attributes or as inline CSS."""
    sizes = {"width": "", "height": ""}
    for name in sizes:
        sizes[name] = attributes.get((None, name), "").strip().lower()
    style = attributes.get((None, "style"), "")
    for declaration in tinycss2.parse_declaration_list(style):
        if declaration.type == "declaration" and declaration.lower_name in sizes:
            sizes[declaration.lower_name] = tinycss2.serialize(declaration.value)
    return all(
        re.fullmatch(r"\s*[01](\.0+)?\s*(px)?\s*", value) for value in sizes.values()
    )


class EmailCSSSanitizer(CSSSanitizer):
    """A CSS sanitiser that checks values as well as property names.

    A declaration survives only if its property is allowed and its value
    contains no url(), no function other than rgb/hsl colours, no at-rule, no
    negative length and no length above MAX_CSS_LENGTH.
    """

    def __init__(self) -> None:
        super().__init__(
            allowed_css_properties=ALLOWED_CSS_PROPERTIES,
            allowed_svg_properties=frozenset(),
        )

    def sanitize_css(self, style: str) -> str:
        kept = []
        for node in tinycss2.parse_declaration_list(style, skip_comments=True):
            if node.type != "declaration":
                continue
            name = node.lower_name
            if name in ALLOWED_CSS_PROPERTIES and css_value_allowed(name, node.value):
                value = tinycss2.serialize(node.value).strip()
                important = " !important" if node.important else ""
                kept.append(f"{name}: {value}{important};")
        return " ".join(kept)


def css_value_allowed(name: str, value: list[Any]) -> bool:
    """True when every token of a declaration's value is harmless."""
    meaningful = [token for token in value if token.type not in ("whitespace",)]
    if not meaningful:
        return False
    if name == "display":
        return _display_allowed(meaningful)
    limits = MAX_TEXT_LENGTH if name in TEXT_SIZE_PROPERTIES else MAX_CSS_LENGTH
    return all(_css_token_allowed(token, limits) for token in meaningful)


def _display_allowed(tokens: list[Any]) -> bool:
    return (
        len(tokens) == 1
        and tokens[0].type == "ident"
        and tokens[0].lower_value in ALLOWED_DISPLAY_VALUES
    )


def _css_token_allowed(token: Any, limits: dict[str, int]) -> bool:
    kind = token.type
    if kind in ("ident", "string", "hash", "literal"):
        return _css_text_allowed(token)
    if kind in ("number", "percentage", "dimension"):
        return _css_length_allowed(token, limits)
    if kind == "function":
        return token.lower_name in ALLOWED_CSS_FUNCTIONS and all(
            _css_token_allowed(argument, MAX_CSS_LENGTH)
            for argument in token.arguments
            if argument.type not in ("whitespace", "comment")
        )
    return False


def _css_text_allowed(token: Any) -> bool:
    text = str(getattr(token, "value", "")).lower()
    if token.type == "literal":
        return text in (",", "/")
    return "expression" not in text and "\\" not in text and "url(" not in text


def _css_length_allowed(token: Any, limits: dict[str, int]) -> bool:
    number = float(token.value)
    if number < 0:
        return False
    if token.type == "number":
        return number <= MAX_CSS_NUMBER
    unit = "%" if token.type == "percentage" else token.lower_unit
    limit = limits.get(unit)
    return limit is not None and number <= limit
