"""The contact's email panel: who sees what, and in how many queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import pytest

from contacts.models import Contact, Organisation
from mailsync.headers import store_messages
from mailsync.models import EmailAccount, MessageHeader
from mailsync.nylas_client import summary_from_dict

pytestmark = pytest.mark.django_db

DANA = "dana@customer.example"


def message(number: int, grant: str, owner: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"m-{grant}-{number}",
        "grant_id": grant,
        "thread_id": f"t-{grant}-{number}",
        "subject": f"Quote {number}",
        "from": [{"name": "Dana Whitfield", "email": DANA}],
        "to": [{"name": "Owner", "email": owner}],
        "date": 1764000000 + number * 60,
        "headers": [{"name": "Message-ID", "value": f"<{grant}-{number}@x.example>"}],
    }
    base.update(fields)
    return base


@pytest.fixture
def dana(make_contact: Callable[..., Contact], org_a: Organisation) -> Contact:
    return make_contact(org_a, "Dana Whitfield", DANA)


@pytest.fixture
def alice_account(
    make_account: Callable[..., EmailAccount], alice: User
) -> EmailAccount:
    return make_account(alice, grant_id="g-alice")


def store(account: EmailAccount, count: int, start: int = 0) -> None:
    messages = [
        summary_from_dict(message(n, account.nylas_grant_id, account.email))
        for n in range(start, start + count)
    ]
    store_messages(account, messages)


def panel_url(organisation: Organisation, contact: Contact, page: int = 1) -> str:
    url = reverse("mailsync:contact-emails", args=[organisation.slug, contact.pk])
    return f"{url}?page={page}"


def test_panel_lists_threads_newest_first(
    client: Client,
    alice: User,
    alice_account: EmailAccount,
    dana: Contact,
    org_a: Organisation,
) -> None:
    store(alice_account, 3)
    client.force_login(alice)

    page = client.get(panel_url(org_a, dana)).content.decode()

    assert page.index("Quote 2") < page.index("Quote 1") < page.index("Quote 0")


def test_panel_shows_teammates_mail(
    client: Client,
    alice: User,
    bob: User,
    make_account: Callable[..., EmailAccount],
    dana: Contact,
    org_a: Organisation,
) -> None:
    store(make_account(bob, grant_id="g-bob"), 1)
    client.force_login(alice)

    page = client.get(panel_url(org_a, dana)).content.decode()

    assert "Quote 0" in page
    assert "Bob Baker" in page


def test_user_of_other_organisation_gets_404(
    client: Client,
    carol: User,
    alice_account: EmailAccount,
    dana: Contact,
    org_a: Organisation,
) -> None:
    store(alice_account, 1)
    client.force_login(carol)

    response = client.get(panel_url(org_a, dana))

    assert response.status_code == 404


def test_contact_of_other_organisation_gets_404(
    client: Client,
    carol: User,
    org_b: Organisation,
    dana: Contact,
) -> None:
    client.force_login(carol)

    response = client.get(panel_url(org_b, dana))

    assert response.status_code == 404


def test_message_of_other_organisation_gets_404(
    client: Client,
    carol: User,
    org_b: Organisation,
    alice_account: EmailAccount,
    dana: Contact,
) -> None:
    store(alice_account, 1)
    header = MessageHeader.objects.get()
    client.force_login(carol)

    response = client.get(reverse("mailsync:message", args=[org_b.slug, header.pk]))

    assert response.status_code == 404


def test_anonymous_visitor_is_sent_to_log_in(
    client: Client, dana: Contact, org_a: Organisation
) -> None:
    response = client.get(panel_url(org_a, dana))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_mail_of_non_member_mailbox_is_hidden(
    client: Client,
    alice: User,
    carol: User,
    make_account: Callable[..., EmailAccount],
    dana: Contact,
    org_a: Organisation,
    make_contact: Callable[..., Contact],
    org_b: Organisation,
) -> None:
    make_contact(org_b, "Dana South", DANA)
    store(make_account(carol, grant_id="g-carol"), 1)
    client.force_login(alice)

    page = client.get(panel_url(org_a, dana)).content.decode()

    assert "Quote 0" not in page


def test_mail_sent_from_other_organisation_is_hidden(
    client: Client,
    alice: User,
    alice_account: EmailAccount,
    dana: Contact,
    org_a: Organisation,
    org_b: Organisation,
) -> None:
    store(alice_account, 2)
    MessageHeader.objects.filter(nylas_message_id="m-g-alice-1").update(
        sent_from_organisation=org_b
    )
    client.force_login(alice)

    page = client.get(panel_url(org_a, dana)).content.decode()

    assert "Quote 0" in page
    assert "Quote 1" not in page


def test_subject_with_markup_is_escaped(
    client: Client,
    alice: User,
    alice_account: EmailAccount,
    dana: Contact,
    org_a: Organisation,
) -> None:
    raw = message(
        0, "g-alice", alice_account.email, subject="<script>alert(1)</script>"
    )
    store_messages(alice_account, [summary_from_dict(raw)])
    client.force_login(alice)

    page = client.get(panel_url(org_a, dana)).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_query_count_does_not_grow_with_history(
    client: Client,
    alice: User,
    alice_account: EmailAccount,
    dana: Contact,
    org_a: Organisation,
) -> None:
    client.force_login(alice)
    store(alice_account, 3)
    with CaptureQueriesContext(connection) as small:
        client.get(panel_url(org_a, dana))
    store(alice_account, 120, start=3)

    with CaptureQueriesContext(connection) as large:
        client.get(panel_url(org_a, dana))

    assert len(large) == len(small)


def test_panel_is_paginated(
    client: Client,
    alice: User,
    alice_account: EmailAccount,
    dana: Contact,
    org_a: Organisation,
) -> None:
    store(alice_account, 25)
    client.force_login(alice)

    first = client.get(panel_url(org_a, dana, 1)).content.decode()
    second = client.get(panel_url(org_a, dana, 2)).content.decode()

    assert "Quote 24" in first
    assert "Quote 0" not in first
    assert "Quote 0" in second


def test_pager_links_load_the_panel_not_the_page(
    client: Client,
    alice: User,
    alice_account: EmailAccount,
    dana: Contact,
    org_a: Organisation,
) -> None:
    store(alice_account, 25)
    client.force_login(alice)

    first = client.get(panel_url(org_a, dana, 1)).content.decode()

    assert f'hx-get="{panel_url(org_a, dana, 2)}"' in first
