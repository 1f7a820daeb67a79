from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from mailsync import accounts, backfill, nylas_client
from mailsync.models import Backfill, EmailAccount, HeaderContact, MessageHeader


class BackfillInline(admin.StackedInline[Backfill, EmailAccount]):
    model = Backfill
    can_delete = False
    extra = 0
    readonly_fields = [
        "status",
        "window_days",
        "window_start",
        "window_end",
        "pages_done",
        "messages_scanned",
        "messages_kept",
        "skipped_by_reason",
        "oldest_seen_at",
        "started_at",
        "finished_at",
        "last_error",
    ]
    exclude = ["page_cursor", "lease_token", "lease_expires_at"]


@admin.register(EmailAccount)
class EmailAccountAdmin(admin.ModelAdmin[EmailAccount]):
    list_display = [
        "email",
        "user",
        "provider",
        "status",
        "backfill_state",
        "last_synced_at",
    ]
    list_filter = ["status", "provider"]
    search_fields = ["email", "user__username", "nylas_grant_id"]
    readonly_fields = [
        "nylas_grant_id",
        "email",
        "provider",
        "connected_at",
        "last_synced_at",
    ]
    inlines = [BackfillInline]
    actions = ["resync", "extend_window_90_days", "disconnect"]

    @admin.display(description="Backfill")
    def backfill_state(self, account: EmailAccount) -> str:
        state = Backfill.objects.filter(account=account).first()
        if state is None:
            return "not started"
        return f"{state.get_status_display()} ({state.messages_kept} kept)"

    @admin.action(description="Resync the backfill window from the start")
    def resync(self, request: HttpRequest, queryset: QuerySet[EmailAccount]) -> None:
        from mailsync import tasks

        for account in queryset:
            state = Backfill.objects.filter(account=account).first()
            backfill.start_backfill(account, state.window_days if state else None)
            tasks.backfill_account.delay(account.pk)
        self.message_user(request, f"Resync queued for {queryset.count()} account(s).")

    @admin.action(description="Extend the history window by 90 more days")
    def extend_window_90_days(
        self, request: HttpRequest, queryset: QuerySet[EmailAccount]
    ) -> None:
        from mailsync import tasks

        for account in queryset.filter(backfill__isnull=False):
            backfill.extend_backfill(account, 90)
            tasks.backfill_account.delay(account.pk)
        self.message_user(request, "Older history import queued.")

    @admin.action(description="Disconnect (revoke the grant and delete headers)")
    def disconnect(
        self, request: HttpRequest, queryset: QuerySet[EmailAccount]
    ) -> None:
        for account in queryset:
            try:
                accounts.disconnect(account)
            except nylas_client.NylasRetryableError as error:
                self.message_user(request, str(error), level=messages.ERROR)


class HeaderContactInline(admin.TabularInline[HeaderContact, MessageHeader]):
    model = HeaderContact
    extra = 0
    can_delete = False
    readonly_fields = ["contact", "organisation"]


@admin.register(MessageHeader)
class MessageHeaderAdmin(admin.ModelAdmin[MessageHeader]):
    """Read-only: headers change only through sync."""

    list_display = ["display_subject", "account", "direction", "sent_at"]
    list_filter = ["direction"]
    search_fields = ["nylas_message_id", "internet_message_id"]
    inlines = [HeaderContactInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
