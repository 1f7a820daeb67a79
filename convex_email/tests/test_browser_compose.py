"""Compose, reply and read receipts in headless Chromium.

The app runs in live_server with its webhook registered at the emulator,
so delivery, replies and opens come back as real signed notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

import pytest

from conftest import EmulatorControl
from contacts.models import Contact, Organisation
from mailsync import webhooks
from mailsync.models import EmailAccount, MessageHeader

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWNER = "alice@acme.example.com"
GRANT = "grant-alice-browser"
DANA = "dana@example.org"
OLA = "ola@example.org"
ARCHIVE = "archive@acme.example.com"
SIGNATURE = "Alice Archer, Acme North"


@pytest.fixture
def registered(live_server: Any, emulator: EmulatorControl, settings: Any) -> None:
    settings.SITE_URL = live_server.url
    settings.NYLAS_WEBHOOK_SECRET = ""
    webhooks.forget_cached_secrets()
    call_command("register_webhook", stdout=StringIO())


@pytest.fixture
def account(
    alice: User,
    make_account: Callable[..., EmailAccount],
    emulator: EmulatorControl,
    registered: None,
) -> EmailAccount:
    emulator.add_grant(OWNER, GRANT)
    for owner in (DANA, OLA, ARCHIVE):
        emulator.add_grant(owner, f"grant-{owner}")
    return make_account(
        alice,
        OWNER,
        GRANT,
        signature_html=f"<p>-- <br>{SIGNATURE}</p>",
        signature_in_new=True,
        signature_in_replies=True,
    )


def session_cookie(user: User, base_url: str) -> dict[str, Any]:
    client = Client()
    client.force_login(user)
    return {
        "name": "sessionid",
        "value": client.cookies["sessionid"].value,
        "url": base_url,
    }


def flush(emulator: EmulatorControl) -> None:
    emulator.post("/_emulator/webhooks/flush", {"timeout": 20})


def test_compose_reply_and_receipts(
    chromium: Any,
    live_server: Any,
    emulator: EmulatorControl,
    account: EmailAccount,
    alice: User,
    org_a: Organisation,
    make_contact: Callable[..., Contact],
) -> None:
    dana = make_contact(org_a, "Whitfield, Dana", DANA)
    contact_url = f"{live_server.url}/o/{org_a.slug}/contacts/{dana.pk}/"

    browser = chromium
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([session_cookie(alice, live_server.url)])
    page = context.new_page()
    page.goto(contact_url)

    page.click("text=New email")
    page.wait_for_selector("#compose .ql-editor")
    to_value = page.input_value("#compose input[name=to]")
    editor_text = page.inner_text("#compose .ql-editor")
    marked_lines = page.locator("#compose .ql-editor .crm-signature").count()
    page.fill("#compose input[name=cc]", f"Ola Berg <{OLA}>")
    page.fill("#compose input[name=bcc]", ARCHIVE)
    page.fill("#compose input[name=subject]", "Renewal terms")
    page.click("#compose .ql-editor p >> nth=0")
    page.keyboard.type("Hello Dana, the renewal is ready.")
    emulator.fault(kind="slow", seconds=2, count=1, path="/messages/send")
    page.click("#compose button[type=submit]")
    page.wait_for_selector("#compose-sending", state="visible", timeout=1500)
    page.wait_for_selector(".compose-sent", timeout=20_000)
    page.wait_for_selector(".message-row.sent", timeout=20_000)
    offers = page.inner_text(".save-offers")

    sent = MessageHeader.objects.get(account=account)
    dana_copy = emulator.mailbox_messages(DANA)[0]
    ola_copy = emulator.mailbox_messages(OLA)[0]
    archive_copy = emulator.mailbox_messages(ARCHIVE)[0]

    emulator.post(
        "/_emulator/replies",
        {"grant_id": GRANT, "message_id": sent.nylas_message_id, "from": DANA},
    )
    flush(emulator)
    page.goto(contact_url)
    page.click(".message-row.received .message-link")
    page.click(".reply-toolbar >> text=Reply all")
    page.wait_for_selector("#compose .ql-editor")
    reply_subject = page.input_value("#compose input[name=subject]")
    reply_cc = page.input_value("#compose input[name=cc]")
    page.click("#compose .ql-editor p >> nth=0")
    page.keyboard.type("Thursday works.")
    page.click("#compose button[type=submit]")
    page.wait_for_selector(".compose-sent", timeout=20_000)

    emulator.post(
        "/_emulator/opens",
        {
            "grant_id": GRANT,
            "message_id": sent.nylas_message_id,
            "kind": "human",
            "at": int(sent.sent_at.timestamp()) + 300,
        },
    )
    emulator.post(
        "/_emulator/opens",
        {
            "grant_id": GRANT,
            "message_id": sent.nylas_message_id,
            "kind": "proxy_google",
        },
    )
    flush(emulator)
    page.goto(contact_url)
    page.wait_for_selector(".receipt-opened")
    receipts = page.inner_text(".email-panel")
    context.close()

    requests_sent = emulator.get("/_emulator/sent")["data"]
    reply_request = requests_sent[-1]["request_body"]
    threads = set(
        MessageHeader.objects.filter(account=account).values_list(
            "conversation_key", flat=True
        )
    )
    assert to_value == f'"Whitfield, Dana" <{DANA}>'
    assert SIGNATURE in editor_text
    assert marked_lines >= 1
    assert [entry["email"] for entry in dana_copy["cc"]] == [OLA]
    assert dana_copy["bcc"] == []
    assert ola_copy["bcc"] == []
    assert [entry["email"] for entry in archive_copy["bcc"]] == [ARCHIVE]
    assert dana_copy["body"].count(SIGNATURE) == 1
    assert "Hello Dana, the renewal is ready." in dana_copy["body"]
    assert sent.sent_from_organisation == org_a
    assert OLA in offers
    assert DANA not in offers
    assert reply_subject == "Re: Renewal terms"
    assert OWNER not in reply_cc
    assert reply_request["reply_to_message_id"]
    assert reply_request["body"].index("Thursday works.") < reply_request["body"].index(
        "<blockquote"
    )
    assert len(threads) == 1
    assert "Opened 1 time" in receipts
    assert "1 automatic open" in receipts
