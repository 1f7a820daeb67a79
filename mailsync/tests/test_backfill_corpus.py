"""The backfill over real mail: the emulator loads folders of the shared
corpus, and the stored headers must be exactly those an independent parse
of the files says involve a saved contact."""

from __future__ import annotations

import email
import email.policy
import email.utils
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.contrib.auth.models import User
from django.utils import timezone

import pytest

from conftest import SHARED_DIR, EmulatorControl
from contacts.addresses import InvalidAddress, normalise_email
from contacts.models import Contact, Organisation
from mailsync import backfill
from mailsync.models import BackfillStatus, EmailAccount, MessageHeader

pytestmark = [pytest.mark.corpus, pytest.mark.django_db(transaction=True)]

CORPUS = SHARED_DIR / "corpus"
# Folders of real correspondence (see the corpus's SOURCES.md), not parser
# torture tests.
REALISTIC = [
    "talon",
    "php-mime-mail-parser",
    "chatwoot",
    "rails-actionmailbox",
    "django-mailbox",
]
OWNER = "owner@convex-test.example"
ROLES = ("From", "To", "Cc", "Bcc", "Reply-To")


def independent_addresses(path: Path) -> dict[str, list[str]]:
    """Each role's normalised addresses, read with the compat32 parser and
    email.utils.getaddresses (a different path from the emulator's)."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
    found: dict[str, list[str]] = {}
    for role in ROLES:
        values = [str(value) for value in message.get_all(role, [])]
        addresses = []
        for _, address in email.utils.getaddresses(values):
            try:
                addresses.append(normalise_email(address))
            except InvalidAddress:
                continue
        found[role] = addresses
    return found


def senders(paths: list[Path]) -> set[str]:
    return {a for path in paths for a in independent_addresses(path)["From"]}


def expected_kept(paths: list[Path], contacts: set[str]) -> Counter[str]:
    """Message-ID (or file name) of every file that names a saved contact."""
    kept: Counter[str] = Counter()
    for path in paths:
        roles = independent_addresses(path)
        everyone = {address for addresses in roles.values() for address in addresses}
        if everyone & contacts:
            message = email.message_from_bytes(path.read_bytes())
            kept[(message.get("Message-ID") or "").strip()] += 1
    return kept


@pytest.fixture
def account(
    make_user: Callable[..., User],
    make_account: Callable[..., EmailAccount],
    org_a: Organisation,
) -> EmailAccount:
    owner = make_user("owner", organisations=(org_a,), email=OWNER)
    return make_account(owner, email=OWNER, grant_id="g-corpus", provider="imap")


@pytest.mark.parametrize("folder", REALISTIC)
def test_backfill_of_corpus_matches_independent_parse(
    folder: str,
    emulator: EmulatorControl,
    account: EmailAccount,
    make_contact: Callable[..., Contact],
    org_a: Organisation,
) -> None:
    if not (CORPUS / folder).is_dir():
        pytest.skip(f"{CORPUS / folder} is absent: the shared corpus is not here")
    paths = sorted(p for p in (CORPUS / folder).iterdir() if p.is_file())
    loaded = emulator.post(
        "/_emulator/mailboxes", {"owner": OWNER, "path": str(CORPUS / folder)}
    )
    emulator.add_grant(OWNER, "g-corpus")
    contacts = {address for address in sorted(senders(paths))[::2] if address != OWNER}
    for number, address in enumerate(sorted(contacts)):
        make_contact(org_a, f"Sender {number}", address)
    epoch_days = (timezone.now() - datetime(1970, 1, 2, tzinfo=UTC)).days

    window = backfill.start_backfill(account, days=epoch_days)
    # Mail without a Date header is dated at load time, which may be this
    # very second: end the window just after it.
    window.window_end += timedelta(seconds=2)
    window.save()
    state = backfill.run_backfill(account.pk)

    stored = Counter(
        MessageHeader.objects.values_list("internet_message_id", flat=True)
    )
    assert loaded["loaded"] == len(paths)
    assert state is not None
    assert state.status == BackfillStatus.FINISHED
    assert state.messages_scanned == len(paths)
    assert stored == expected_kept(paths, contacts)
