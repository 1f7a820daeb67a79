"""The webhook endpoint: signatures, recording once, and bad input."""

from __future__ import annotations

import base64
import gzip
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from conftest import EmulatorControl, put_emulator_message
from contacts.models import Contact, Organisation
from mailsync import webhooks
from mailsync.models import AccountStatus, EmailAccount, MessageHeader, WebhookDelivery
from mailsync.tests.webhook_helpers import SECRET, envelope, post_raw, post_signed, sign

pytestmark = pytest.mark.django_db

OWNER = "alex.morgan@acme.example.com"
GRANT = "grant-alex-0001"


@pytest.fixture(autouse=True)
def webhook_secret(settings: Any) -> None:
    settings.NYLAS_WEBHOOK_SECRET = SECRET
    webhooks.forget_cached_secrets()


@pytest.fixture
def alex_account(
    make_user: Callable[..., User],
    make_account: Callable[..., EmailAccount],
    org_a: Organisation,
) -> EmailAccount:
    alex = make_user("alex", organisations=(org_a,), email=OWNER)
    return make_account(alex, email=OWNER, grant_id=GRANT)


@pytest.fixture
def dana(make_contact: Callable[..., Contact], org_a: Organisation) -> Contact:
    return make_contact(org_a, "Dana Whitfield", "dana.whitfield@example.org")


def test_challenge_is_echoed_as_raw_body(client: Client) -> None:
    response = client.get(reverse("mailsync:webhook"), {"challenge": "abc-123_XYZ"})

    assert response.status_code == 200
    assert response.content == b"abc-123_XYZ"


def test_challenge_missing_is_400(client: Client) -> None:
    assert client.get(reverse("mailsync:webhook")).status_code == 400


def test_missing_signature_is_rejected_and_stores_nothing(client: Client) -> None:
    raw = json.dumps(envelope("n-1", "message.created", {"id": "m"})).encode()

    response = post_raw(client, raw, None)

    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0


def test_signature_with_other_secret_is_rejected(client: Client) -> None:
    response = post_signed(client, envelope("n-1", "grant.expired", {}), "other")

    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0


def test_raw_body_signature_holds_case_20(
    client: Client, shared_dir: Path, settings: Any
) -> None:
    case = json.loads(
        (shared_dir / "cases/20-webhook-signature-raw-body.json").read_text()
    )
    raw = (shared_dir / "cases/20-webhook-signature-raw-body.txt").read_bytes()
    settings.NYLAS_WEBHOOK_SECRET = case["webhook_secret"]
    webhooks.forget_cached_secrets()
    header = case["request"]["headers"]["X-Nylas-Signature"]

    accepted = post_raw(client, raw, header)
    tampered = post_raw(client, raw.replace(b"Q1", b"Q2"), header)
    unsigned = post_raw(client, raw, None)

    assert raw == base64.b64decode(case["request"]["raw_body_base64"])
    assert accepted.status_code == 200
    assert tampered.status_code == 401
    assert unsigned.status_code == 401
    assert WebhookDelivery.objects.count() == 1


def test_redelivery_is_answered_200_and_recorded_once(client: Client) -> None:
    notice = envelope("n-1", "grant.expired", {"grant_id": "unknown"})

    first = post_signed(client, notice)
    second = post_signed(client, {**notice, "webhook_delivery_attempt": 2})

    assert first.status_code == 200
    assert second.status_code == 200
    assert WebhookDelivery.objects.count() == 1


def test_unknown_type_is_acknowledged_and_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = post_signed(client, envelope("n-9", "notetaker.created", {}))

    assert response.status_code == 200
    assert "notetaker.created" in caplog.text
    assert WebhookDelivery.objects.get().processed_at is not None


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b'{"type":"message.created"}', b'{"id":"x","type":1}',
     b'{"id":"x","type":"message.created","data":"nope"}', b"\xff\xfe"],
)  # fmt: skip
def test_signed_malformed_body_is_400(client: Client, raw: bytes) -> None:
    response = post_raw(client, raw, sign(raw))

    assert response.status_code == 400
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id":"u5","type":"message.created","time":1e999,"data":{}}',
        b'{"id":"u4","type":"message.opened","data":{"object":{"message_id":"m",'
        b'"grant_id":"g","recents":[{"timestamp":1e400}]}}}',
    ],
)
def test_infinite_numbers_are_not_a_500(client: Client, raw: bytes) -> None:
    response = post_raw(client, raw, sign(raw))

    assert response.status_code == 200
    assert WebhookDelivery.objects.count() == 1


def test_gzip_delivery_is_verified_on_compressed_bytes(client: Client) -> None:
    plain = json.dumps(envelope("n-gz", "grant.updated", {"grant_id": "g"})).encode()
    compressed = gzip.compress(plain)

    response = post_raw(
        client, compressed, sign(compressed), **{"Content-Encoding": "gzip"}
    )

    assert response.status_code == 200
    assert WebhookDelivery.objects.filter(nylas_notification_id="n-gz").exists()


def test_previous_secret_works_during_grace_period(
    client: Client, settings: Any
) -> None:
    settings.NYLAS_WEBHOOK_SECRET = ""
    from django.utils import timezone

    from mailsync.models import WebhookSecret

    WebhookSecret.objects.create(
        nylas_webhook_id="wh", secret="old", retired_at=timezone.now()
    )
    WebhookSecret.objects.create(nylas_webhook_id="wh", secret="new")
    webhooks.forget_cached_secrets()

    old = post_signed(client, envelope("n-old", "grant.updated", {}), "old")
    new = post_signed(client, envelope("n-new", "grant.updated", {}), "new")

    assert old.status_code == 200
    assert new.status_code == 200


def test_record_holds_no_body_or_snippet(
    client: Client, alex_account: EmailAccount, dana: Contact, emulator: EmulatorControl
) -> None:
    canary = "CANARY-WEBHOOK-41"
    payload = {"id": "m-1", "grant_id": GRANT, "body": canary, "snippet": canary}

    post_signed(client, envelope("n-c", "message.created", payload))

    assert canary not in repr(list(WebhookDelivery.objects.values()))
    assert canary not in repr(list(MessageHeader.objects.values()))


def test_duplicate_deliveries_store_one_header_case_17(
    client: Client,
    alex_account: EmailAccount,
    dana: Contact,
    emulator: EmulatorControl,
    shared_dir: Path,
) -> None:
    case = json.loads(
        (shared_dir / "cases/17-webhook-duplicate-delivery.json").read_text()
    )
    deliveries = case["deliveries_in_arrival_order"]
    message = deliveries[0]["body"]["data"]["object"]
    emulator.add_grant(OWNER, GRANT)
    put_emulator_message(emulator, OWNER, message)

    answers = [post_signed(client, delivery["body"]) for delivery in deliveries]

    assert [answer.status_code for answer in answers] == [200] * len(deliveries)
    assert MessageHeader.objects.filter(nylas_message_id="msg-1701").count() == 1
    assert MessageHeader.objects.get().contacts.get() == dana


def test_truncated_notifications_are_stored_case_19(
    client: Client,
    alex_account: EmailAccount,
    dana: Contact,
    emulator: EmulatorControl,
    shared_dir: Path,
) -> None:
    case = json.loads(
        (shared_dir / "cases/19-webhook-truncated-empty-body.json").read_text()
    )
    message = dict(case["delivery"]["data"]["object"])
    message["body"] = case["nylas_GET_message_response_body_field"]
    emulator.add_grant(OWNER, GRANT)
    put_emulator_message(emulator, OWNER, message)

    first = post_signed(client, case["delivery"])
    later = post_signed(client, case["later_delivery"])

    header = MessageHeader.objects.get(nylas_message_id="msg-1901")
    assert first.status_code == 200
    assert later.status_code == 200
    assert header.contacts.get() == dana
    assert header.nylas_thread_id == "thr-1901"


def test_deleted_message_stays_deleted_when_created_arrives_late(
    client: Client, alex_account: EmailAccount, dana: Contact, emulator: EmulatorControl
) -> None:
    message = {
        "id": "m-late",
        "grant_id": GRANT,
        "thread_id": "t",
        "subject": "Hello",
        "from": [{"email": "dana.whitfield@example.org"}],
        "to": [{"email": OWNER}],
        "date": 1764590000,
    }
    emulator.add_grant(OWNER, GRANT)
    put_emulator_message(emulator, OWNER, message)

    post_signed(
        client,
        envelope("n-del", "message.deleted", {"id": "m-late", "grant_id": GRANT}),
    )
    post_signed(client, envelope("n-cre", "message.created", message))

    assert not MessageHeader.objects.filter(nylas_message_id="m-late").exists()


def test_grant_expired_asks_for_reconnect(
    client: Client, alex_account: EmailAccount
) -> None:
    post_signed(
        client, envelope("n-e", "grant.expired", {"grant_id": GRANT, "code": 25009})
    )

    alex_account.refresh_from_db()
    assert alex_account.status == AccountStatus.RECONNECT_REQUIRED


def test_grant_updated_clears_reconnect(
    client: Client, alex_account: EmailAccount, emulator: EmulatorControl
) -> None:
    emulator.add_grant(OWNER, GRANT)
    EmailAccount.objects.filter(pk=alex_account.pk).update(
        status=AccountStatus.RECONNECT_REQUIRED
    )

    post_signed(
        client, envelope("n-u", "grant.updated", {"grant_id": GRANT, "code": 25014})
    )

    alex_account.refresh_from_db()
    assert alex_account.status == AccountStatus.ACTIVE


def test_reconnect_banner_shows_on_every_page(
    client: Client, alex_account: EmailAccount, org_a: Organisation
) -> None:
    post_signed(client, envelope("n-e", "grant.expired", {"grant_id": GRANT}))
    client.force_login(alex_account.user)

    page = client.get(reverse("contacts:list", args=[org_a.slug])).content.decode()

    assert "needs to be reconnected" in page


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.binary(max_size=2000),
    signature=st.one_of(
        st.none(), st.text(max_size=80), st.from_regex(r"[0-9a-f]{64}")
    ),
    encoding=st.sampled_from(["", "gzip", "br", "identity"]),
)
def test_random_requests_never_500_and_store_nothing(
    client: Client, body: bytes, signature: str | None, encoding: str
) -> None:
    headers = {"Content-Encoding": encoding} if encoding else {}

    try:
        response = post_raw(client, body, signature, **headers)
    except UnicodeEncodeError:
        return  # the test client cannot put such a header on the wire

    assert response.status_code < 500
    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    payload=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=5)
        ),
        max_leaves=20,
    )
)
def test_random_signed_json_never_500(client: Client, payload: Any) -> None:
    raw = json.dumps(payload).encode()

    response = post_raw(client, raw, sign(raw))

    assert response.status_code in (200, 400)
