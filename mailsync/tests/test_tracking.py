"""Read receipts from message.opened and replies from thread.replied."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

import pytest

from contacts.models import Contact, Organisation
from mailsync import tracking
from mailsync.models import (
    Direction,
    EmailAccount,
    HeaderContact,
    MessageHeader,
    OwnMessageView,
    WebhookDelivery,
)
from mailsync.webhooks import client_fingerprint, parse_notification

GRANT = "grant-alex-0001"
HUMAN = ("198.51.100.44", "Mozilla/4.0 (compatible; ms-office; MSOffice 16)")
GOOGLE_PROXY = ("66.249.84.1", "Mozilla/5.0 (via ggpht.com GoogleImageProxy)")
SENT_AT = 1764590000


@pytest.fixture
def sent_header(
    alice: User,
    org_a: Organisation,
    make_account: Callable[..., EmailAccount],
    make_contact: Callable[..., Contact],
) -> MessageHeader:
    account = make_account(alice, "alex.morgan@acme.example.com", GRANT)
    contact = make_contact(org_a, "Dana Whitfield", "dana.whitfield@example.org")
    header = MessageHeader.objects.create(
        account=account,
        nylas_grant_id=GRANT,
        nylas_message_id="msg-1501",
        conversation_key="thread:thr-1501",
        subject="Proposal",
        sent_at=datetime.fromtimestamp(SENT_AT, tz=UTC),
        direction=Direction.SENT,
        participants={"to": [{"name": "Dana", "email": "dana.whitfield@example.org"}]},
        sent_from_organisation=org_a,
        tracking_label="crm-h-test",
    )
    HeaderContact.objects.create(header=header, contact=contact, organisation=org_a)
    return header


def opened(
    notification_id: str, recents: list[tuple[int, tuple[str, str], int]]
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": "message.opened",
        "id": notification_id,
        "time": recents[-1][2] + 1,
        "data": {
            "object": {
                "grant_id": GRANT,
                "message_id": "msg-1501",
                "label": "crm-h-test",
                "recents": [
                    {
                        "opened_id": number,
                        "ip": ip,
                        "user_agent": agent,
                        "timestamp": at,
                    }
                    for number, (ip, agent), at in recents
                ],
            }
        },
    }


def deliver(envelope: dict[str, Any]) -> None:
    """Apply a notification as the webhook path would, even when it repeats."""
    notification = parse_notification(json.dumps(envelope).encode())
    delivery, _ = WebhookDelivery.objects.get_or_create(
        nylas_notification_id=notification.id,
        defaults={
            "trigger_type": notification.type,
            "nylas_grant_id": notification.grant_id,
            "object_id": notification.object_id,
            "event_time": notification.time,
            "tracking_events": list(notification.tracking_events),
            "tracking_label": notification.tracking_label,
        },
    )
    tracking.apply(delivery)


def test_human_open_counts_with_times(sent_header: MessageHeader) -> None:
    deliver(opened("n1", [(1, HUMAN, SENT_AT + 600)]))

    sent_header.refresh_from_db()
    assert sent_header.open_count == 1
    assert sent_header.first_opened_at == datetime.fromtimestamp(SENT_AT + 600, tz=UTC)


def test_open_follows_label_when_message_id_changed(
    sent_header: MessageHeader,
) -> None:
    envelope = opened("n1", [(1, HUMAN, SENT_AT + 600)])
    envelope["data"]["object"]["message_id"] = "msg-1501-moved-to-sent-items"

    deliver(envelope)

    sent_header.refresh_from_db()
    assert sent_header.open_count == 1


def test_repeated_recents_count_once(sent_header: MessageHeader) -> None:
    deliver(opened("n1", [(1, HUMAN, SENT_AT + 600)]))
    deliver(opened("n2", [(1, HUMAN, SENT_AT + 600), (2, HUMAN, SENT_AT + 900)]))
    deliver(opened("n2", [(1, HUMAN, SENT_AT + 600), (2, HUMAN, SENT_AT + 900)]))

    sent_header.refresh_from_db()
    assert sent_header.open_count == 2
    assert sent_header.last_opened_at == datetime.fromtimestamp(SENT_AT + 900, tz=UTC)


def test_proxy_open_is_automatic(sent_header: MessageHeader) -> None:
    deliver(opened("n1", [(1, GOOGLE_PROXY, SENT_AT + 3600)]))

    sent_header.refresh_from_db()
    assert sent_header.open_count == 0
    assert sent_header.automatic_open_count == 1


def test_open_within_a_minute_is_automatic(sent_header: MessageHeader) -> None:
    deliver(opened("n1", [(1, HUMAN, SENT_AT + 20)]))

    sent_header.refresh_from_db()
    assert sent_header.open_count == 0
    assert sent_header.automatic_open_count == 1


def test_case_15_own_view_is_not_a_read(
    shared_dir: Path, sent_header: MessageHeader, alice: User
) -> None:
    case = json.loads((shared_dir / "cases" / "15-own-opens-counted.json").read_text())
    activity = case["crm_activity_log"][0]
    OwnMessageView.objects.create(
        user=alice,
        header=sent_header,
        viewed_at=datetime.fromtimestamp(activity["at"], tz=UTC),
        client=client_fingerprint(activity["ip"], activity["user_agent"]),
    )

    for envelope in case["webhook_sequence"]:
        deliver(envelope)

    expected = case["expected"]["read_receipt_shown"]
    sent_header.refresh_from_db()
    assert sent_header.open_count == expected["recipient_open_count"]
    assert sent_header.first_opened_at == datetime.fromtimestamp(
        expected["first_opened_at"], tz=UTC
    )
    assert sent_header.internal_open_count == 1


def test_own_view_outside_window_counts(
    sent_header: MessageHeader, alice: User
) -> None:
    OwnMessageView.objects.create(
        user=alice,
        header=sent_header,
        viewed_at=datetime.fromtimestamp(SENT_AT + 600, tz=UTC) - timedelta(minutes=6),
        client=client_fingerprint(*HUMAN),
    )

    deliver(opened("n1", [(1, HUMAN, SENT_AT + 600)]))

    sent_header.refresh_from_db()
    assert sent_header.open_count == 1


def test_thread_replied_marks_reply(sent_header: MessageHeader) -> None:
    deliver(
        {
            "type": "thread.replied",
            "id": "r1",
            "time": SENT_AT + 7200,
            "data": {
                "object": {
                    "grant_id": GRANT,
                    "root_message_id": "msg-1501",
                    "message_id": "msg-reply",
                }
            },
        }
    )

    sent_header.refresh_from_db()
    assert sent_header.replied_at == datetime.fromtimestamp(SENT_AT + 7200, tz=UTC)


def test_body_view_records_own_view(
    sent_header: MessageHeader, alice: User, org_a: Organisation, settings: Any
) -> None:
    settings.NYLAS_API_URI = "http://127.0.0.1:9"
    client = Client(REMOTE_ADDR="203.0.113.20", HTTP_USER_AGENT="Test agent")
    client.force_login(alice)

    client.get(reverse("mailsync:message-body", args=[org_a.slug, sent_header.pk]))

    view = OwnMessageView.objects.get(header=sent_header)
    assert view.client == client_fingerprint("203.0.113.20", "Test agent")
    assert view.user == alice


def test_panel_shows_receipt(
    sent_header: MessageHeader, alice: User, org_a: Organisation
) -> None:
    client = Client()
    client.force_login(alice)
    contact_id = sent_header.contacts.get().pk
    url = reverse("mailsync:contact-emails", args=[org_a.slug, contact_id])

    before = client.get(url).content.decode()
    deliver(opened("n1", [(1, HUMAN, SENT_AT + 600), (2, GOOGLE_PROXY, SENT_AT + 5)]))
    after = client.get(url).content.decode()

    assert "Not opened yet" in before
    assert "Opened 1 time" in after
    assert "1 automatic open" in after
