"""A salesperson's first session, in headless Chromium: log in, connect the
mailbox through the consent page, watch the backfill finish in a real
Celery worker, open a contact and read a message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

import pytest

from conftest import EmulatorControl
from contacts.models import Contact, Organisation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWNER = "alice@acme.example.com"


def test_connect_backfill_and_read_a_message(
    chromium: Any,
    live_server: Any,
    emulator: EmulatorControl,
    celery_worker_process: Path,
    make_user: Callable[..., User],
    make_contact: Callable[..., Contact],
    org_a: Organisation,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.SITE_URL = live_server.url
    emulator.add_generated_mailbox(OWNER, count=300, days=60, grant_id="g-alice")
    people = emulator.get("/_emulator/mailboxes/x/correspondents")["data"]
    for person in people:
        make_contact(org_a, person["name"], person["email"], company=person["company"])
    make_user("alice", organisations=(org_a,), email=OWNER, first_name="Alice")

    browser = chromium
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")

    page.click(".user-menu summary")
    page.click("text=Email Integration")
    page.fill("input[name=email]", OWNER)
    page.click("text=Begin Setup")
    page.wait_for_url(f"{emulator.url}/v3/connect/auth**")
    page.click("button[value=approve]")
    page.wait_for_url(f"{live_server.url}/settings/email/")
    page.wait_for_selector("[data-status=finished]", timeout=60_000)
    progress = page.inner_text(".progress-status")
    page.screenshot(path=str(tmp_path / "settings.png"))

    page.goto(f"{live_server.url}/o/{org_a.slug}/contacts/")
    page.click("table.list tbody tr:first-child td a")
    page.wait_for_selector(".message-link", timeout=20_000)
    page.click(".thread[open] .message-link >> nth=0")
    frame_element = page.wait_for_selector("iframe.message-body")
    frame = frame_element.content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    body_text = frame.inner_text("body")
    page.screenshot(path=str(tmp_path / "contact.png"), full_page=True)

    assert "Finished" in progress
    assert " 0 kept" not in progress
    assert body_text.strip()
    assert "could not be loaded" not in body_text
