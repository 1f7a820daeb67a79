"""The email panel of a contact, loaded into the contact's page by htmx."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from contacts.access import OrganisationRequest, organisation_member_required
from contacts.models import Contact
from mailsync.models import EmailAccount
from mailsync.panel import contact_threads


@organisation_member_required
@require_GET
def contact_emails(request: OrganisationRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(
        Contact, pk=contact_id, organisation=request.organisation
    )
    page, threads = contact_threads(
        request.organisation, contact, request.GET.get("page")
    )
    account = EmailAccount.objects.filter(user_id=request.user.pk).first()
    return render(
        request,
        "mailsync/_contact_emails.html",
        {
            "organisation": request.organisation,
            "contact": contact,
            "page": page,
            "threads": threads,
            "account": account,
        },
    )
