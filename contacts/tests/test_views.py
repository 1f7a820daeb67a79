from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse

import pytest

from contacts.models import Contact, ContactEmail, Organisation, Property

pytestmark = pytest.mark.django_db


def test_contact_list_searches_by_address(
    client: Client,
    alice: User,
    org_a: Organisation,
    make_contact: Callable[..., Contact],
) -> None:
    make_contact(org_a, "Dana Whitfield", "dana@customer.example")
    make_contact(org_a, "Tomasz Nowak", "t.nowak@example.org")
    client.force_login(alice)

    page = client.get(reverse("contacts:list", args=[org_a.slug]), {"q": "nowak@"})

    assert "Tomasz Nowak" in page.content.decode()
    assert "Dana Whitfield" not in page.content.decode()


def test_contact_list_of_other_organisation_is_404(
    client: Client, carol: User, org_a: Organisation
) -> None:
    client.force_login(carol)

    response = client.get(reverse("contacts:list", args=[org_a.slug]))

    assert response.status_code == 404


def test_contact_page_embeds_email_panel(
    client: Client,
    alice: User,
    org_a: Organisation,
    make_contact: Callable[..., Contact],
) -> None:
    contact = make_contact(org_a, "Dana", "dana@customer.example")
    client.force_login(alice)

    page = client.get(reverse("contacts:detail", args=[org_a.slug, contact.pk]))

    panel = reverse("mailsync:contact-emails", args=[org_a.slug, contact.pk])
    assert f'hx-get="{panel}"' in page.content.decode()


def test_address_is_unique_within_organisation(
    org_a: Organisation, make_contact: Callable[..., Contact]
) -> None:
    make_contact(org_a, "Dana", "dana@customer.example")

    with pytest.raises(IntegrityError):
        make_contact(org_a, "Dana again", "DANA@Customer.Example")


def test_same_address_may_exist_in_two_organisations(
    org_a: Organisation, org_b: Organisation, make_contact: Callable[..., Contact]
) -> None:
    make_contact(org_a, "Dana", "dana@customer.example")
    make_contact(org_b, "Dana", "dana@customer.example")

    assert ContactEmail.objects.filter(email="dana@customer.example").count() == 2


def test_property_page_lists_its_contacts(
    client: Client,
    alice: User,
    org_a: Organisation,
    make_contact: Callable[..., Contact],
) -> None:
    site = Property.objects.create(organisation=org_a, name="Harbour Tower")
    site.contacts.add(make_contact(org_a, "Site Manager", "sm@customer.example"))
    client.force_login(alice)

    page = client.get(reverse("contacts:property", args=[org_a.slug, site.pk]))

    assert "Site Manager" in page.content.decode()


def test_home_redirects_to_first_organisation(
    client: Client, alice: User, org_a: Organisation
) -> None:
    client.force_login(alice)

    response = client.get(reverse("home"))

    assert response["Location"] == reverse("contacts:list", args=[org_a.slug])
