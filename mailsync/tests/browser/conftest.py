"""Fixtures for tests that drive headless Chromium against the live app.

The app runs in pytest-django's live_server thread and reads message bodies
from a Nylas emulator on 127.0.0.1. Chromium reaches only the live server:
every other request is recorded and aborted by the harness.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

import pytest

from contacts.models import Contact, Organisation
from mailsync.models import Direction, EmailAccount, HeaderContact, MessageHeader

OWNER = "alice@acme.example.com"
CONTACT = "dana@example.org"

# Pages run without Django's async guard, because live_server serves from a
# thread while Playwright's sync API runs an event loop in this one.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@dataclass
class Viewer:
    """A logged-in salesperson whose mailbox lives in the emulator."""

    base_url: str
    organisation: Organisation
    account: EmailAccount
    contact: Contact
    emulator: Any
    session_cookie: dict[str, Any]
    headers: list[MessageHeader] = field(default_factory=list)

    def add_message(
        self,
        body: str,
        subject: str = "Message",
        direction: str = Direction.RECEIVED,
    ) -> MessageHeader:
        """Deliver `body` through the emulator and store its header."""
        message_id = deliver_body(self.emulator, body, subject)
        header = MessageHeader.objects.create(
            account=self.account,
            nylas_grant_id=self.account.nylas_grant_id,
            nylas_message_id=message_id,
            conversation_key=f"conv-{message_id}",
            subject=subject,
            sent_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
            direction=direction,
            participants={
                "from": [{"name": "Dana Whitfield", "email": CONTACT}],
                "to": [{"name": "Alice Archer", "email": OWNER}],
            },
        )
        HeaderContact.objects.create(
            header=header, contact=self.contact, organisation=self.organisation
        )
        return header

    def message_url(self, header: MessageHeader, images: bool = False) -> str:
        path = reverse("mailsync:message", args=[self.organisation.slug, header.pk])
        return f"{self.base_url}{path}{'?images=1' if images else ''}"


def deliver_body(emulator: Any, body: str, subject: str) -> str:
    """Put a message with this body into the owner's emulated mailbox.

    This is the one place that decides where bodies come from; the harness
    never patches the product's Nylas client.
    """
    return str(
        emulator.inject(
            OWNER,
            **{
                "from": [{"name": "Dana Whitfield", "email": CONTACT}],
                "to": [{"name": "Alice Archer", "email": OWNER}],
                "subject": subject,
                "body": body,
            },
        )
    )


@pytest.fixture
def viewer(
    live_server: Any,
    emulator: Any,
    org_a: Organisation,
    alice: User,
    make_account: Callable[..., EmailAccount],
    make_contact: Callable[..., Contact],
) -> Viewer:
    emulator.add_grant(OWNER, "grant-viewer")
    account = make_account(alice, OWNER, "grant-viewer")
    contact = make_contact(org_a, "Dana Whitfield", CONTACT)
    client = Client()
    client.force_login(alice)
    session = client.cookies["sessionid"]
    cookie = {
        "name": "sessionid",
        "value": session.value,
        "url": live_server.url,
        "httpOnly": True,
        "sameSite": "Lax",
    }
    return Viewer(live_server.url, org_a, account, contact, emulator, cookie)


@pytest.fixture
def browser_context(chromium: Any, viewer: Viewer) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([viewer.session_cookie])
    yield context
    context.close()
