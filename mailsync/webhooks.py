"""Verify and parse Nylas webhook notifications.

Guarantees: a notification is accepted only with a valid HMAC-SHA256 of the
exact request bytes; the parsed notification keeps ids, the trigger type and
times only, so the body and snippet that message.* payloads carry are
dropped here, before anything is recorded or queued.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import time
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from mailsync.models import WebhookSecret

SECRET_GRACE = timedelta(hours=2)
SECRET_CACHE_SECONDS = 30.0
MAX_DECOMPRESSED_BYTES = 8 * 1024 * 1024

_secret_cache: dict[str, Any] = {"expires": 0.0, "secrets": ()}


class InvalidNotification(ValueError):
    """A signed notification whose body is not a notification we can read."""


@dataclass(frozen=True)
class NylasNotification:
    id: str
    type: str
    grant_id: str
    object_id: str
    time: int | None
    attempt: int
    tracking_events: tuple[dict[str, Any], ...] = ()
    tracking_label: str = ""

    @property
    def base_type(self) -> str:
        """The trigger without delivery suffixes: message.created.truncated
        and message.created.metadata are both message.created."""
        parts = self.type.split(".")
        return ".".join(parts[:2]) if len(parts) > 2 else self.type


def signing_secrets() -> tuple[str, ...]:
    """Return the secrets a signature may be made with: the configured one,
    the current stored one, and ones retired within the grace period."""
    now = time.monotonic()
    if _secret_cache["expires"] > now:
        return tuple(_secret_cache["secrets"])
    cutoff = timezone.now() - SECRET_GRACE
    stored = WebhookSecret.objects.filter(retired_at__isnull=True) | (
        WebhookSecret.objects.filter(retired_at__gte=cutoff)
    )
    found = [settings.NYLAS_WEBHOOK_SECRET] if settings.NYLAS_WEBHOOK_SECRET else []
    found += list(stored.values_list("secret", flat=True))
    _secret_cache.update(expires=now + SECRET_CACHE_SECONDS, secrets=tuple(found))
    return tuple(found)


def forget_cached_secrets() -> None:
    _secret_cache.update(expires=0.0, secrets=())


def signature_is_valid(
    raw_body: bytes, signature: str, secrets: tuple[str, ...]
) -> bool:
    """Compare the lower-case hex HMAC-SHA256 of the raw bytes, in constant time."""
    given = signature.strip().lower().encode("ascii", "replace")
    if len(given) != 64:
        return False
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
        matched |= hmac.compare_digest(expected.encode(), given)
    return matched


def decode_body(raw_body: bytes, content_encoding: str) -> bytes:
    """Undo gzip delivery compression (the signature covers the compressed bytes)."""
    if content_encoding.strip().lower() != "gzip":
        return raw_body
    try:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        body = decompressor.decompress(raw_body, MAX_DECOMPRESSED_BYTES)
    except (zlib.error, gzip.BadGzipFile) as error:
        raise InvalidNotification("The gzip body could not be decompressed.") from error
    if decompressor.unconsumed_tail:
        raise InvalidNotification("The decompressed body is larger than 8 MB.")
    return body


def parse_notification(body: bytes) -> NylasNotification:
    """Read the CloudEvents envelope; raises InvalidNotification."""
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidNotification("The body is not JSON.") from error
    if not isinstance(envelope, dict):
        raise InvalidNotification("The body is not a JSON object.")

    notification_id = envelope.get("id")
    trigger_type = envelope.get("type")
    data = envelope.get("data")
    if not isinstance(notification_id, str) or not notification_id.strip():
        raise InvalidNotification("The notification has no id.")
    if not isinstance(trigger_type, str) or not trigger_type.strip():
        raise InvalidNotification("The notification has no type.")
    if not isinstance(data, dict):
        raise InvalidNotification("The notification has no data object.")

    raw_object = data.get("object")
    payload: dict[str, Any] = raw_object if isinstance(raw_object, dict) else {}
    return NylasNotification(
        id=notification_id[:200],
        type=trigger_type[:100],
        grant_id=str(payload.get("grant_id") or data.get("grant_id") or "")[:200],
        object_id=_object_id(trigger_type, payload)[:1000],
        time=_int_or_none(envelope.get("time")),
        attempt=_int_or_none(envelope.get("webhook_delivery_attempt")) or 1,
        tracking_events=_tracking_events(trigger_type, payload),
        tracking_label=_tracking_label(trigger_type, payload),
    )


def _tracking_label(trigger_type: str, payload: dict[str, Any]) -> str:
    """Return the label set at send time, for tracking triggers only."""
    if not trigger_type.startswith(("message.opened", "thread.replied")):
        return ""
    label = payload.get("label")
    return label[:200] if isinstance(label, str) else ""


def _tracking_events(
    trigger_type: str, payload: dict[str, Any]
) -> tuple[dict[str, Any], ...]:
    """Reduce message.opened `recents` to what read receipts need: the time,
    whether a privacy proxy fetched the pixel, and a keyed hash of the
    client so that a teammate's own views can be recognised."""
    if not trigger_type.startswith("message.opened"):
        return ()
    recents = payload.get("recents")
    events = []
    for entry in recents if isinstance(recents, list) else []:
        if not isinstance(entry, dict) or _int_or_none(entry.get("timestamp")) is None:
            continue
        ip = str(entry.get("ip") or "")
        user_agent = str(entry.get("user_agent") or "")
        events.append(
            {
                "opened_id": str(entry.get("opened_id", "")),
                "at": _int_or_none(entry.get("timestamp")),
                "proxy": is_privacy_proxy(ip, user_agent),
                "client": client_fingerprint(ip, user_agent),
            }
        )
    return tuple(events[:100])


def is_privacy_proxy(ip: str, user_agent: str) -> bool:
    """Return whether an image fetch came from a mail privacy proxy rather
    than a person: Google's image proxy and Yahoo's name themselves in the user
    agent; Apple Mail Privacy Protection fetches from Apple's 17.0.0.0/8."""
    agent = user_agent.lower()
    if "googleimageproxy" in agent or "yahoomailproxy" in agent:
        return True
    return ip.startswith("17.")


def client_fingerprint(ip: str, user_agent: str) -> str:
    """Return a keyed hash of the client, so that the raw IP is not stored."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{ip}|{user_agent}".encode(), hashlib.sha256).hexdigest()[:32]


def _object_id(trigger_type: str, payload: dict[str, Any]) -> str:
    if trigger_type.startswith(("message.opened", "message.link_clicked")):
        return str(payload.get("message_id") or "")
    if trigger_type.startswith("thread.replied"):
        return str(payload.get("root_message_id") or payload.get("message_id") or "")
    if trigger_type.startswith("grant."):
        return str(payload.get("grant_id") or "")
    return str(payload.get("id") or "")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        # OverflowError: JSON numbers such as 1e999 parse as infinity.
        return None
