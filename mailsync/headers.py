"""Turn listed Nylas messages into stored headers: the rules of what is kept.

The backfill, the webhook handlers and the sweep all store messages through
`store_messages`, so that one rule decides what is kept everywhere:

- The mailbox owner's own address, in any letter case and with any `+tag`,
  is "me" and never a contact.
- A message is kept when a participant other than the owner (from, to, cc,
  bcc or reply-to) is a saved contact of an organisation the owner belongs
  to. A message with no recipients at all was still delivered to the owner's
  mailbox, so it is judged by its other participants like any other.
- Everything else is skipped, counted by reason, and nothing of it is stored.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.addresses import base_address, normalise_email_or_none
from contacts.models import ContactEmail, Membership
from mailsync.models import Direction, EmailAccount, HeaderContact, MessageHeader
from mailsync.nylas_client import EmailName, MessageSummary
from mailsync.upsert import upsert_headers

logger = logging.getLogger(__name__)

ROLES = ("from", "to", "cc", "bcc", "reply_to")
MESSAGE_ID_PATTERN = re.compile(r"<[^<>\s]+>")
# Bidirectional embedding, override and isolate controls: in a subject or a
# display name they only serve to make text read differently from what it
# is ("invoice\u202egnp.exe"), so they are removed before storing.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


# Fields a later listing or notification may change on a stored header.
# sent_from_organisation and the read-receipt fields are never among them.
HEADER_UPDATE_FIELDS = (
    "nylas_thread_id",
    "internet_message_id",
    "conversation_key",
    "subject",
    "sent_at",
    "date_unreliable",
    "direction",
    "participants",
    "updated_at",
)


class SkipReason:
    MISSING_ID = "missing_id"
    ONLY_OWNER = "no_participant_but_owner"
    NO_CONTACT = "no_saved_contact"


@dataclass
class StoreResult:
    kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    oldest_date: datetime | None = None


@dataclass(frozen=True)
class _Candidate:
    summary: MessageSummary
    participants: dict[str, list[dict[str, str]]]
    others: frozenset[str]
    direction: str
    sent_at: datetime
    date_unreliable: bool
    internet_message_id: str
    own_key: str


def store_messages(
    account: EmailAccount, summaries: Sequence[MessageSummary]
) -> StoreResult:
    """Store the headers of the messages that involve a saved contact.

    Runs a fixed number of queries whatever the number of messages: one
    contact lookup for the whole batch, one upsert, and a few for links and
    conversation keys. Idempotent: storing the same messages again updates
    the same rows (keyed on account and Nylas message id).
    """
    result = StoreResult()
    owner = account.own_addresses()
    candidates = _candidates(summaries, owner, result)
    _name_the_owner(candidates, owner, account.user.get_full_name())
    matches = _match_contacts(account, candidates)

    kept = [candidate for candidate in candidates if matches.get(candidate.summary.id)]
    result.skipped[SkipReason.NO_CONTACT] += len(candidates) - len(kept)
    result.kept = len(kept)
    if kept:
        with transaction.atomic():
            headers = _upsert_headers(account, kept)
            _link_contacts(headers, matches)
    return result


def _candidates(
    summaries: Iterable[MessageSummary], owner: frozenset[str], result: StoreResult
) -> list[_Candidate]:
    candidates = []
    for summary in summaries:
        candidate = _candidate(summary, owner, result)
        if candidate is None:
            continue
        candidates.append(candidate)
        if result.oldest_date is None or candidate.sent_at < result.oldest_date:
            result.oldest_date = candidate.sent_at
    return candidates


def _candidate(
    summary: MessageSummary, owner: frozenset[str], result: StoreResult
) -> _Candidate | None:
    if not summary.id:
        result.skipped[SkipReason.MISSING_ID] += 1
        return None
    if not summary.from_:
        logger.warning("Message %s has no from field; sender unknown", summary.id)

    participants = {role: _normalised(_role(summary, role)) for role in ROLES}
    everyone = {
        entry["email"] for entries in participants.values() for entry in entries
    }
    others = frozenset(email for email in everyone if base_address(email) not in owner)
    if not others:
        result.skipped[SkipReason.ONLY_OWNER] += 1
        return None

    sent_at, unreliable = message_time(summary)
    message_id = first_message_id(summary.header("Message-ID"))
    return _Candidate(
        summary=summary,
        participants=participants,
        others=others,
        direction=_direction(summary, participants, owner),
        sent_at=sent_at,
        date_unreliable=unreliable,
        internet_message_id=message_id,
        own_key=_own_conversation_key(summary, message_id),
    )


def _name_the_owner(
    candidates: Sequence[_Candidate], owner: frozenset[str], name: str
) -> None:
    """Give the owner's own addresses the owner's name where the message
    has none (mail sent through the API or from some phones carries only
    the address)."""
    if not name:
        return
    for candidate in candidates:
        for entries in candidate.participants.values():
            for entry in entries:
                if not entry["name"] and base_address(entry["email"]) in owner:
                    entry["name"] = name


def _role(summary: MessageSummary, role: str) -> tuple[EmailName, ...]:
    return summary.from_ if role == "from" else getattr(summary, role)


def _normalised(entries: Iterable[EmailName]) -> list[dict[str, str]]:
    normalised = []
    for entry in entries:
        email = normalise_email_or_none(entry.email)
        if email:
            name = BIDI_CONTROLS.sub("", entry.name).strip()
            normalised.append({"name": name, "email": email})
    return normalised


def _direction(
    summary: MessageSummary,
    participants: dict[str, list[dict[str, str]]],
    owner: frozenset[str],
) -> str:
    senders = [entry["email"] for entry in participants["from"]]
    if any(base_address(sender) in owner for sender in senders):
        return Direction.SENT
    if not senders and "SENT" in {folder.upper() for folder in summary.folders}:
        return Direction.SENT
    return Direction.RECEIVED


def message_time(summary: MessageSummary) -> tuple[datetime, bool]:
    """Return (time, unreliable): the Nylas date, else created_at, else now.

    A missing or zero date is never shown as 1970; the fallback is flagged
    so that the panel can show the date as unknown.
    """
    if summary.date and summary.date > 0:
        return datetime.fromtimestamp(summary.date, tz=UTC), False
    if summary.created_at and summary.created_at > 0:
        return datetime.fromtimestamp(summary.created_at, tz=UTC), True
    return timezone.now(), True


def first_message_id(value: str) -> str:
    """Return the first `<id@host>` in a header value, or ""."""
    found = MESSAGE_ID_PATTERN.search(value or "")
    return found.group(0)[:998] if found else ""


def _own_conversation_key(summary: MessageSummary, message_id: str) -> str:
    """Key a conversation by its root Message-ID so that one conversation in
    several teammates' mailboxes (whose thread ids differ) groups as one.

    The root is the first id in References, else In-Reply-To, else the
    message's own Message-ID. Without any of them the Nylas thread id is the
    key. An equal subject never is.
    """
    references = MESSAGE_ID_PATTERN.findall(summary.header("References"))
    parent = first_message_id(summary.header("In-Reply-To"))
    root = references[0] if references else parent or message_id
    if root:
        return f"mid:{root[:990]}"
    return f"thread:{summary.grant_id}:{summary.thread_id or summary.id}"[:1000]


def _match_contacts(
    account: EmailAccount, candidates: Sequence[_Candidate]
) -> dict[str, list[tuple[int, int]]]:
    """Map message id to (contact id, organisation id) pairs, in one query."""
    addresses = set().union(*(candidate.others for candidate in candidates))
    if not addresses:
        return {}
    organisation_ids = Membership.objects.filter(user_id=account.user_id).values_list(
        "organisation_id", flat=True
    )
    rows = ContactEmail.objects.for_addresses(organisation_ids, addresses).values_list(
        "email", "contact_id", "organisation_id"
    )
    by_address: dict[str, set[tuple[int, int]]] = {}
    for email, contact_id, organisation_id in rows:
        by_address.setdefault(email, set()).add((contact_id, organisation_id))

    matches = {}
    for candidate in candidates:
        found = set().union(
            *(by_address.get(email, set()) for email in candidate.others)
        )
        if found:
            matches[candidate.summary.id] = sorted(found)
    return matches


def _upsert_headers(
    account: EmailAccount, candidates: Sequence[_Candidate]
) -> list[MessageHeader]:
    keys = _conversation_keys(account, candidates)
    rows = [
        MessageHeader(
            account=account,
            nylas_grant_id=candidate.summary.grant_id or account.nylas_grant_id,
            nylas_message_id=candidate.summary.id,
            nylas_thread_id=candidate.summary.thread_id,
            internet_message_id=candidate.internet_message_id,
            conversation_key=keys[candidate.summary.id],
            subject=BIDI_CONTROLS.sub("", candidate.summary.subject),
            sent_at=candidate.sent_at,
            date_unreliable=candidate.date_unreliable,
            direction=candidate.direction,
            participants=candidate.participants,
        )
        for candidate in _unique_by_id(candidates)
    ]
    ids = upsert_headers(rows, HEADER_UPDATE_FIELDS)
    for row in rows:
        row.pk = ids[row.nylas_message_id]
    return rows


def _unique_by_id(candidates: Sequence[_Candidate]) -> list[_Candidate]:
    """Keep the last of each message id: one statement may not upsert a row twice."""
    return list({candidate.summary.id: candidate for candidate in candidates}.values())


def _conversation_keys(
    account: EmailAccount, candidates: Sequence[_Candidate]
) -> dict[str, str]:
    """Give each message its thread's existing key in this mailbox, if any.

    Within one mailbox Nylas's thread id is authoritative, so a message joins
    the key its thread already has even when its own headers would point
    elsewhere (for example a reply that carries only In-Reply-To).
    """
    thread_ids = {c.summary.thread_id for c in candidates if c.summary.thread_id}
    existing = dict(
        MessageHeader.objects.filter(account=account, nylas_thread_id__in=thread_ids)
        .order_by("created_at", "pk")
        .values_list("nylas_thread_id", "conversation_key")
        .distinct()
    )
    keys = {}
    for candidate in candidates:
        thread_id = candidate.summary.thread_id
        key = existing.get(thread_id) if thread_id else None
        if key is None:
            key = candidate.own_key
            if thread_id:
                existing[thread_id] = key
        keys[candidate.summary.id] = key
    return keys


def _link_contacts(
    headers: Sequence[MessageHeader], matches: dict[str, list[tuple[int, int]]]
) -> None:
    header_ids = [header.pk for header in headers]
    wanted = {
        (header.pk, contact_id): organisation_id
        for header in headers
        for contact_id, organisation_id in matches[header.nylas_message_id]
    }
    current = set(
        HeaderContact.objects.filter(header_id__in=header_ids).values_list(
            "header_id", "contact_id"
        )
    )
    stale = current - wanted.keys()
    if stale:
        HeaderContact.objects.filter(_pairs_query(stale)).delete()
    HeaderContact.objects.bulk_create(
        [
            HeaderContact(header_id=h, contact_id=c, organisation_id=o)
            for (h, c), o in wanted.items()
            if (h, c) not in current
        ],
        ignore_conflicts=True,
    )


def _pairs_query(pairs: Iterable[tuple[int, int]]) -> Q:
    query = Q(pk__in=[])
    for header_id, contact_id in pairs:
        query |= Q(header_id=header_id, contact_id=contact_id)
    return query


def relink_contact(contact_id: int) -> int:
    """Re-check a contact's links after it lost an address, then delete the
    headers no saved contact is linked to any more; return how many."""
    addresses = set(
        ContactEmail.objects.filter(contact_id=contact_id).values_list(
            "email", flat=True
        )
    )
    links = HeaderContact.objects.filter(contact_id=contact_id).select_related(
        "header__account"
    )
    owners: dict[int, frozenset[str]] = {}
    stale = []
    for link in links:
        account = link.header.account
        owner = owners.setdefault(account.pk, account.own_addresses())
        others = {
            entry["email"]
            for entries in link.header.participants.values()
            for entry in entries
            if base_address(entry["email"]) not in owner
        }
        if not others & addresses:
            stale.append(link.pk)
    HeaderContact.objects.filter(pk__in=stale).delete()
    deleted, _ = MessageHeader.objects.filter(headercontact__isnull=True).delete()
    return deleted
