"""Webhook destinations and outgoing notifications, checked by a local receiver."""

from __future__ import annotations

import hashlib
import hmac
import itertools

import nylas
import pytest
from nylas.models.errors import NylasApiError

from nylas_emulator.server import EmulatorHandle

from .conftest import (
    ALEX,
    ALEX_GRANT,
    PRIYA,
    Receiver,
    control,
    flush,
    subscribe,
)


def inject(
    handle: EmulatorHandle, subject: str = "hello", body: str = "<p>x</p>"
) -> str:
    reply = control(
        handle,
        "POST",
        "/_emulator/messages/inject",
        {
            "owner": ALEX,
            "message": {
                "from": [{"email": "dana@example.org"}],
                "subject": subject,
                "body": body,
            },
        },
    )
    return str(reply["id"])


def test_create_answers_challenge(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    created = client.webhooks.create(
        {"trigger_types": ["message.created"], "webhook_url": receiver.url}
    )
    assert created.data.webhook_secret
    assert created.data.status == "active"


def test_create_fails_without_challenge(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    receiver.answer_challenge = False
    with pytest.raises(NylasApiError) as caught:
        client.webhooks.create(
            {"trigger_types": ["message.created"], "webhook_url": receiver.url}
        )
    assert caught.value.status_code == 400
    assert caught.value.type == "invalid_request_error"


def test_unknown_trigger_is_rejected(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    with pytest.raises(NylasApiError) as caught:
        client.webhooks.create(
            {"trigger_types": ["message.created.cleaned"], "webhook_url": receiver.url}
        )
    assert caught.value.status_code == 400


def test_destination_crud(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    created = client.webhooks.create(
        {"trigger_types": ["message.created"], "webhook_url": receiver.url}
    )
    webhook_id = created.data.id
    updated = client.webhooks.update(
        webhook_id, {"description": "crm", "trigger_types": ["grant.expired"]}
    )
    assert client.webhooks.find(webhook_id).data.description == "crm"
    assert [t.value for t in updated.data.trigger_types] == ["grant.expired"]
    assert [w.id for w in client.webhooks.list().data] == [webhook_id]
    assert client.webhooks.destroy(webhook_id).data.status == "success"
    assert client.webhooks.list().data == []


def test_rotate_secret_sdk_form(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    created = client.webhooks.create(
        {"trigger_types": ["message.created"], "webhook_url": receiver.url}
    )
    rotated = client.webhooks.rotate_secret(created.data.id)
    assert rotated.data.webhook_secret != created.data.webhook_secret


def test_rotate_secret_docs_form(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    created = client.webhooks.create(
        {"trigger_types": ["message.created"], "webhook_url": receiver.url}
    )
    response, _ = client.http_client._execute(
        "POST", f"/v3/webhooks/rotate-secret/{created.data.id}"
    )
    assert response["data"]["webhook_secret"] != created.data.webhook_secret


def test_ip_addresses_decode(client: nylas.Client) -> None:
    assert client.webhooks.ip_addresses().data.ip_addresses


def test_message_created_is_signed(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    secret = subscribe(client, receiver, ["message.created"])
    inject(two_mailboxes)
    flush(two_mailboxes)
    headers, body = receiver.posts[0]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-nylas-signature"] == expected


def test_envelope_has_cloudevents_fields(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.created"])
    message_id = inject(two_mailboxes)
    flush(two_mailboxes)
    event = receiver.events()[0]
    assert event["specversion"] == "1.0"
    assert event["type"] == "message.created"
    assert event["webhook_delivery_attempt"] == 1
    assert event["data"]["application_id"]
    assert event["data"]["object"]["id"] == message_id
    assert event["data"]["object"]["grant_id"] == ALEX_GRANT


def test_body_is_compact_utf8(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.created"])
    inject(two_mailboxes, subject="Grüße 日本")
    flush(two_mailboxes)
    raw = receiver.posts[0][1]
    assert "Grüße 日本".encode() in raw
    assert b'", "' not in raw


def test_only_subscribed_triggers_arrive(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["grant.expired"])
    inject(two_mailboxes)
    control(two_mailboxes, "POST", f"/_emulator/grants/{ALEX_GRANT}/expire")
    flush(two_mailboxes)
    assert [e["type"] for e in receiver.events()] == ["grant.expired"]


def test_paused_destination_gets_nothing(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.created"])
    webhook_id = client.webhooks.list().data[0].id
    client.webhooks.update(webhook_id, {"status": "pause"})
    inject(two_mailboxes)
    flush(two_mailboxes)
    assert receiver.posts == []


def test_failed_delivery_is_retried(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.created"])
    receiver.statuses = [500, 503]
    inject(two_mailboxes)
    flush(two_mailboxes)
    events = receiver.events()
    assert [e["webhook_delivery_attempt"] for e in events] == [1, 2, 3]
    assert len({e["id"] for e in events}) == 1


def test_retry_delay_grows(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.created"])
    receiver.statuses = [500, 500, 500]
    inject(two_mailboxes)
    flush(two_mailboxes)
    times = [
        d["at"]
        for d in control(two_mailboxes, "GET", "/_emulator/webhooks/deliveries")["data"]
    ]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[2] > gaps[0]


def test_large_message_is_truncated(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.created"])
    inject(two_mailboxes, body="<p>" + "a" * (1024 * 1024 + 1) + "</p>")
    flush(two_mailboxes)
    event = receiver.events()[0]
    assert event["type"] == "message.created.truncated"
    assert "body" not in event["data"]["object"]


def test_chaos_duplicates_deliveries(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.created"])
    control(
        two_mailboxes,
        "POST",
        "/_emulator/webhooks/chaos",
        {"duplicate_ratio": 1.0, "seed": 1},
    )
    inject(two_mailboxes)
    flush(two_mailboxes)
    ids = [e["id"] for e in receiver.events()]
    assert len(ids) == 2
    assert len(set(ids)) == 1


def test_chaos_shuffles_order(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.created"])
    control(two_mailboxes, "POST", "/_emulator/webhooks/pause")
    control(
        two_mailboxes, "POST", "/_emulator/webhooks/chaos", {"shuffle": True, "seed": 4}
    )
    sent = [inject(two_mailboxes, subject=f"n{i}") for i in range(12)]
    control(two_mailboxes, "POST", "/_emulator/webhooks/resume")
    flush(two_mailboxes)
    received = [e["data"]["object"]["id"] for e in receiver.events()]
    assert sorted(received) == sorted(sent)
    assert received != sent


def test_send_notifies_both_mailboxes(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.created"])
    client.messages.send(ALEX_GRANT, {"to": [{"email": PRIYA}], "body": "x"})
    flush(two_mailboxes)
    grants = sorted(e["data"]["object"]["grant_id"] for e in receiver.events())
    assert grants == sorted([ALEX_GRANT, "grant-priya-0002"])


def test_update_and_delete_notify(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.updated", "message.deleted"])
    message_id = inject(two_mailboxes)
    control(
        two_mailboxes,
        "POST",
        f"/_emulator/messages/{ALEX_GRANT}/{message_id}/update",
        {"unread": False},
    )
    client.messages.destroy(ALEX_GRANT, message_id)
    flush(two_mailboxes)
    assert [e["type"] for e in receiver.events()] == [
        "message.updated",
        "message.deleted",
    ]


def test_open_event_for_proxy(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["message.opened"])
    sent = client.messages.send(
        ALEX_GRANT,
        {
            "to": [{"email": PRIYA}],
            "body": "<p>x</p>",
            "tracking_options": {"opens": True, "label": "c-9"},
        },
    ).data
    control(
        two_mailboxes,
        "POST",
        "/_emulator/opens",
        {"grant_id": ALEX_GRANT, "message_id": sent.id, "kind": "proxy_google"},
    )
    flush(two_mailboxes)
    obj = receiver.events()[0]["data"]["object"]
    assert obj["label"] == "c-9"
    assert "GoogleImageProxy" in obj["recents"][0]["user_agent"]
    assert obj["recents"][0]["timestamp"] - sent.date <= 10


def test_reply_emits_thread_replied(
    two_mailboxes: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    subscribe(client, receiver, ["thread.replied", "message.created"])
    sent = client.messages.send(
        ALEX_GRANT,
        {
            "to": [{"email": "dana@example.org"}],
            "body": "x",
            "tracking_options": {"thread_replies": True},
        },
    ).data
    reply = control(
        two_mailboxes,
        "POST",
        "/_emulator/replies",
        {"grant_id": ALEX_GRANT, "message_id": sent.id, "from": "dana@example.org"},
    )
    flush(two_mailboxes)
    replied = next(e for e in receiver.events() if e["type"] == "thread.replied")
    assert replied["data"]["object"]["root_message_id"] == sent.id
    assert reply["thread_id"] == sent.thread_id


def test_grant_created_on_first_auth(
    emulator: EmulatorHandle, client: nylas.Client, receiver: Receiver
) -> None:
    from .test_auth_and_grants import auth_url, consent

    subscribe(client, receiver, ["grant.created"])
    consent(auth_url(client))
    flush(emulator)
    assert receiver.events()[0]["data"]["object"]["email"] == ALEX
