"""The compose views against the Nylas emulator: send, reply, failures."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

import pytest

from conftest import EmulatorControl
from contacts.models import Contact, ContactEmail, Organisation
from mailsync.headers import store_messages
from mailsync.models import AccountStatus, EmailAccount, MessageHeader
from mailsync.nylas_client import find_message_summary

OWNER = "alice@acme.example.com"
GRANT = "grant-alice-compose"
DANA = "dana@example.org"
BODY = "<p>Hello Dana, the renewal is attached.</p>"


@pytest.fixture
def account(
    alice: User, make_account: Callable[..., EmailAccount], emulator: EmulatorControl
) -> EmailAccount:
    emulator.add_grant(OWNER, GRANT)
    for owner in (DANA, "ola@example.org", "archive@acme.example.com"):
        emulator.add_grant(owner, f"grant-{owner}")
    return make_account(alice, OWNER, GRANT)


@pytest.fixture
def dana(make_contact: Callable[..., Contact], org_a: Organisation) -> Contact:
    return make_contact(org_a, "Whitfield, Dana", DANA)


@pytest.fixture
def client(alice: User) -> Client:
    logged_in = Client()
    logged_in.force_login(alice)
    return logged_in


def send(client: Client, organisation: Organisation, **fields: str) -> str:
    values = {"form_key": str(uuid.uuid4()), "subject": "Renewal", "body": BODY}
    values.update(fields)
    response = client.post(
        reverse("mailsync:compose-send", args=[organisation.slug]),
        values,
        HTTP_HX_REQUEST="true",
    )
    return str(response.content.decode())


def sent_log(emulator: EmulatorControl) -> list[dict[str, Any]]:
    return list(emulator.get("/_emulator/sent")["data"])


def test_compose_prefills_quoted_contact(
    account: EmailAccount, dana: Contact, client: Client, org_a: Organisation
) -> None:
    url = reverse("mailsync:compose", args=[org_a.slug])

    page = client.get(f"{url}?contact={dana.pk}").content.decode()

    assert "&quot;Whitfield, Dana&quot; &lt;dana@example.org&gt;" in page
    assert 'name="form_key"' in page


def test_send_delivers_with_hidden_bcc(
    account: EmailAccount,
    dana: Contact,
    client: Client,
    org_a: Organisation,
    emulator: EmulatorControl,
) -> None:
    send(
        client,
        org_a,
        to='"Whitfield, Dana" <dana@example.org>',
        cc="Ola Berg <ola@example.org>",
        bcc="archive@acme.example.com",
    )

    dana_copy = emulator.mailbox_messages(DANA)[0]
    archive_copy = emulator.mailbox_messages("archive@acme.example.com")[0]
    assert [entry["email"] for entry in dana_copy["cc"]] == ["ola@example.org"]
    assert dana_copy["bcc"] == []
    assert [entry["email"] for entry in archive_copy["bcc"]] == [
        "archive@acme.example.com"
    ]


def test_send_stores_header_for_organisation(
    account: EmailAccount,
    dana: Contact,
    client: Client,
    org_a: Organisation,
    emulator: EmulatorControl,
) -> None:
    send(client, org_a, to=DANA)

    header = MessageHeader.objects.get(account=account)
    assert header.sent_from_organisation == org_a
    assert header.tracking_label.startswith("crm-h-")
    assert header.contacts.filter(pk=dana.pk).exists()


def test_send_requests_open_tracking(
    account: EmailAccount,
    dana: Contact,
    client: Client,
    org_a: Organisation,
    emulator: EmulatorControl,
) -> None:
    send(client, org_a, to=DANA)

    header = MessageHeader.objects.get(account=account)
    assert sent_log(emulator)[0]["tracking_options"] == {
        "opens": True,
        "thread_replies": True,
        "label": header.tracking_label,
    }


def test_webhook_upsert_keeps_mark_and_tracking(
    account: EmailAccount, dana: Contact, client: Client, org_a: Organisation
) -> None:
    send(client, org_a, to=DANA)
    header = MessageHeader.objects.get(account=account)
    MessageHeader.objects.filter(pk=header.pk).update(open_count=2)

    summary = find_message_summary(GRANT, header.nylas_message_id)
    store_messages(account, [summary])

    header.refresh_from_db()
    assert header.sent_from_organisation == org_a
    assert header.tracking_label.startswith("crm-h-")
    assert header.open_count == 2


def test_send_to_non_contact_stores_nothing(
    account: EmailAccount, client: Client, org_a: Organisation
) -> None:
    page = send(client, org_a, to='"Berg, Ola" <ola@example.org>')

    assert "Message sent" in page
    assert not MessageHeader.objects.exists()


def test_sent_page_offers_saving_new_address(
    account: EmailAccount, dana: Contact, client: Client, org_a: Organisation
) -> None:
    page = send(client, org_a, to=DANA, cc='"Berg, Ola" <ola@example.org>')

    assert 'value="ola@example.org"' in page
    assert 'value="Berg, Ola"' in page
    assert 'value="dana@example.org"' not in page


def test_sent_page_never_offers_a_teammate(
    account: EmailAccount,
    dana: Contact,
    client: Client,
    org_a: Organisation,
    bob: User,
) -> None:
    page = send(client, org_a, to=DANA, bcc="Bob+crm@ACME.example.com, ola@example.org")

    assert 'value="ola@example.org"' in page
    assert 'value="bob+crm@acme.example.com"' not in page.lower()


def test_save_contact_creates_contact_with_address(
    account: EmailAccount, client: Client, org_a: Organisation
) -> None:
    client.post(
        reverse("mailsync:compose-save-contact", args=[org_a.slug]),
        {"name": "Berg, Ola", "email": "Ola@Example.org"},
        HTTP_HX_REQUEST="true",
    )

    saved = ContactEmail.objects.get(organisation=org_a, email="ola@example.org")
    assert saved.contact.name == "Berg, Ola"


def test_unquoted_comma_name_is_an_inline_error(
    account: EmailAccount,
    client: Client,
    org_a: Organisation,
    emulator: EmulatorControl,
) -> None:
    page = send(client, org_a, to="Ortega, Maria <maria.ortega@example.org>")

    assert "compose-error-to" in page
    assert "&#x27;Ortega&#x27;" in page
    assert sent_log(emulator) == []


def test_invalid_bcc_keeps_typed_body(
    account: EmailAccount,
    client: Client,
    org_a: Organisation,
    emulator: EmulatorControl,
) -> None:
    page = send(client, org_a, to=DANA, bcc="archive@")

    assert "compose-error-bcc" in page
    assert "Hello Dana, the renewal is attached." in page
    assert sent_log(emulator) == []


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"kind": "server_error", "status": 502, "count": 1}, "email service failed"),
        ({"kind": "rate_limit", "count": 1, "retry_after": 7}, "Wait 7 seconds"),
    ],
)
def test_failed_send_keeps_message_and_retry_sends_once(
    account: EmailAccount,
    dana: Contact,
    client: Client,
    org_a: Organisation,
    emulator: EmulatorControl,
    fault: dict[str, Any],
    words: str,
) -> None:
    emulator.fault(path="/messages/send", **fault)
    form_key = str(uuid.uuid4())

    failed = send(client, org_a, to=DANA, form_key=form_key)
    retried = send(client, org_a, to=DANA, form_key=form_key)
    again = send(client, org_a, to=DANA, form_key=form_key)

    assert words in failed
    assert "Hello Dana, the renewal is attached." in failed
    assert form_key in failed
    assert "Retry sending" in failed
    assert "Message sent" in retried
    assert "Message sent" in again
    assert len(emulator.mailbox_messages(DANA)) == 1


def test_expired_grant_says_reconnect_and_retry_sends_once(
    account: EmailAccount,
    dana: Contact,
    client: Client,
    org_a: Organisation,
    emulator: EmulatorControl,
) -> None:
    emulator.post(f"/_emulator/grants/{GRANT}/expire")
    form_key = str(uuid.uuid4())

    failed = send(client, org_a, to=DANA, form_key=form_key)
    account.refresh_from_db()
    emulator.post(f"/_emulator/grants/{GRANT}/restore")
    retried = send(client, org_a, to=DANA, form_key=form_key)

    assert "Reconnect" in failed
    assert "Hello Dana, the renewal is attached." in failed
    assert account.status == AccountStatus.RECONNECT_REQUIRED
    assert "Message sent" in retried
    assert len(emulator.mailbox_messages(DANA)) == 1


def test_timeout_is_reported_as_may_not_have_sent(
    account: EmailAccount,
    dana: Contact,
    client: Client,
    org_a: Organisation,
    emulator: EmulatorControl,
    settings: Any,
) -> None:
    settings.NYLAS_SEND_TIMEOUT_SECONDS = 1
    emulator.fault(kind="slow", seconds=3, count=1, path="/messages/send")

    page = send(client, org_a, to=DANA)

    assert "did not answer in time" in page
    assert "Hello Dana, the renewal is attached." in page


def test_reply_all_threads_and_quotes(
    account: EmailAccount,
    dana: Contact,
    client: Client,
    org_a: Organisation,
    emulator: EmulatorControl,
) -> None:
    parent_id = emulator.inject(
        OWNER,
        **{
            "from": [{"name": "Whitfield, Dana", "email": DANA}],
            "to": [{"email": "Alice+crm@ACME.example.com"}],
            "cc": [{"name": "Ola Berg", "email": "ola@example.org"}],
            "subject": "RE: Re: Renewal terms",
            "body": "<p>Original text</p><script>x()</script>",
        },
    )
    store_messages(account, [find_message_summary(GRANT, parent_id)])
    parent = MessageHeader.objects.get(nylas_message_id=parent_id)
    reply_url = reverse("mailsync:compose-reply", args=[org_a.slug, parent.pk])

    form = client.get(f"{reply_url}?all=1", HTTP_HX_REQUEST="true").content.decode()
    send(
        client,
        org_a,
        to='"Whitfield, Dana" <dana@example.org>',
        cc="Ola Berg <ola@example.org>",
        subject="Re: Renewal terms",
        reply_header=str(parent.pk),
        reply_all="1",
    )

    request = sent_log(emulator)[0]["request_body"]
    reply = MessageHeader.objects.exclude(pk=parent.pk).get(account=account)
    assert 'value="Re: Renewal terms"' in form
    assert "&quot;Whitfield, Dana&quot; &lt;dana@example.org&gt;" in form
    assert "alice" not in form.split('name="cc"')[1].split(">")[0].lower()
    assert request["reply_to_message_id"] == parent_id
    assert "Original text" in request["body"]
    assert "x()" not in request["body"]
    assert reply.conversation_key == parent.conversation_key
    assert reply.nylas_thread_id == parent.nylas_thread_id


def test_reply_to_teammate_only_message_stays_in_thread(
    account: EmailAccount,
    dana: Contact,
    client: Client,
    org_a: Organisation,
    emulator: EmulatorControl,
    bob: User,
    make_account: Callable[..., EmailAccount],
) -> None:
    bob_grant = "grant-bob-compose"
    emulator.add_grant("bob@acme.example.com", bob_grant)
    bob_account = make_account(bob, "bob@acme.example.com", bob_grant)
    parent_id = emulator.inject(
        "bob@acme.example.com",
        **{
            "from": [{"name": "Dana Whitfield", "email": DANA}],
            "to": [{"email": "bob@acme.example.com"}],
            "subject": "Only Bob has this",
            "body": "<p>For Bob</p>",
        },
    )
    store_messages(bob_account, [find_message_summary(bob_grant, parent_id)])
    parent = MessageHeader.objects.get(nylas_message_id=parent_id)
    reply_url = reverse("mailsync:compose-reply", args=[org_a.slug, parent.pk])

    form = client.get(reply_url, HTTP_HX_REQUEST="true").content.decode()
    send(
        client,
        org_a,
        to=DANA,
        subject="Re: Only Bob has this",
        reply_header=str(parent.pk),
    )

    request = sent_log(emulator)[0]["request_body"]
    reply = MessageHeader.objects.get(account=account)
    assert "not in your own mailbox" in form
    assert "reply_to_message_id" not in request
    assert reply.conversation_key == parent.conversation_key
