"""What the Contact Details Panel shows: a contact's email with the team.

Visibility, in one place:
- a header is shown in organisation O for contact C when it is linked to C
  (a contact of O) and its mailbox owner is a member of O;
- mail sent from inside the product is marked with the organisation it was
  sent from and shows only there;
- everything else shows in every organisation where the contact exists and
  the owner is a member.
The same email in several teammates' mailboxes is shown once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

from django.core.paginator import Page, Paginator
from django.db.models import Exists, Max, OuterRef, Q, QuerySet

from contacts.models import Contact, Organisation
from mailsync.models import HeaderContact, MessageHeader

THREADS_PER_PAGE = 20


class ThreadKey(TypedDict):
    """A row of the thread page: a conversation and the time of its newest
    header."""

    conversation_key: str
    latest: datetime


@dataclass
class PanelMessage:
    """One email on the panel, with every mailbox it was found in."""

    header: MessageHeader
    mailbox_owners: list[str] = field(default_factory=list)


@dataclass
class PanelThread:
    key: str
    messages: list[PanelMessage]

    @property
    def latest(self) -> PanelMessage:
        return self.messages[0]

    @property
    def subject(self) -> str:
        return self.messages[-1].header.display_subject


def _shown_in(organisation: Organisation) -> Q:
    # A user has one membership per organisation, so this join adds no rows.
    return Q(account__user__memberships__organisation=organisation) & (
        Q(sent_from_organisation__isnull=True) | Q(sent_from_organisation=organisation)
    )


def visible_headers(organisation: Organisation) -> QuerySet[MessageHeader]:
    """Headers that members of `organisation` may see, for any of its contacts."""
    linked = HeaderContact.objects.filter(
        header=OuterRef("pk"), organisation=organisation
    )
    return MessageHeader.objects.filter(_shown_in(organisation), Exists(linked))


def contact_headers(
    organisation: Organisation, contact: Contact
) -> QuerySet[MessageHeader]:
    """Return the contact's visible headers. Each appears once, because
    (header, contact) links are unique."""
    return MessageHeader.objects.filter(
        _shown_in(organisation),
        headercontact__contact=contact,
        headercontact__organisation=organisation,
    )


def contact_threads(
    organisation: Organisation, contact: Contact, page_number: str | int | None
) -> tuple[Page[ThreadKey], list[PanelThread]]:
    """Return one page of the contact's threads, newest first, in three queries
    (count, thread keys, headers) whatever the size of the history."""
    headers = contact_headers(organisation, contact)
    keys = (
        headers.values("conversation_key")
        .annotate(latest=Max("sent_at"))
        .order_by("-latest", "conversation_key")
    )
    page = Paginator(keys, THREADS_PER_PAGE).get_page(page_number)
    page_keys = [str(row["conversation_key"]) for row in page.object_list]
    rows = (
        headers.filter(conversation_key__in=page_keys)
        .select_related("account__user")
        .order_by("-sent_at", "pk")
    )
    return page, _group(page_keys, rows)


def _group(keys: list[str], rows: QuerySet[MessageHeader]) -> list[PanelThread]:
    threads: dict[str, PanelThread] = {key: PanelThread(key, []) for key in keys}
    seen: dict[str, PanelMessage] = {}
    for header in rows:
        owner = header.account.user.get_full_name() or header.account.email
        identity = header.internet_message_id or f"pk:{header.pk}"
        if identity in seen:
            if owner not in seen[identity].mailbox_owners:
                seen[identity].mailbox_owners.append(owner)
            continue
        message = PanelMessage(header=header, mailbox_owners=[owner])
        seen[identity] = message
        threads[header.conversation_key].messages.append(message)
    return [thread for thread in threads.values() if thread.messages]
