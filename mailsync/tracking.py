"""Read receipts (message.opened) and replies (thread.replied) on sent mail.

Each open in a notification is counted once, by its Nylas `opened_id`, and
sorted into one of three kinds:
- internal: the client matches one of our users viewing the message in the
  product within five minutes, so it is not the recipient;
- automatic: a privacy proxy fetched the pixel, or it was fetched within a
  minute of sending, which no person reads that fast;
- read: everything else, shown as "opened" with first and last times.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction

from contacts.access import AuthenticatedHttpRequest
from mailsync.models import MessageHeader, OwnMessageView, WebhookDelivery
from mailsync.webhooks import client_fingerprint

logger = logging.getLogger(__name__)

INTERNAL_VIEW_WINDOW = timedelta(minutes=5)
AUTOMATIC_OPEN_WINDOW = timedelta(minutes=1)


def apply(delivery: WebhookDelivery) -> None:
    """Apply one tracking notification to the sent message it names."""
    if delivery.trigger_type.startswith("message.opened"):
        record_opens(delivery)
    elif delivery.trigger_type.startswith("thread.replied"):
        record_reply(delivery)


def _tracked_headers(delivery: WebhookDelivery) -> Any:
    """Find the sent message a tracking notification names: by the label we set
    when sending (which survives a provider changing the message's id, as
    Microsoft does when mail moves between folders), else by its id."""
    by_id = MessageHeader.objects.filter(
        nylas_grant_id=delivery.nylas_grant_id,
        nylas_message_id=delivery.object_id,
    )
    if not delivery.tracking_label:
        return by_id
    by_label = MessageHeader.objects.filter(tracking_label=delivery.tracking_label)
    return by_label if by_label.exists() else by_id


def record_opens(delivery: WebhookDelivery) -> None:
    """Count the notification's opens not counted before, under a row lock so
    that two deliveries of overlapping `recents` cannot count one open twice."""
    with transaction.atomic():
        header = _tracked_headers(delivery).select_for_update().first()
        if header is None:
            logger.info(
                "Open notification %s names no stored message",
                delivery.nylas_notification_id,
            )
            return
        counted = set(header.counted_open_ids)
        for event in delivery.tracking_events:
            opened_id = str(event.get("opened_id", ""))
            if opened_id in counted or event.get("at") is None:
                continue
            counted.add(opened_id)
            _count_open(header, event)
        header.counted_open_ids = sorted(counted)
        header.save(update_fields=[*OPEN_FIELDS, "updated_at"])


OPEN_FIELDS = (
    "counted_open_ids",
    "open_count",
    "first_opened_at",
    "last_opened_at",
    "automatic_open_count",
    "internal_open_count",
)


def _count_open(header: MessageHeader, event: dict[str, Any]) -> None:
    at = datetime.fromtimestamp(int(event["at"]), tz=UTC)
    if _is_internal_view(header, str(event.get("client", "")), at):
        header.internal_open_count += 1
        return
    if event.get("proxy") or at - header.sent_at < AUTOMATIC_OPEN_WINDOW:
        header.automatic_open_count += 1
        return

    header.open_count += 1
    if header.first_opened_at is None or at < header.first_opened_at:
        header.first_opened_at = at
    if header.last_opened_at is None or at > header.last_opened_at:
        header.last_opened_at = at


def _is_internal_view(header: MessageHeader, client: str, at: datetime) -> bool:
    """Return whether one of our users viewed this message, in any teammate's
    copy, from the same client within INTERNAL_VIEW_WINDOW of the open."""
    if not client:
        return False
    views = OwnMessageView.objects.filter(
        client=client,
        viewed_at__gte=at - INTERNAL_VIEW_WINDOW,
        viewed_at__lte=at + INTERNAL_VIEW_WINDOW,
    )
    if header.internet_message_id:
        views = views.filter(
            header__internet_message_id=header.internet_message_id
        ) | views.filter(header=header)
    else:
        views = views.filter(header=header)
    return views.exists()


def record_reply(delivery: WebhookDelivery) -> None:
    """Mark the tracked message replied, at the earliest reply reported."""
    when = (
        datetime.fromtimestamp(delivery.event_time, tz=UTC)
        if delivery.event_time
        else delivery.received_at
    )
    for header in _tracked_headers(delivery):
        if header.replied_at is None or when < header.replied_at:
            header.replied_at = when
            header.save(update_fields=["replied_at", "updated_at"])


def record_own_view(request: AuthenticatedHttpRequest, header: MessageHeader) -> None:
    """Record that a product user opened this message's body, with a keyed
    hash of the client (IP and user agent) and never the body."""
    # NOTE: behind a reverse proxy REMOTE_ADDR is the proxy's address, and
    # then no open matches; the deployment must pass the client address.
    ip = str(request.META.get("REMOTE_ADDR", ""))
    user_agent = str(request.META.get("HTTP_USER_AGENT", ""))
    OwnMessageView.objects.create(
        user_id=request.user.pk,
        header=header,
        client=client_fingerprint(ip, user_agent),
    )
