"""Settings → Email Integration: connect, progress, disconnect."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from contacts.access import AuthenticatedHttpRequest
from contacts.addresses import InvalidAddress
from mailsync import accounts, connect, nylas_client
from mailsync.models import Backfill, EmailAccount

logger = logging.getLogger(__name__)


def _account_of(request: AuthenticatedHttpRequest) -> EmailAccount | None:
    return EmailAccount.objects.filter(user_id=request.user.pk).first()


@login_required
@require_GET
def email_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    account = _account_of(request)
    backfill = Backfill.objects.filter(account=account).first() if account else None
    return render(
        request,
        "mailsync/settings.html",
        {
            "account": account,
            "backfill": backfill,
            "providers": connect.PROVIDERS,
            "suggested_email": request.user.email,
        },
    )


@login_required
@require_POST
def connect_start(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Begin Setup: send the user to Nylas hosted authentication."""
    email = request.POST.get("email", "")
    provider = request.POST.get("provider") or None
    try:
        url = connect.begin_connect(request.session, email, provider)
    except InvalidAddress as error:
        messages.error(request, str(error))
        return redirect("mailsync:settings")
    except connect.ConnectError:
        messages.error(
            request, f"Unknown provider {provider!r}: pick one from the list."
        )
        return redirect("mailsync:settings")
    return redirect(url)


@login_required
@require_GET
def connect_callback(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Return from hosted auth: check state, exchange the code, queue the sync."""
    email = connect.pending_email(request.session)
    try:
        outcome = connect.finish_connect(
            request.session, request.user, request.GET.dict()
        )
    except connect.ConnectError as error:
        logger.info("Connect failed for user %s: %s", request.user.pk, error.kind)
        return render(
            request,
            "mailsync/connect_failed.html",
            {
                "kind": error.kind,
                "email": email or error.detail,
                "providers": connect.PROVIDERS,
            },
            status=400 if error.kind == "bad_state" else 200,
        )
    accounts.start_syncing(outcome)
    messages.success(request, f"{outcome.account.email} is connected.")
    return redirect("mailsync:settings")


@login_required
@require_GET
def sync_progress(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The progress fragment that the settings page polls through htmx."""
    account = _account_of(request)
    backfill = Backfill.objects.filter(account=account).first() if account else None
    return render(
        request, "mailsync/_progress.html", {"account": account, "backfill": backfill}
    )


@login_required
@require_POST
def disconnect(request: AuthenticatedHttpRequest) -> HttpResponse:
    account = _account_of(request)
    if account is None:
        return redirect("mailsync:settings")
    try:
        accounts.disconnect(account)
    except nylas_client.NylasRetryableError:
        messages.error(
            request,
            "Nylas could not be reached to revoke access, so the mailbox is still "
            "connected. Try again in a few minutes.",
        )
        return redirect("mailsync:settings")
    messages.success(request, "The mailbox is disconnected and its headers deleted.")
    return redirect("mailsync:settings")


@login_required
@require_POST
def sync_now(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Queue a sweep of the user's mailbox, for mail that has not arrived yet."""
    from mailsync import tasks

    account = _account_of(request)
    if account is None or account.needs_reconnect:
        messages.error(request, "Connect your mailbox before syncing it.")
        return redirect("mailsync:settings")
    tasks.sweep_account.delay(account.pk)
    messages.success(request, "Sync started: new email appears in a few moments.")
    return redirect("mailsync:settings")
