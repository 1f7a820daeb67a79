"""Sending through the SDK: delivery between mailboxes, threading, idempotency."""

from __future__ import annotations

import io
from typing import Any

import nylas
import pytest
from nylas.models.errors import NylasApiError

from nylas_emulator.server import EmulatorHandle

from .conftest import ALEX, ALEX_GRANT, PRIYA, PRIYA_GRANT, control


def send(client: nylas.Client, grant: str, **fields: object) -> Any:
    body = {
        "to": [{"email": PRIYA}],
        "subject": "Quote ü 日本語",
        "body": "<p>Hi</p>",
        **fields,
    }
    return client.messages.send(grant, body).data


def inbox(handle: EmulatorHandle, owner: str) -> list[dict[str, Any]]:
    mailbox = handle.store.find_mailbox(owner)
    assert mailbox is not None
    return [m for m in mailbox.messages.values() if "INBOX" in m["folders"]]


def test_send_returns_grant_and_id(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    sent = send(client, ALEX_GRANT)
    assert sent.grant_id == ALEX_GRANT
    assert sent.id


def test_send_lands_in_sent_folder(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    sent = send(client, ALEX_GRANT)
    stored = client.messages.find(ALEX_GRANT, sent.id).data
    assert stored.folders == ["SENT"]


def test_recipient_mailbox_gets_copy(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    send(client, ALEX_GRANT)
    copies = client.messages.list(PRIYA_GRANT, {"in": "INBOX"}).data
    assert [m.subject for m in copies] == ["Quote ü 日本語"]


def test_reply_stays_on_thread_both_sides(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    send(client, ALEX_GRANT)
    received = client.messages.list(PRIYA_GRANT).data[0]
    reply = client.messages.send(
        PRIYA_GRANT,
        {
            "to": [{"email": ALEX}],
            "subject": "Re: Quote",
            "body": "ok",
            "reply_to_message_id": received.id,
        },
    ).data
    alex_copy = client.messages.list(
        ALEX_GRANT, {"in": "INBOX", "subject": "Re: Quote"}
    ).data[0]
    alex_original = client.messages.list(
        ALEX_GRANT, {"in": "SENT", "subject": "Quote ü"}
    ).data[0]
    assert reply.thread_id == received.thread_id
    assert alex_copy.thread_id == alex_original.thread_id


def test_reply_sets_threading_headers(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    original = send(client, ALEX_GRANT)
    parent = client.messages.find(
        ALEX_GRANT, original.id, {"fields": "include_headers"}
    ).data
    parent_id = next(h.value for h in parent.headers if h.name == "Message-ID")
    reply = client.messages.send(
        ALEX_GRANT,
        {"to": [{"email": PRIYA}], "body": "more", "reply_to_message_id": parent.id},
    ).data
    headers = {
        h.name: h.value
        for h in client.messages.find(
            ALEX_GRANT, reply.id, {"fields": "include_headers"}
        ).data.headers
    }
    assert headers["In-Reply-To"] == parent_id
    assert headers["References"].split()[-1] == parent_id


def test_bcc_hidden_from_to_recipient(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    control(
        two_mailboxes,
        "POST",
        "/_emulator/mailboxes",
        {"owner": "boss@acme.example.com"},
    )
    send(client, ALEX_GRANT, bcc=[{"email": "boss@acme.example.com"}])
    assert inbox(two_mailboxes, PRIYA)[0]["bcc"] == []


def test_bcc_recipient_sees_only_self(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    control(
        two_mailboxes,
        "POST",
        "/_emulator/mailboxes",
        {"owner": "boss@acme.example.com"},
    )
    control(
        two_mailboxes, "POST", "/_emulator/mailboxes", {"owner": "cfo@acme.example.com"}
    )
    send(
        client,
        ALEX_GRANT,
        bcc=[{"email": "boss@acme.example.com"}, {"email": "cfo@acme.example.com"}],
    )
    copy = inbox(two_mailboxes, "boss@acme.example.com")[0]
    assert copy["bcc"] == [{"email": "boss@acme.example.com"}]


def test_sender_copy_keeps_bcc(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    sent = send(client, ALEX_GRANT, bcc=[{"email": "boss@acme.example.com"}])
    assert sent.bcc == [{"email": "boss@acme.example.com"}]


def test_same_idempotency_key_returns_cached(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    body = {"to": [{"email": PRIYA}], "subject": "once", "body": "x"}
    overrides = {"headers": {"Idempotency-Key": "k-1"}}
    first = client.messages.send(ALEX_GRANT, dict(body), overrides=overrides)
    second = client.messages.send(ALEX_GRANT, dict(body), overrides=overrides)
    assert second.data.id == first.data.id
    assert second.headers["Idempotent-Response"] == "true"
    assert len(inbox(two_mailboxes, PRIYA)) == 1


def test_reused_key_with_new_body_conflicts(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    overrides = {"headers": {"Idempotency-Key": "k-2"}}
    client.messages.send(
        ALEX_GRANT, {"to": [{"email": PRIYA}], "body": "a"}, overrides=overrides
    )
    with pytest.raises(NylasApiError) as caught:
        client.messages.send(
            ALEX_GRANT, {"to": [{"email": PRIYA}], "body": "b"}, overrides=overrides
        )
    assert caught.value.status_code == 409
    assert caught.value.type == "api.invalid_idempotent_request"


def test_open_tracking_injects_pixel(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    sent = send(client, ALEX_GRANT, tracking_options={"opens": True, "label": "crm-42"})
    stored = client.messages.find(ALEX_GRANT, sent.id).data
    assert "tracking.us.nylas.com/open/" in stored.body
    assert "tracking.us.nylas.com/open/" in str(inbox(two_mailboxes, PRIYA)[0]["body"])
    assert "tracking.us.nylas.com" not in sent.body


def test_sent_log_keeps_request(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    send(
        client,
        ALEX_GRANT,
        tracking_options={"opens": True},
        custom_headers=[{"name": "X-CRM", "value": "7"}],
    )
    entry = control(two_mailboxes, "GET", "/_emulator/sent")["data"][0]
    assert entry["request_body"]["custom_headers"] == [{"name": "X-CRM", "value": "7"}]
    assert entry["tracking_options"] == {"opens": True}


def test_json_attachment_is_downloadable(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    sent = send(
        client,
        ALEX_GRANT,
        attachments=[
            {
                "filename": "a.txt",
                "content_type": "text/plain",
                "content": io.BytesIO(b"hello"),
                "size": 5,
            }
        ],
    )
    attachment = sent.attachments[0]
    content = client.attachments.download_bytes(
        ALEX_GRANT, attachment.id, {"message_id": sent.id}
    )
    assert content == b"hello"


def test_multipart_send_keeps_attachment(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    big = b"x" * (3 * 1024 * 1024 + 10)
    sent = send(
        client,
        ALEX_GRANT,
        attachments=[
            {
                "filename": "big.bin",
                "content_type": "application/octet-stream",
                "content": io.BytesIO(big),
                "size": len(big),
            }
        ],
    )
    assert sent.attachments[0].size == len(big)
    assert sent.subject == "Quote ü 日本語"


def test_send_without_to_is_rejected(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    with pytest.raises(NylasApiError) as caught:
        client.messages.send(ALEX_GRANT, {"subject": "no recipients", "body": "x"})
    assert caught.value.status_code == 400


def test_include_headers_on_send(
    two_mailboxes: EmulatorHandle, client: nylas.Client
) -> None:
    response = client.http_client._execute(
        "POST",
        f"/v3/grants/{ALEX_GRANT}/messages/send",
        query_params={"fields": "include_headers"},
        request_body={"to": [{"email": PRIYA}], "body": "x"},
    )
    names = {h["name"] for h in response[0]["data"]["headers"]}
    assert "Message-ID" in names
