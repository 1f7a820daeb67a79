from __future__ import annotations

from django.http import HttpRequest

from contacts.models import Organisation
from mailsync.models import EmailAccount


def email_account(request: HttpRequest) -> dict[str, object]:
    """The user's mailbox and organisations, for the navigation and the
    reconnect banner that every page shows while a grant is invalid."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_email_account": EmailAccount.objects.filter(user_id=user.pk).first(),
        "nav_organisations": Organisation.objects.filter(memberships__user_id=user.pk),
    }
