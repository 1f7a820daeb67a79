"""Connected mailboxes, backfill progress and stored message headers.

No model here has a field that can hold a message body, a snippet or an
attachment: bodies are fetched from Nylas when someone opens a message and
are never written anywhere.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from contacts.addresses import base_address, normalise_email_or_none
from contacts.models import Contact, Organisation


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Connected"
    RECONNECT_REQUIRED = "reconnect_required", "Reconnect needed"


class EmailAccount(models.Model):
    """A user's connected mailbox, reached through a Nylas grant.

    One per user, valid in every organisation the user belongs to. We keep
    the grant id only: never a password or the provider's tokens.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_account"
    )
    nylas_grant_id = models.CharField(max_length=200, unique=True)
    email = models.CharField(max_length=320, unique=True)
    provider = models.CharField(max_length=40)
    aliases = models.JSONField(
        default=list,
        blank=True,
        help_text="Other addresses that deliver to this mailbox; mail to them is "
        "the owner's own.",
    )
    status = models.CharField(
        max_length=30, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    status_reason = models.CharField(max_length=200, blank=True)
    connected_at = models.DateTimeField(default=timezone.now)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    signature_html = models.TextField(blank=True)
    signature_in_new = models.BooleanField("Include in new emails", default=False)
    signature_in_replies = models.BooleanField("Include in replies", default=False)

    def __str__(self) -> str:
        return f"{self.email} ({self.provider})"

    def own_addresses(self) -> frozenset[str]:
        """Return the owner's addresses in comparison form, without `+tag`s."""
        found = set()
        for raw in [self.email, *self.aliases]:
            normalised = normalise_email_or_none(str(raw))
            if normalised:
                found.add(base_address(normalised))
        return frozenset(found)

    @property
    def needs_reconnect(self) -> bool:
        return self.status == AccountStatus.RECONNECT_REQUIRED


class BackfillStatus(models.TextChoices):
    PENDING = "pending", "Waiting to start"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    STOPPED = "stopped", "Stopped: reconnect needed"
    FAILED = "failed", "Failed"


class Backfill(models.Model):
    """Resumable progress of one account's history import.

    The window is fixed when the backfill starts, so that pages stay stable
    while new mail arrives; webhooks and the sweep cover mail after
    `window_end`. `page_cursor` is the Nylas cursor of the next page to
    fetch, saved in the same transaction as the headers of the page before.
    """

    account = models.OneToOneField(
        EmailAccount, on_delete=models.CASCADE, related_name="backfill"
    )
    status = models.CharField(
        max_length=20, choices=BackfillStatus.choices, default=BackfillStatus.PENDING
    )
    window_days = models.PositiveIntegerField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    page_cursor = models.TextField(blank=True)
    pages_done = models.PositiveIntegerField(default=0)
    messages_scanned = models.PositiveIntegerField(default=0)
    messages_kept = models.PositiveIntegerField(default=0)
    skipped_by_reason = models.JSONField(default=dict, blank=True)
    oldest_seen_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    lease_token = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Backfill of {self.account} ({self.status})"

    @property
    def messages_skipped(self) -> int:
        return sum(int(count) for count in self.skipped_by_reason.values())

    @property
    def fraction_done(self) -> float:
        """Share of the window covered so far, from the oldest message seen.

        Nylas returns newest first and gives no total, so the date reached is
        the only honest measure of progress.
        """
        if self.status == BackfillStatus.FINISHED:
            return 1.0
        if self.oldest_seen_at is None:
            return 0.0
        span = (self.window_end - self.window_start).total_seconds()
        covered = (self.window_end - self.oldest_seen_at).total_seconds()
        return min(max(covered / span, 0.0), 0.99) if span > 0 else 0.0

    def estimated_time_left(self, now: datetime | None = None) -> timedelta | None:
        fraction = self.fraction_done
        if self.started_at is None or fraction <= 0 or fraction >= 1:
            return None
        elapsed = ((now or timezone.now()) - self.started_at).total_seconds()
        return timedelta(seconds=elapsed * (1 - fraction) / fraction)


class Direction(models.TextChoices):
    SENT = "sent", "Sent"
    RECEIVED = "received", "Received"


class MessageHeader(models.Model):
    """The header facts of one message in one mailbox: never its content.

    `participants` maps each role (from, to, cc, bcc, reply_to) to a list of
    {"name", "email"} with the address normalised. `conversation_key` groups
    one conversation across teammates' mailboxes, whose Nylas thread ids
    differ (see mailsync.headers.conversation_key_for).
    """

    account = models.ForeignKey(
        EmailAccount, on_delete=models.CASCADE, related_name="headers"
    )
    nylas_grant_id = models.CharField(max_length=200)
    nylas_message_id = models.CharField(max_length=1000)
    nylas_thread_id = models.CharField(max_length=1000, blank=True)
    internet_message_id = models.CharField(max_length=998, blank=True, db_index=True)
    conversation_key = models.CharField(max_length=1000, db_index=True)
    subject = models.TextField(blank=True)
    sent_at = models.DateTimeField(db_index=True)
    date_unreliable = models.BooleanField(default=False)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    participants = models.JSONField(default=dict)
    sent_from_organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Set for mail sent from inside the product: it shows only there.",
    )
    contacts = models.ManyToManyField(
        Contact, through="HeaderContact", related_name="message_headers"
    )
    tracking_label = models.CharField(max_length=200, blank=True, db_index=True)
    open_count = models.PositiveIntegerField(default=0)
    first_opened_at = models.DateTimeField(null=True, blank=True)
    last_opened_at = models.DateTimeField(null=True, blank=True)
    automatic_open_count = models.PositiveIntegerField(default=0)
    replied_at = models.DateTimeField(null=True, blank=True)
    counted_open_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="Nylas opened_ids already applied, so a repeated notification "
        "counts nothing twice.",
    )
    internal_open_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "nylas_message_id"], name="unique_header_per_account"
            )
        ]
        indexes = [models.Index(fields=["account", "nylas_thread_id"])]

    def __str__(self) -> str:
        return f"{self.nylas_message_id} in {self.nylas_grant_id}"

    @property
    def display_subject(self) -> str:
        return self.subject.strip() or "(no subject)"

    def addresses(self, role: str) -> list[dict[str, str]]:
        return list(self.participants.get(role, []))


class HeaderContact(models.Model):
    """A stored header matched to a saved contact of one organisation."""

    header = models.ForeignKey(MessageHeader, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["header", "contact"], name="unique_header_contact"
            )
        ]
        indexes = [models.Index(fields=["contact", "header"])]

    def __str__(self) -> str:
        return f"header {self.header_id} → contact {self.contact_id}"


class WebhookDelivery(models.Model):
    """One Nylas notification, recorded once by its notification id.

    Holds ids and the trigger type only: the payload (which for message
    triggers carries the body and snippet) is never stored.
    """

    nylas_notification_id = models.CharField(max_length=200, unique=True)
    trigger_type = models.CharField(max_length=100)
    nylas_grant_id = models.CharField(max_length=200, blank=True)
    object_id = models.CharField(max_length=1000, blank=True)
    tracking_label = models.CharField(
        max_length=200,
        blank=True,
        help_text="The label we set when sending, echoed by tracking notifications.",
    )
    event_time = models.BigIntegerField(null=True, blank=True)
    tracking_events = models.JSONField(
        default=list,
        blank=True,
        help_text="For message.opened: when each open happened, whether a "
        "privacy proxy made it, and a keyed hash of the client (never its IP).",
    )
    delivery_attempt = models.PositiveIntegerField(default=1)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["nylas_grant_id", "object_id", "trigger_type"]),
            models.Index(fields=["processed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.trigger_type} {self.nylas_notification_id}"


class WebhookSecret(models.Model):
    """A signing secret of our Nylas webhook destination.

    After a rotation the previous secret stays valid for a grace period, so
    that deliveries signed before the rotation and retried after it are
    still accepted.
    """

    nylas_webhook_id = models.CharField(max_length=200)
    secret = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        state = "retired" if self.retired_at else "current"
        return f"secret of {self.nylas_webhook_id} ({state})"


class OwnMessageView(models.Model):
    """A product user opening a message's body in the CRM.

    Kept so that an open notification caused by our own users (their browser
    loading the pixel) is not counted as the recipient reading the message.
    Holds who, which header, when and a keyed hash of the client: no body.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    header = models.ForeignKey(
        MessageHeader, on_delete=models.CASCADE, related_name="own_views"
    )
    viewed_at = models.DateTimeField(default=timezone.now)
    client = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["header", "viewed_at"])]

    def __str__(self) -> str:
        return f"user {self.user_id} viewed header {self.header_id}"
