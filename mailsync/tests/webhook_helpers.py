"""Sign and post webhook notifications the way Nylas does."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.test import Client, TestCase
from django.test.client import Client as DjangoClient
from django.urls import reverse

SECRET = "test-webhook-secret"


def sign(raw: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def post_raw(
    client: DjangoClient, raw: bytes, signature: str | None, **headers: str
) -> Any:
    extra: dict[str, Any] = {"headers": {**headers}}
    if signature is not None:
        extra["headers"]["X-Nylas-Signature"] = signature
    # Run the task queued on commit, as a worker would, inside the test's
    # transaction.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("mailsync:webhook"), raw, content_type="application/json", **extra
        )


def post_signed(client: Client, envelope: dict[str, Any], secret: str = SECRET) -> Any:
    raw = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    return post_raw(client, raw, sign(raw, secret))


def envelope(
    notification_id: str, trigger: str, payload: dict[str, Any], attempt: int = 1
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": trigger,
        "source": "/google/emails/realtime",
        "id": notification_id,
        "time": 1764590001,
        "webhook_delivery_attempt": attempt,
        "data": {"application_id": "app-1", "object": payload},
    }
