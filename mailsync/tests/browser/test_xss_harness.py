"""Every XSS vector through the real viewer in Chromium, and two ablations.

Run with `pytest -m browser`. Each test prints its counts by class. The
assertions require zero script executions, dialogs, navigations, external
requests, popups with an opener and overlays for every vector.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from mailsync.tests.browser import harness
from mailsync.tests.browser.conftest import Viewer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def html_vectors(shared_dir: Path) -> list[harness.Vector]:
    """The vectors that can be a message body: every context but the header
    and API-path ones, which the view tests cover."""
    skipped = {"message_id", "attachment_content_type"}
    return [v for v in harness.load_vectors(shared_dir) if v.context not in skipped]


def report(name: str, vectors: list[harness.Vector], outcomes: dict[int, Any]) -> None:
    summary = harness.summarise(vectors, outcomes)
    print(f"\n{name}: {json.dumps(summary, sort_keys=True)}")
    print(f"{name} failures: {json.dumps(harness.failures(vectors, outcomes))}")


def test_product_blocks_every_vector(
    shared_dir: Path, viewer: Viewer, browser_context: Any
) -> None:
    vectors = html_vectors(shared_dir)
    started = time.monotonic()
    outcomes = harness.run_product_pass(browser_context, viewer, vectors)
    print(
        f"\nproduct pass: {len(vectors)} vectors in {time.monotonic() - started:.1f}s"
    )
    report("product", vectors, outcomes)
    assert harness.failures(vectors, outcomes) == {}


def test_product_keeps_benign_mail_readable(
    shared_dir: Path, viewer: Viewer, browser_context: Any
) -> None:
    vectors = [v for v in html_vectors(shared_dir) if v.klass == "benign-control"]
    outcomes = harness.run_product_pass(browser_context, viewer, vectors)
    with_text = [v for v in vectors if visible_text(v.html)]
    unreadable = [
        vector.id
        for index, vector in enumerate(vectors)
        if vector in with_text
        and outcomes.get(index, harness.Outcome()).text_length == 0
    ]
    print(f"\nbenign rows with text: {len(with_text)}, shown empty: {unreadable}")
    assert unreadable == []


def visible_text(html: str) -> str:
    """The text a reader would expect to see, ignoring markup and CSS."""
    without_blocks = re.sub(
        r"<(style|script|svg|math|textarea)\b.*?</\1\s*>", "", html, flags=re.S | re.I
    )
    return re.sub(r"<[^>]*>", "", without_blocks).strip()


def test_sanitiser_alone_blocks_every_vector(
    shared_dir: Path, viewer: Viewer, browser_context: Any
) -> None:
    vectors = html_vectors(shared_dir)
    started = time.monotonic()
    outcomes = harness.run_sanitiser_pass(browser_context, viewer.base_url, vectors)
    print(
        f"\nsanitiser pass: {len(vectors)} vectors in {time.monotonic() - started:.1f}s"
    )
    report("sanitiser alone", vectors, outcomes)
    assert harness.failures(vectors, outcomes) == {}


def test_frame_alone_runs_no_script(
    shared_dir: Path, viewer: Viewer, browser_context: Any
) -> None:
    vectors = html_vectors(shared_dir)
    header = viewer.add_message("<p>policy probe</p>")
    body_url = viewer.message_url(header).replace("/messages/", "/messages/", 1)
    session = requests.Session()
    session.cookies.set("sessionid", viewer.session_cookie["value"])
    policy = session.get(f"{body_url}body/", timeout=30).headers[
        "Content-Security-Policy"
    ]
    started = time.monotonic()
    outcomes = harness.run_frame_pass(browser_context, viewer.base_url, policy, vectors)
    print(f"\nframe pass: {len(vectors)} vectors in {time.monotonic() - started:.1f}s")
    report("frame alone", vectors, outcomes)
    scripts = {i: o.scripts for i, o in outcomes.items() if o.scripts}
    dialogs = {i: o.dialogs for i, o in outcomes.items() if o.dialogs}
    assert scripts == {}
    assert dialogs == {}
