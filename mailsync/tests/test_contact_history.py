"""Saving a contact fetches its recent email from the team's mailboxes."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import TestCase

import pytest

from conftest import EmulatorControl
from contacts.models import Contact, Organisation
from mailsync.models import AccountStatus, EmailAccount, MessageHeader

pytestmark = pytest.mark.django_db

OWNER = "alice@acme.example.com"


def inject_from(emulator: EmulatorControl, sender: str, subject: str) -> str:
    return emulator.inject(
        OWNER,
        **{
            "from": [{"name": "Sender", "email": sender}],
            "to": [{"email": OWNER}],
            "subject": subject,
            "body": "<p>hello</p>",
        },
    )


@pytest.fixture
def alice_account(
    emulator: EmulatorControl,
    make_account: Callable[..., EmailAccount],
    alice: User,
) -> EmailAccount:
    emulator.add_grant(OWNER, "g-alice")
    return make_account(alice, email=OWNER, grant_id="g-alice")


def test_new_contact_brings_its_history(
    emulator: EmulatorControl,
    alice_account: EmailAccount,
    make_contact: Callable[..., Contact],
    org_a: Organisation,
) -> None:
    wanted = inject_from(emulator, "new.client@example.org", "Site visit")
    inject_from(emulator, "someone.else@example.org", "Unrelated")

    with TestCase.captureOnCommitCallbacks(execute=True):
        make_contact(org_a, "New Client", "New.Client@Example.org")

    stored = list(MessageHeader.objects.values_list("nylas_message_id", flat=True))
    assert stored == [wanted]


def test_other_organisation_mailboxes_are_not_read(
    emulator: EmulatorControl,
    alice_account: EmailAccount,
    make_contact: Callable[..., Contact],
    org_b: Organisation,
) -> None:
    inject_from(emulator, "new.client@example.org", "Site visit")

    with TestCase.captureOnCommitCallbacks(execute=True):
        make_contact(org_b, "New Client", "new.client@example.org")

    assert MessageHeader.objects.count() == 0


def test_mailbox_needing_reconnect_is_skipped(
    emulator: EmulatorControl,
    alice_account: EmailAccount,
    make_contact: Callable[..., Contact],
    org_a: Organisation,
) -> None:
    EmailAccount.objects.filter(pk=alice_account.pk).update(
        status=AccountStatus.RECONNECT_REQUIRED
    )
    inject_from(emulator, "new.client@example.org", "Site visit")

    with TestCase.captureOnCommitCallbacks(execute=True):
        make_contact(org_a, "New Client", "new.client@example.org")

    assert MessageHeader.objects.count() == 0
