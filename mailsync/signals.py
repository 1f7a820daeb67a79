"""Receivers that react to contact changes (mailsync depends on contacts,
never the reverse)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from contacts.models import ContactEmail
from mailsync.models import AccountStatus, EmailAccount


@receiver(post_save, sender=ContactEmail)
def fetch_history_of_new_address(
    sender: type[ContactEmail], instance: ContactEmail, created: bool, **_: Any
) -> None:
    """Fetch a new contact address's recent email from the mailboxes of every
    connected member of the contact's organisation."""
    from mailsync import tasks

    if not created:
        return
    account_ids = list(
        EmailAccount.objects.filter(
            user__memberships__organisation_id=instance.organisation_id,
            status=AccountStatus.ACTIVE,
        ).values_list("pk", flat=True)
    )
    for account_id in account_ids:
        transaction.on_commit(
            partial(tasks.fetch_address_history.delay, account_id, instance.pk)
        )


@receiver(post_delete, sender=ContactEmail)
def forget_removed_address(
    sender: type[ContactEmail], instance: ContactEmail, **_: Any
) -> None:
    """Drop the links and headers that no longer involve any saved contact
    after an address left a contact (or the contact was deleted)."""
    from mailsync import tasks

    transaction.on_commit(partial(tasks.relink_contact.delay, instance.contact_id))
