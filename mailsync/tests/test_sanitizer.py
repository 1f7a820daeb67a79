"""Static checks of the email HTML sanitiser and the plain-text renderer.

The checks parse the sanitiser's output with a full HTML5 parser (the copy
of html5lib that bleach ships) and inspect the resulting tree, so they judge
what a browser would build, not the output string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bleach._vendor import html5lib  # type: ignore[import-not-found]  # unstubbed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailsync.body import linkify_plain_text, render_body_document
from mailsync.sanitizer import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    LINK_SCHEMES,
    ImagePolicy,
    sanitise_email_html,
    url_scheme,
)

FORBIDDEN_CSS = re.compile(
    r"url\(|expression|position|behaviou?r|-moz-binding|@import|var\(|z-index",
    re.IGNORECASE,
)
RASTER_DATA = re.compile(r"^data:image/(png|gif|jpeg|jpg|webp|bmp)[;,]", re.IGNORECASE)


def load_vectors(shared_dir: Path) -> list[dict[str, Any]]:
    path = shared_dir / "cases" / "xss" / "vectors.jsonl"
    return [json.loads(line) for line in path.read_text().split("\n") if line]


@pytest.fixture
def vectors(shared_dir: Path) -> list[dict[str, Any]]:
    return load_vectors(shared_dir)


def parse(fragment: str) -> Any:
    return html5lib.parseFragment(fragment, namespaceHTMLElements=False)


def serialise(tree: Any) -> str:
    return str(html5lib.serialize(tree, omit_optional_tags=False))


def elements(tree: Any) -> Iterator[Any]:
    for element in tree.iter():
        if isinstance(element.tag, str) and element.tag != "DOCUMENT_FRAGMENT":
            yield element


def violations(output: str) -> list[str]:
    """Return every rule the parsed output breaks, as readable strings."""
    found: list[str] = []
    for element in elements(parse(output)):
        found.extend(_element_violations(element))
    return found


def _element_violations(element: Any) -> Iterator[str]:
    tag = element.tag
    if tag not in ALLOWED_TAGS:
        yield f"element <{tag}>"
    allowed = {*ALLOWED_ATTRIBUTES["*"], *ALLOWED_ATTRIBUTES.get(tag, ())}
    allowed |= {"target", "rel"} if tag == "a" else set()
    for name, value in element.attrib.items():
        if name.lower().startswith("on"):
            yield f"event handler {name} on <{tag}>"
        elif name not in allowed:
            yield f"attribute {name} on <{tag}>"
        if name == "style" and FORBIDDEN_CSS.search(value):
            yield f"style {value!r} on <{tag}>"
    href = element.attrib.get("href")
    if href is not None and url_scheme(href)[0] not in LINK_SCHEMES:
        yield f"href {href!r}"
    source = element.attrib.get("src")
    if source is not None and not RASTER_DATA.match(source):
        yield f"img src {source!r}"
    if tag == "a" and element.attrib.get("rel") != "noopener noreferrer":
        yield "link without rel=noopener noreferrer"


def test_sanitiser_keeps_email_layout() -> None:
    html = (
        '<table width="600" cellpadding="4" style="border-collapse: collapse">'
        '<tr><td bgcolor="#eeeeee" style="color: #333; padding: 8px">Hi</td></tr>'
        "</table>"
    )
    output = sanitise_email_html(html)
    assert '<table width="600" cellpadding="4"' in output
    assert "border-collapse: collapse;" in output
    assert 'bgcolor="#eeeeee"' in output
    assert "padding: 8px;" in output


def test_sanitiser_drops_script_and_style_content() -> None:
    output = sanitise_email_html(
        "<style>body{color:red}</style><script>alert(1)</script><p>text</p>"
    )
    assert output == "<p>text</p>"


def test_sanitiser_drops_event_handlers() -> None:
    output = sanitise_email_html('<p onclick="alert(1)" onmouseover=x>hi</p>')
    assert output == "<p>hi</p>"


@pytest.mark.parametrize(
    "declaration",
    [
        "position: fixed",
        "position:absolute",
        "position: sticky",
        "background: url(https://evil.example/x.png)",
        "background: u\\rl(https://evil.example/x.png)",
        "width: expression(alert(1))",
        "width: e\\xpression(alert(1))",
        "behavior: url(x.htc)",
        "-moz-binding: url(x.xml#xss)",
        "color: var(--x)",
        "height: 5000px",
        "margin-top: -500px",
        "font-size: 900pt",
        "z-index: 2147483647",
    ],
)
def test_sanitiser_drops_unsafe_css(declaration: str) -> None:
    output = sanitise_email_html(f'<p style="{declaration}">x</p>')
    assert output == '<p style="">x</p>'


def test_sanitiser_keeps_safe_css_values() -> None:
    output = sanitise_email_html(
        '<p style="color: rgb(10, 20, 30); font-size: 14px; margin: 0 auto">x</p>'
    )
    assert output == (
        '<p style="color: rgb(10, 20, 30); font-size: 14px; margin: 0 auto;">x</p>'
    )


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java&#x09;script:alert(1)",
        "java\nscript:alert(1)",
        "&#106;avascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "\x01javascript:alert(1)",
        "../relative/page.html",
    ],
)
def test_sanitiser_drops_disallowed_link_schemes(href: str) -> None:
    output = sanitise_email_html(f'<a href="{href}">x</a>')
    assert output == '<a target="_blank" rel="noopener noreferrer">x</a>'


def test_sanitiser_opens_links_in_new_tab_without_opener() -> None:
    output = sanitise_email_html(
        '<a href="https://example.com/a" target="_top" rel="opener">a</a>'
    )
    assert output == (
        '<a href="https://example.com/a" target="_blank" '
        'rel="noopener noreferrer">a</a>'
    )


def test_sanitiser_blocks_remote_images_by_default() -> None:
    output = sanitise_email_html('<img src="https://img.example/a.png" alt="logo">')
    assert output == '<img alt="logo">'


def test_sanitiser_keeps_raster_data_images() -> None:
    html = '<img src="data:image/png;base64,iVBORw0KGgo=">'
    assert sanitise_email_html(html) == html


def test_sanitiser_drops_svg_data_images() -> None:
    output = sanitise_email_html('<img src="data:image/svg+xml,<svg onload=x>">')
    assert output == "<img>"


def test_sanitiser_rewrites_remote_images_when_allowed() -> None:
    policy = ImagePolicy(remote=lambda url: "/proxy?u=" + url)
    output = sanitise_email_html('<img src="https://img.example/a.png">', policy)
    assert output == '<img src="/proxy?u=https://img.example/a.png">'


def test_sanitiser_rewrites_cid_images() -> None:
    policy = ImagePolicy(inline=lambda content_id: "/cid?id=" + content_id)
    output = sanitise_email_html('<img src="cid:logo@example.com">', policy)
    assert output == '<img src="/cid?id=logo@example.com">'


@pytest.mark.parametrize(
    "source",
    [
        "https://tracking.us.nylas.com/open/abc",
        "https://tracking.eu.nylas.com/open/abc",
        "https://t.nylas.com/p.gif",
        "https://TRACKING.US.NYLAS.COM./open/abc",
    ],
)
def test_sanitiser_removes_nylas_tracking_images(source: str) -> None:
    policy = ImagePolicy(remote=lambda url: url)
    output = sanitise_email_html(f'<p>a<img src="{source}">b</p>', policy)
    assert output == "<p>ab</p>"


@pytest.mark.parametrize(
    "image",
    [
        '<img src="https://img.example/p.gif" width="1" height="1">',
        '<img src="https://img.example/p.gif" style="width:1px;height:1px">',
        '<img src="https://img.example/p.gif" width="0" height="0">',
    ],
)
def test_sanitiser_removes_tiny_images_from_sent_mail(image: str) -> None:
    policy = ImagePolicy(remote=lambda url: url, drop_tiny_images=True)
    output = sanitise_email_html(f"<p>a{image}b</p>", policy)
    assert output == "<p>ab</p>"


def test_sanitiser_keeps_tiny_images_on_received_mail() -> None:
    policy = ImagePolicy(remote=lambda url: url)
    output = sanitise_email_html(
        '<img src="https://img.example/p.gif" width="1" height="1">', policy
    )
    assert "img.example" in output


def test_sanitiser_passes_every_vector(vectors: list[dict[str, Any]]) -> None:
    failures = {}
    for vector in vectors:
        found = violations(sanitise_email_html(vector["html"]))
        if found:
            failures[vector["id"]] = found
    assert failures == {}


def test_sanitiser_is_idempotent_on_every_vector(
    vectors: list[dict[str, Any]],
) -> None:
    failures = []
    for vector in vectors:
        once = sanitise_email_html(vector["html"])
        if sanitise_email_html(once) != once:
            failures.append(vector["id"])
    assert failures == []


def test_sanitiser_output_is_stable_when_reparsed(
    vectors: list[dict[str, Any]],
) -> None:
    failures = []
    for vector in vectors:
        first = serialise(parse(sanitise_email_html(vector["html"])))
        if serialise(parse(first)) != first:
            failures.append(vector["id"])
    assert failures == []


def test_plain_text_vectors_render_as_text(vectors: list[dict[str, Any]]) -> None:
    failures = {}
    for vector in vectors:
        if vector.get("context") != "text_body":
            continue
        tree = parse(linkify_plain_text(vector["html"]))
        tags = {element.tag for element in elements(tree)}
        found = [f"element <{tag}>" for tag in tags - {"a"}]
        found += violations(serialise(tree))
        if found:
            failures[vector["id"]] = found
    assert failures == {}


def test_plain_text_links_only_web_and_mail_addresses() -> None:
    output = linkify_plain_text(
        "see https://example.com/a?b=1&c=2 javascript:alert(1) mail a@example.com"
    )
    assert 'href="https://example.com/a?b=1&amp;c=2"' in output
    assert 'href="mailto:a@example.com"' in output
    assert "javascript:alert(1)" in output
    assert 'href="javascript' not in output


def test_plain_text_escapes_markup() -> None:
    output = linkify_plain_text('<script>alert("x")</script>')
    assert output == '&lt;script&gt;alert("x")&lt;/script&gt;'


def test_body_document_shows_plain_text_as_text() -> None:
    document = render_body_document("1 < 2 & 3 > 2\nhttps://example.com")
    assert '<pre class="plain">1 &lt; 2 &amp; 3 &gt; 2' in document


# Markup fragments that hypothesis recombines: tags, attributes, quotes,
# entities and parser-confusing sequences taken from mutation-XSS families.
FRAGMENTS = [
    "<", ">", "</", "/>", '"', "'", "`", "=", " ", "\n", "\t", "&", "&#x6a;",
    "&lt;", "&#0;", "<!--", "-->", "<![CDATA[", "]]>", "<?", "<!", "a", "p",
    "img", "svg", "math", "style", "script", "title", "noscript", "template",
    "table", "td", "select", "textarea", "iframe", "form", "src=", "href=",
    "style=", "onerror=", "onclick=", "javascript:", "data:", "cid:x",
    "http://e.example/", "alert(1)", "position:fixed", "url(x)", "x",
]  # fmt: skip
markup = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
any_text = st.text(max_size=200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(markup, any_text))
def test_sanitiser_invariants_hold_for_generated_html(html: str) -> None:
    once = sanitise_email_html(html)
    assert sanitise_email_html(once) == once
    first = serialise(parse(once))
    assert serialise(parse(first)) == first
    assert violations(once) == []
