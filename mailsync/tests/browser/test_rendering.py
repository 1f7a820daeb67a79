"""Realistic and hostile layouts through the viewer, checked in Chromium.

The CSS case is an email whose style rules target the host page (body,
nav, buttons), draw a full-viewport fixed login form, stretch the message
with a 5000 px spacer and load remote stylesheets. The corpus test renders
real newsletters and saves screenshots for a person to look at.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest

from mailsync.tests.browser.conftest import Viewer
from mailsync.tests.browser.harness import HOST_STYLE_PROBE, Recorder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAX_FRAME_HEIGHT = 900
CORPUS_MESSAGES = [
    "spamscope-mail-parser/tests__mails__mail_test_13",
    "mikel-mail/spec__fixtures__emails__error_emails__content_transfer_encoding_with_8bits.eml",
    "nodemailer-mailparser/test__fixtures__nodemailer.eml",
]


def html_part(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("html",))
    assert body is not None, f"{path.name} has no HTML part"
    return str(body.get_content())


def open_message(
    browser_context: Any, viewer: Viewer, body: str
) -> tuple[Any, Recorder]:
    # A context per message, because a Recorder binds to its whole context.
    context = browser_context.browser.new_context(
        viewport={"width": 1280, "height": 900}
    )
    context.add_cookies([viewer.session_cookie])
    page = context.new_page()
    recorder = Recorder(context, page, viewer.base_url, lambda url: None)
    header = viewer.add_message(body, "Product update")
    page.goto(viewer.message_url(header), wait_until="load")
    page.frames[1].wait_for_load_state("load")
    return page, recorder


def host_styles(browser_context: Any, viewer: Viewer) -> dict[str, Any]:
    page, _ = open_message(browser_context, viewer, "A plain-text message.")
    styles = page.evaluate(HOST_STYLE_PROBE)
    page.context.close()
    return dict(styles)


def test_css_case_leaves_host_page_alone(
    shared_dir: Path, viewer: Viewer, browser_context: Any
) -> None:
    baseline = host_styles(browser_context, viewer)
    case = (shared_dir / "cases" / "21-html-css-leaks-into-host.html").read_text()
    page, recorder = open_message(browser_context, viewer, case)

    assert page.evaluate(HOST_STYLE_PROBE) == baseline

    frame = page.locator("iframe.message-body")
    box = frame.bounding_box()
    assert box is not None
    assert box["height"] <= MAX_FRAME_HEIGHT

    # Points of the host page outside the frame still hit host elements.
    for x, y in [(20, 20), (box["x"] + 5, box["y"] - 10), (5, box["y"] + 50)]:
        hit = page.evaluate(
            "([x, y]) => { const e = document.elementFromPoint(x, y);"
            " return e ? e.tagName : null; }",
            [x, y],
        )
        assert hit not in ("IFRAME", None)

    body_frame = page.frames[1]
    assert body_frame.locator("form, input").count() == 0
    assert body_frame.locator("table").count() == 1
    assert "December product update" in body_frame.locator("body").inner_text()

    outcome = recorder.outcome(None)
    assert outcome.external_requests == 0
    page.context.close()


def test_corpus_newsletters_render_within_frame(
    shared_dir: Path, viewer: Viewer, browser_context: Any, tmp_path: Path
) -> None:
    for name in CORPUS_MESSAGES:
        body = html_part(shared_dir / "corpus" / name)
        page, recorder = open_message(browser_context, viewer, body)
        page.frames[1].wait_for_timeout(300)

        shot = tmp_path / f"{Path(name).name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot: {shot}")

        assert page.locator("article.message h3").is_visible()
        assert page.locator(".facts").is_visible()
        assert page.locator(".topbar").is_visible()
        box = page.locator("iframe.message-body").bounding_box()
        assert box is not None
        assert box["height"] <= MAX_FRAME_HEIGHT
        assert box["x"] + box["width"] <= page.viewport_size["width"]
        text = page.frames[1].locator("body").inner_text()
        assert len(text.strip()) > 50
        assert recorder.outcome(None).external_requests == 0
        page.context.close()


def test_show_images_loads_through_proxy_only(
    viewer: Viewer, browser_context: Any
) -> None:
    # The image host is an address the proxy rejects before connecting, so
    # the test sends no traffic beyond 127.0.0.1.
    body = '<p>Logo below</p><img src="http://127.0.0.1:9/logo.png" alt="logo">'
    page, recorder = open_message(browser_context, viewer, body)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.get_by_text("Show images").click()
    page.wait_for_selector("iframe.message-body[src*='images=1']")
    page.wait_for_timeout(1000)

    proxied = [url for url in requested if "/image?url=" in url]
    assert len(proxied) == 1
    assert proxied[0].startswith(viewer.base_url)
    assert "127.0.0.1%3A9" in proxied[0]
    assert recorder.outcome(None).external_requests == 0
    page.context.close()
