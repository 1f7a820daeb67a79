from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from contacts.access import (
    AuthenticatedHttpRequest,
    OrganisationRequest,
    organisation_member_required,
)
from contacts.models import Contact, Membership, Property

CONTACTS_PER_PAGE = 50


@login_required
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Send the user to the contacts of their first organisation."""
    membership = (
        Membership.objects.filter(user_id=request.user.pk)
        .select_related("organisation")
        .order_by("organisation__name")
        .first()
    )
    if membership is None:
        return render(request, "contacts/no_organisation.html", status=403)
    return redirect("contacts:list", organisation_slug=membership.organisation.slug)


@organisation_member_required
def contact_list(request: OrganisationRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    contacts = (
        Contact.objects.filter(organisation=request.organisation)
        .search(query)
        .prefetch_related("emails")
    )
    page = Paginator(contacts, CONTACTS_PER_PAGE).get_page(request.GET.get("page"))
    template = "contacts/_contact_rows.html" if request.htmx else "contacts/list.html"
    return render(request, template, {"page": page, "query": query})


@organisation_member_required
def contact_detail(request: OrganisationRequest, contact_id: int) -> HttpResponse:
    """Render the Contact Details Panel: the contact, and the panels other
    apps add."""
    contact = get_object_or_404(
        Contact.objects.prefetch_related("emails", "properties"),
        pk=contact_id,
        organisation=request.organisation,
    )
    panel_urls = [
        reverse(name, args=[request.organisation.slug, contact.pk])
        for name in settings.CONTACTS_PANEL_URL_NAMES
    ]
    return render(
        request, "contacts/detail.html", {"contact": contact, "panel_urls": panel_urls}
    )


@organisation_member_required
def property_detail(request: OrganisationRequest, property_id: int) -> HttpResponse:
    """Render the Property Detail Panel with its contacts."""
    site = get_object_or_404(
        Property.objects.prefetch_related("contacts__emails"),
        pk=property_id,
        organisation=request.organisation,
    )
    return render(request, "contacts/property.html", {"property": site})


@organisation_member_required
def property_list(request: OrganisationRequest) -> HttpResponse:
    sites = Property.objects.filter(organisation=request.organisation)
    return render(request, "contacts/property_list.html", {"properties": sites})
