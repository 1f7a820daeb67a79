"""No body or snippet at rest: a canary planted in every body and snippet
of a mailbox must appear nowhere after a backfill through a real Celery
worker, a webhook delivery and opening messages: not in the database, the
broker or the logs."""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

import pytest
import redis
from celery.signals import before_task_publish

from conftest import EmulatorControl
from contacts.models import Contact, Organisation
from convex_email.celery import app as celery_app
from mailsync import backfill, tasks, webhooks
from mailsync.models import Backfill, BackfillStatus, EmailAccount, MessageHeader

pytestmark = pytest.mark.django_db(transaction=True)

CANARY = "CANARY-7d1e-BODY-NEVER-AT-REST"
OWNER = "alice@acme.example.com"
GRANT = "grant-canary"


def plant_canary(emulator: EmulatorControl) -> int:
    store = emulator.handle.store
    with store.lock:
        messages = list(store.mailbox(OWNER).messages.values())
        for message in messages:
            message["body"] = f"<p>{CANARY} {message.get('body') or ''}</p>"
            message["snippet"] = f"{CANARY} {message.get('snippet') or ''}"
    return len(messages)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def database_text() -> str:
    """Every row of every table, as text."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.append(repr(cursor.fetchall()))
    return "\n".join(chunks)


def broker_text() -> str:
    """Every key and value in the Celery broker's Redis database."""
    client = redis.Redis.from_url(celery_app.conf.broker_url, decode_responses=True)
    readers: dict[str, Callable[[str], Any]] = {
        "string": client.get,
        "list": lambda key: client.lrange(key, 0, -1),
        "hash": client.hgetall,
        "set": client.smembers,
        "zset": lambda key: client.zrange(key, 0, -1),
    }
    chunks = []
    for key in client.scan_iter():
        kind = str(client.type(key))
        read = readers.get(kind)
        value = read(key) if read else kind
        chunks.append(repr((key, value)))
        chunks.extend(decoded_envelopes(repr(value)))
    return "\n".join(chunks)


def decoded_envelopes(text: str) -> list[str]:
    """Kombu stores task messages as JSON with a base64 body: decode every
    base64 run long enough to be one, so the canary cannot hide in it."""
    found = []
    for run in re.findall(r"[A-Za-z0-9+/=]{40,}", text):
        try:
            found.append(
                base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace")
            )
        except (binascii.Error, ValueError):
            continue
    return found


@pytest.fixture
def published() -> Iterator[list[str]]:
    """Every task message this process publishes, as text."""
    sent: list[str] = []

    def record(body: Any = None, headers: Any = None, **_: Any) -> None:
        sent.append(repr((body, headers)))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


def test_canary_is_nowhere_at_rest(
    live_server: Any,
    emulator: EmulatorControl,
    celery_worker_process: Path,
    make_user: Callable[..., User],
    make_account: Callable[..., EmailAccount],
    make_contact: Callable[..., Contact],
    org_a: Organisation,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    published: list[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    settings.SITE_URL = live_server.url
    settings.NYLAS_WEBHOOK_SECRET = ""
    webhooks.forget_cached_secrets()
    emulator.add_generated_mailbox(OWNER, count=150, days=30, grant_id=GRANT)
    people = emulator.get("/_emulator/mailboxes/x/correspondents")["data"]
    for person in people:
        make_contact(org_a, person["name"], person["email"])
    alice = make_user("alice", organisations=(org_a,), email=OWNER)
    account = make_account(alice, email=OWNER, grant_id=GRANT)
    planted = plant_canary(emulator)
    call_command("register_webhook", stdout=StringIO())

    backfill.start_backfill(account)
    tasks.backfill_account.delay(account.pk)
    wait_for(
        lambda: Backfill.objects.get(account=account).status == BackfillStatus.FINISHED,
        60,
        "the backfill",
    )
    injected = emulator.inject(
        OWNER,
        **{
            "from": [{"name": people[0]["name"], "email": people[0]["email"]}],
            "to": [{"email": OWNER}],
            "subject": "Arrives by webhook",
            "body": f"<p>{CANARY} webhook body</p>",
        },
    )
    wait_for(
        lambda: MessageHeader.objects.filter(nylas_message_id=injected).exists(),
        60,
        "storing the webhook's message",
    )
    viewer = Client()
    viewer.force_login(alice)
    opened = [
        viewer.get(reverse("mailsync:message-body", args=[org_a.slug, header.pk]))
        for header in MessageHeader.objects.all()[:5]
    ]

    assert planted == 150
    assert all(CANARY in response.content.decode() for response in opened)
    assert MessageHeader.objects.count() > 100
    assert CANARY not in database_text()
    assert CANARY not in broker_text()
    assert len(published) >= 2
    assert CANARY not in "\n".join(published)
    assert CANARY not in celery_worker_process.read_text(errors="replace")
    assert CANARY not in caplog.text
