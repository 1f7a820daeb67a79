"""Hosted-auth steps for connecting a mailbox, kept out of the views.

The flow: `begin_connect` stores a random state and the PKCE verifier in
the session and returns the Nylas URL; `finish_connect` checks the state
returned by Nylas, exchanges the code for a grant and saves the account.
Only the grant id, address and provider are kept.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.urls import reverse

from contacts.addresses import InvalidAddress, normalise_email
from mailsync import nylas_client
from mailsync.models import AccountStatus, EmailAccount

logger = logging.getLogger(__name__)

SESSION_KEY = "mailsync_connect"
STATE_MAX_AGE_SECONDS = 30 * 60
PROVIDERS = {
    "google": "Google (Gmail, Google Workspace)",
    "microsoft": "Microsoft (Outlook, Microsoft 365, Exchange Online)",
    "imap": "Other (IMAP)",
    "icloud": "iCloud",
    "yahoo": "Yahoo",
    "ews": "Exchange Server (EWS)",
}


class ConnectError(Exception):
    """A failed connection attempt; `kind` selects the error page shown."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class ConnectOutcome:
    account: EmailAccount
    reconnected: bool


def redirect_uri() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("mailsync:connect-callback")


def begin_connect(session: Any, email: str, provider: str | None = None) -> str:
    """Return the hosted-auth URL for `email`; raises InvalidAddress."""
    login_hint = normalise_email(email)
    if provider and provider not in PROVIDERS:
        raise ConnectError("unknown_provider", provider)
    state = secrets.token_urlsafe(32)
    url, verifier = nylas_client.hosted_auth_url(
        login_hint=login_hint,
        state=state,
        redirect_uri=redirect_uri(),
        provider=provider,
    )
    session[SESSION_KEY] = {
        "state": state,
        "verifier": verifier,
        "email": login_hint,
        "created": int(time.time()),
    }
    return url


def pending_email(session: Any) -> str:
    return str((session.get(SESSION_KEY) or {}).get("email", ""))


def finish_connect(session: Any, user: User, params: dict[str, str]) -> ConnectOutcome:
    """Check the callback and save the account; raises ConnectError."""
    pending = session.pop(SESSION_KEY, None)
    _check_state(pending, params.get("state", ""))
    if params.get("error"):
        raise ConnectError(
            _error_kind(params["error"]), params.get("error_description", "")
        )
    if not params.get("code"):
        raise ConnectError("missing_code")

    try:
        grant = nylas_client.exchange_code_for_grant(
            code=params["code"],
            redirect_uri=redirect_uri(),
            code_verifier=pending["verifier"],
        )
    except nylas_client.NylasError as error:
        logger.warning(
            "Code exchange failed for user %s: %s", user.pk, type(error).__name__
        )
        raise ConnectError("exchange_failed") from error
    return _save_account(user, grant)


def _check_state(pending: Any, returned: str) -> None:
    if not pending or not returned:
        raise ConnectError("bad_state", "missing")
    if not secrets.compare_digest(str(pending.get("state", "")), returned):
        raise ConnectError("bad_state", "mismatch")
    if time.time() - int(pending.get("created", 0)) > STATE_MAX_AGE_SECONDS:
        raise ConnectError("bad_state", "expired")


def _error_kind(error: str) -> str:
    known = {
        "access_denied",
        "admin_consent_required",
        "unsupported_provider",
        "provider_not_detected",
    }
    return error if error in known else "provider_error"


def _save_account(user: User, grant: nylas_client.GrantInfo) -> ConnectOutcome:
    try:
        email = normalise_email(grant.email)
    except InvalidAddress as error:
        raise ConnectError(
            "exchange_failed", "no valid address on the grant"
        ) from error

    taken = EmailAccount.objects.filter(
        nylas_grant_id=grant.grant_id
    ) | EmailAccount.objects.filter(email=email)
    if taken.exclude(user=user).exists():
        # Nylas keeps one grant per mailbox: revoking it would disconnect the
        # teammate who owns it, so the grant is left alone.
        raise ConnectError("already_connected", email)

    existing = EmailAccount.objects.filter(user=user).first()
    if existing and existing.nylas_grant_id != grant.grant_id:
        raise ConnectError("other_account_connected", existing.email)
    try:
        with transaction.atomic():
            account, created = EmailAccount.objects.update_or_create(
                user=user,
                defaults={
                    "nylas_grant_id": grant.grant_id,
                    "email": email,
                    "provider": grant.provider,
                    "status": AccountStatus.ACTIVE,
                    "status_reason": "",
                },
            )
    except IntegrityError as error:
        raise ConnectError("already_connected", email) from error
    logger.info("Account %s connected (grant %s)", account.pk, grant.grant_id)
    return ConnectOutcome(account=account, reconnected=not created)
