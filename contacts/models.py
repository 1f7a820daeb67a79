"""Organisations, their members, contacts and properties."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from contacts.addresses import normalise_email

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Organisation(models.Model):
    """One business account; a company with several regions has one per region."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    REPRESENTATIVE = "representative", "Representative"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Administrator"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(
        max_length=20, choices=Role.choices, default=Role.REPRESENTATIVE
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation"], name="unique_membership"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation} ({self.role})"


def organisations_of(user: User) -> models.QuerySet[Organisation]:
    return Organisation.objects.filter(memberships__user=user)


class ContactQuerySet(models.QuerySet["Contact"]):
    def search(self, text: str) -> ContactQuerySet:
        """Filter by a fragment of the name, company or any address."""
        text = text.strip()
        if not text:
            return self
        return self.filter(
            models.Q(name__icontains=text)
            | models.Q(company__icontains=text)
            | models.Q(emails__email__icontains=text)
        ).distinct()


class Contact(models.Model):
    """A person saved in one organisation; only contacts with an address take
    part in email."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(max_length=200)
    company = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = [Lower("name"), "pk"]
        indexes = [models.Index(fields=["organisation", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def primary_email(self) -> str:
        emails = sorted(self.emails.all(), key=lambda row: (not row.is_primary, row.pk))
        return emails[0].email if emails else ""

    def add_email(self, raw: str, *, primary: bool = False) -> ContactEmail:
        """Save an address on this contact (normalised); raises InvalidAddress."""
        return ContactEmail.objects.create(
            contact=self,
            organisation_id=self.organisation_id,
            email=normalise_email(raw),
            is_primary=primary,
        )


class ContactEmailQuerySet(models.QuerySet["ContactEmail"]):
    def for_addresses(
        self, organisation_ids: Iterable[int], addresses: Iterable[str]
    ) -> ContactEmailQuerySet:
        """Rows of these organisations whose address is one of the normalised
        `addresses`, in one query."""
        return self.filter(
            organisation_id__in=list(organisation_ids), email__in=list(addresses)
        )


class ContactEmail(models.Model):
    """One address of a contact, stored in normalised form (see normalise_email).

    The organisation is repeated here so that an address is unique within an
    organisation by a database constraint.
    """

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="emails"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    email = models.CharField(max_length=320)
    is_primary = models.BooleanField(default=False)

    objects = ContactEmailQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"], name="unique_contact_email_per_org"
            )
        ]
        indexes = [models.Index(fields=["email"])]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: object, **kwargs: object) -> None:
        self.email = normalise_email(self.email)
        self.organisation_id = self.contact.organisation_id
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Property(models.Model):
    """A site or building, with the contacts who work on it."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="properties"
    )
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    contacts = models.ManyToManyField(Contact, related_name="properties", blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "properties"

    def __str__(self) -> str:
        return self.name
