"""The keep/skip rules of mailsync.headers.store_messages, on shared cases
and on hand-made hard cases."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.test import TestCase

import pytest

from contacts.models import Contact, Organisation
from mailsync.headers import SkipReason, store_messages
from mailsync.models import Direction, EmailAccount, HeaderContact, MessageHeader
from mailsync.nylas_client import summary_from_dict
from mailsync.panel import contact_threads
from mailsync.tests.cases import LoadedCase, load_case

pytestmark = pytest.mark.django_db


def store_case_messages(case: LoadedCase, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        store_messages(case.accounts[message["grant_id"]], [summary_from_dict(message)])


def panel_thread_ids(case: LoadedCase, contact_key: str) -> list[list[str]]:
    _, threads = contact_threads(case.organisation, case.contacts[contact_key], 1)
    return [
        sorted(item.header.nylas_message_id for item in thread.messages)
        for thread in threads
    ]


def message(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "object": "message",
        "id": "m-1",
        "grant_id": "g-alice",
        "thread_id": "t-1",
        "subject": "Quote",
        "from": [{"name": "Dana", "email": "dana@customer.example"}],
        "to": [{"name": "Alice", "email": "alice@acme.example.com"}],
        "date": 1764000000,
    }
    base.update(fields)
    return base


@pytest.fixture
def alice_account(
    make_account: Callable[..., EmailAccount], alice: User
) -> EmailAccount:
    return make_account(alice, grant_id="g-alice")


@pytest.fixture
def dana(make_contact: Callable[..., Contact], org_a: Organisation) -> Contact:
    return make_contact(org_a, "Dana Whitfield", "dana@customer.example")


def test_uppercase_addresses_match_case_03(
    shared_dir: Path, org_a: Organisation
) -> None:
    case = load_case(shared_dir, "03-uppercase-address-match.json", org_a)
    store_case_messages(case, case.data["nylas_messages"])

    stored = set(MessageHeader.objects.values_list("nylas_message_id", flat=True))
    assert stored == {"msg-0301", "msg-0302"}
    assert panel_thread_ids(case, "contact-17") == [["msg-0301", "msg-0302"]]
    reply = MessageHeader.objects.get(nylas_message_id="msg-0302")
    assert reply.direction == Direction.SENT
    assert Contact.objects.count() == 1


def test_secondary_address_matches_case_04(
    shared_dir: Path, org_a: Organisation
) -> None:
    case = load_case(shared_dir, "04-secondary-address-match.json", org_a)
    store_case_messages(case, case.data["nylas_messages"])

    contact = case.contacts["contact-21"]
    linked = HeaderContact.objects.filter(contact=contact)
    assert sorted(linked.values_list("header__nylas_message_id", flat=True)) == [
        "msg-0401",
        "msg-0402",
    ]
    assert sorted(panel_thread_ids(case, "contact-21")) == [["msg-0401"], ["msg-0402"]]


def test_plus_addressed_owner_is_me_case_06(
    shared_dir: Path, org_a: Organisation
) -> None:
    case = load_case(shared_dir, "06-plus-addressed-own-user.json", org_a)
    store_case_messages(case, case.data["nylas_messages"])

    expected = set(case.data["expected"]["kept_message_ids"])
    stored = set(MessageHeader.objects.values_list("nylas_message_id", flat=True))
    assert stored == expected
    everyone = [
        entry["email"]
        for header in MessageHeader.objects.all()
        for entry in header.participants["to"]
    ]
    assert sorted(everyone) == [
        "alex.morgan+events@acme.example.com",
        "alex@acme.example.com",
    ]


def test_message_without_from_is_skipped_and_logged_case_07(
    shared_dir: Path, org_a: Organisation, caplog: pytest.LogCaptureFixture
) -> None:
    case = load_case(shared_dir, "07-nylas-message-without-from.json", org_a)
    page = case.data["nylas_list_messages_page"]["data"]
    account = case.accounts["grant-priya-0002"]

    with caplog.at_level(logging.WARNING):
        result = store_messages(account, [summary_from_dict(m) for m in page])

    assert result.kept == 1
    assert result.skipped[SkipReason.ONLY_OWNER] == 1
    assert list(MessageHeader.objects.values_list("nylas_message_id", flat=True)) == [
        "msg-0702"
    ]
    warnings = [r for r in caplog.records if "msg-0701" in r.getMessage()]
    assert len(warnings) == 1


def test_subjectless_messages_stay_apart_case_08(
    shared_dir: Path, org_a: Organisation
) -> None:
    case = load_case(shared_dir, "08-missing-recipients-subject-messageid.json", org_a)
    store_case_messages(case, case.data["nylas_messages"])

    headers = MessageHeader.objects.order_by("nylas_message_id")
    assert [h.nylas_message_id for h in headers] == ["msg-0801", "msg-0802"]
    assert headers[0].display_subject == "(no subject)"
    assert headers[0].conversation_key != headers[1].conversation_key
    assert len(panel_thread_ids(case, "contact-40")) == 2


def test_equal_subject_never_merges_case_10(
    shared_dir: Path, org_a: Organisation
) -> None:
    case = load_case(shared_dir, "10-subject-only-merge.json", org_a)
    store_case_messages(case, case.data["nylas_messages"])

    contact_key = next(iter(case.contacts))
    threads = sorted(panel_thread_ids(case, contact_key))
    assert threads == [["msg-1001"], ["msg-1002", "msg-1003"]]


def test_zero_date_falls_back_to_created_at_case_13(
    alice_account: EmailAccount, dana: Contact
) -> None:
    store_messages(
        alice_account, [summary_from_dict(message(date=0, created_at=1764770000))]
    )

    header = MessageHeader.objects.get()
    assert header.sent_at.isoformat() == "2025-12-03T13:53:20+00:00"
    assert header.date_unreliable is True


def test_missing_date_is_flagged_never_1970(
    alice_account: EmailAccount, dana: Contact
) -> None:
    store_messages(alice_account, [summary_from_dict(message(date=None))])

    header = MessageHeader.objects.get()
    assert header.sent_at.year >= 2026
    assert header.date_unreliable is True


def test_storing_twice_updates_one_row(
    alice_account: EmailAccount, dana: Contact
) -> None:
    store_messages(alice_account, [summary_from_dict(message(subject="First"))])
    store_messages(alice_account, [summary_from_dict(message(subject="Second"))])

    assert MessageHeader.objects.count() == 1
    assert MessageHeader.objects.get().subject == "Second"
    assert HeaderContact.objects.count() == 1


def test_duplicate_ids_in_one_batch_store_once(
    alice_account: EmailAccount, dana: Contact
) -> None:
    batch = [summary_from_dict(message()), summary_from_dict(message(subject="Again"))]

    result = store_messages(alice_account, batch)

    assert result.kept == 2
    assert MessageHeader.objects.count() == 1


def test_mail_without_saved_contact_is_skipped(alice_account: EmailAccount) -> None:
    result = store_messages(alice_account, [summary_from_dict(message())])

    assert result.kept == 0
    assert result.skipped[SkipReason.NO_CONTACT] == 1
    assert MessageHeader.objects.count() == 0


def test_contact_of_other_organisation_is_not_matched(
    alice_account: EmailAccount,
    make_contact: Callable[..., Contact],
    org_b: Organisation,
) -> None:
    make_contact(org_b, "Dana elsewhere", "dana@customer.example")

    result = store_messages(alice_account, [summary_from_dict(message())])

    assert result.kept == 0


def test_user_in_two_organisations_links_both_contacts(
    alice_account: EmailAccount,
    dana: Contact,
    make_contact: Callable[..., Contact],
    org_b: Organisation,
    alice: User,
) -> None:
    alice.memberships.create(organisation=org_b)
    other = make_contact(org_b, "Dana South", "dana@customer.example")

    store_messages(alice_account, [summary_from_dict(message())])

    header = MessageHeader.objects.get()
    assert set(header.contacts.all()) == {dana, other}


def test_idna_and_uppercase_domain_match_contact(
    alice_account: EmailAccount,
    make_contact: Callable[..., Contact],
    org_a: Organisation,
) -> None:
    make_contact(org_a, "Jürgen", "j@bücher.example")
    sender = [{"name": "Jürgen", "email": "J@XN--BCHER-KVA.EXAMPLE"}]

    result = store_messages(
        alice_account, [summary_from_dict(message(**{"from": sender}))]
    )

    assert result.kept == 1


def test_contact_plus_tag_is_a_different_address(
    alice_account: EmailAccount, dana: Contact
) -> None:
    sender = [{"name": "Dana", "email": "dana+invoices@customer.example"}]

    result = store_messages(
        alice_account, [summary_from_dict(message(**{"from": sender}))]
    )

    assert result.kept == 0


def test_body_and_snippet_in_input_are_not_stored(
    alice_account: EmailAccount, dana: Contact
) -> None:
    canary = "CANARY-BODY-7f3a"
    raw = message(body=f"<p>{canary}</p>", snippet=canary)

    store_messages(alice_account, [summary_from_dict(raw)])

    row = MessageHeader.objects.values().get()
    assert canary not in repr(row)


def test_reply_in_teammate_mailbox_joins_same_conversation(
    alice_account: EmailAccount,
    dana: Contact,
    make_account: Callable[..., EmailAccount],
    bob: User,
    org_a: Organisation,
) -> None:
    bob_account = make_account(bob, grant_id="g-bob")
    root = message(headers=[{"name": "Message-ID", "value": "<root@customer.example>"}])
    reply = message(
        id="m-2",
        grant_id="g-bob",
        thread_id="bob-thread-9",
        to=[{"email": "bob@acme.example.com"}],
        headers=[
            {"name": "Message-ID", "value": "<reply@customer.example>"},
            {"name": "References", "value": "<root@customer.example>"},
        ],
    )

    store_messages(alice_account, [summary_from_dict(root)])
    store_messages(bob_account, [summary_from_dict(reply)])

    _, threads = contact_threads(org_a, dana, 1)
    assert len(threads) == 1
    assert len(threads[0].messages) == 2


def test_same_email_in_two_mailboxes_shows_once(
    alice_account: EmailAccount,
    dana: Contact,
    make_account: Callable[..., EmailAccount],
    bob: User,
    org_a: Organisation,
) -> None:
    bob_account = make_account(bob, grant_id="g-bob")
    headers = [{"name": "Message-ID", "value": "<same@customer.example>"}]
    to_both = [{"email": "alice@acme.example.com"}, {"email": "bob@acme.example.com"}]
    store_messages(
        alice_account, [summary_from_dict(message(to=to_both, headers=headers))]
    )
    store_messages(
        bob_account,
        [
            summary_from_dict(
                message(id="b-1", grant_id="g-bob", to=to_both, headers=headers)
            )
        ],
    )

    _, threads = contact_threads(org_a, dana, 1)
    assert len(threads) == 1
    assert len(threads[0].messages) == 1
    assert sorted(threads[0].messages[0].mailbox_owners) == [
        "Alice Archer",
        "Bob Baker",
    ]


def test_bidi_controls_are_removed_from_subject_and_names(
    alice_account: EmailAccount, dana: Contact
) -> None:
    sender = [{"name": "Dana \u202eevil\u202c", "email": "dana@customer.example"}]
    raw = message(subject="Invoice \u202egnp.exe\u2066", **{"from": sender})

    store_messages(alice_account, [summary_from_dict(raw)])

    header = MessageHeader.objects.get()
    assert header.subject == "Invoice gnp.exe"
    assert header.participants["from"][0]["name"] == "Dana evil"


def test_owner_without_name_gets_account_name(
    alice_account: EmailAccount, dana: Contact
) -> None:
    raw = message(
        **{"from": [{"email": "alice@acme.example.com"}]},
        to=[{"name": "Dana", "email": "dana@customer.example"}],
    )

    store_messages(alice_account, [summary_from_dict(raw)])

    sender = MessageHeader.objects.get().participants["from"][0]
    assert sender["name"] == "Alice Archer"


def test_removed_address_drops_its_headers(
    alice_account: EmailAccount,
    make_contact: Callable[..., Contact],
    org_a: Organisation,
) -> None:
    contact = make_contact(org_a, "Dana", "dana@customer.example", "dana@home.example")
    by_work = message(id="m-work")
    by_home = message(id="m-home", **{"from": [{"email": "dana@home.example"}]})
    store_messages(
        alice_account, [summary_from_dict(by_work), summary_from_dict(by_home)]
    )

    with TestCase.captureOnCommitCallbacks(execute=True):
        contact.emails.get(email="dana@home.example").delete()

    kept = set(MessageHeader.objects.values_list("nylas_message_id", flat=True))
    assert kept == {"m-work"}


def test_deleted_contact_drops_its_headers(
    alice_account: EmailAccount, dana: Contact
) -> None:
    store_messages(alice_account, [summary_from_dict(message())])

    with TestCase.captureOnCommitCallbacks(execute=True):
        dana.delete()

    assert MessageHeader.objects.count() == 0
