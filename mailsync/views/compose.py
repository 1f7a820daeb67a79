"""Writing, replying and sending email from contact and property pages.

The compose form is an htmx fragment. Its hidden `form_key`, made when the
form is first rendered, names the send at Nylas (Idempotency-Key) and in
read receipts (tracking label), so pressing Send again after a failure
never sends twice. Nothing the user types is stored on the server: a failed
send re-renders the form with the typed values.
"""

from __future__ import annotations

import copy
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from contacts.access import (
    AuthenticatedHttpRequest,
    OrganisationRequest,
    organisation_member_required,
)
from contacts.addresses import (
    InvalidAddress,
    base_address,
    normalise_email,
    normalise_email_or_none,
)
from contacts.models import Contact, ContactEmail
from mailsync import backfill, compose, nylas_client
from mailsync.compose import ComposeError, Draft
from mailsync.headers import store_messages
from mailsync.models import EmailAccount, MessageHeader
from mailsync.nylas_client import EmailName, MessageSummary
from mailsync.panel import visible_headers

logger = logging.getLogger(__name__)

ADDRESS_FIELDS = ("to", "cc", "bcc")


@dataclass
class ComposeForm:
    """The values of the compose form, as first rendered or as typed."""

    form_key: str
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    reply_header_id: str = ""
    reply_all: bool = False
    contact_id: str = ""
    quote: str = ""
    insert_signature: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    failure: str = ""
    retryable: bool = False
    notice: str = ""

    @classmethod
    def from_post(cls, data: Any) -> ComposeForm:
        return cls(
            form_key=_clean_key(data.get("form_key", "")),
            to=data.get("to", ""),
            cc=data.get("cc", ""),
            bcc=data.get("bcc", ""),
            subject=data.get("subject", ""),
            body=data.get("body", ""),
            reply_header_id=data.get("reply_header", ""),
            reply_all=data.get("reply_all") == "1",
            contact_id=data.get("contact", ""),
        )


def _clean_key(value: str) -> str:
    """Keep a submitted form key only if it is one we could have made."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return str(uuid.uuid4())


def _account_of(request: AuthenticatedHttpRequest) -> EmailAccount | None:
    return EmailAccount.objects.filter(user_id=request.user.pk).first()


def _render_form(
    request: OrganisationRequest, form: ComposeForm, account: EmailAccount | None
) -> HttpResponse:
    template = (
        "mailsync/_compose.html" if request.htmx else "mailsync/compose_page.html"
    )
    context = {"organisation": request.organisation, "form": form, "account": account}
    return render(request, template, context)


def _teammate_addresses(request: OrganisationRequest) -> frozenset[str]:
    """Login and mailbox addresses of the organisation's members, without +tags."""
    members = User.objects.filter(memberships__organisation=request.organisation)
    raw = [*members.values_list("email", flat=True)]
    raw += EmailAccount.objects.filter(user__in=members).values_list("email", flat=True)
    found = {normalise_email_or_none(address) for address in raw}
    return frozenset(base_address(address) for address in found if address)


@organisation_member_required
@require_GET
@never_cache
def compose_new(request: OrganisationRequest) -> HttpResponse:
    """Render a new message, To prefilled with the contact named in `?contact=`."""
    account = _account_of(request)
    form = ComposeForm(form_key=str(uuid.uuid4()))
    contact_id = request.GET.get("contact", "")
    if contact_id.isdigit():
        contact = get_object_or_404(
            Contact, pk=int(contact_id), organisation=request.organisation
        )
        form.contact_id = str(contact.pk)
        form.to = _contact_recipient(contact)
    if account is not None:
        form.body = compose.initial_body(
            account.signature_html, account.signature_in_new
        )
        form.insert_signature = account.signature_in_new
    return _render_form(request, form, account)


def _contact_recipient(contact: Contact) -> str:
    email = contact.primary_email
    if not email:
        return ""
    return compose.format_address(EmailName(name=contact.name, email=email))


@organisation_member_required
@require_GET
@never_cache
def compose_reply(request: OrganisationRequest, header_id: int) -> HttpResponse:
    """Render a reply (reply-all with `?all=1`) to a message on the panel."""
    account = _account_of(request)
    header = get_object_or_404(visible_headers(request.organisation), pk=header_id)
    reply_all = request.GET.get("all") == "1"
    form = ComposeForm(
        form_key=str(uuid.uuid4()),
        reply_header_id=str(header.pk),
        reply_all=reply_all,
        contact_id=request.GET.get("contact", ""),
        subject=compose.reply_subject(header.subject),
    )
    if account is None:
        return _render_form(request, form, account)

    form.body = compose.initial_body(
        account.signature_html, account.signature_in_replies
    )
    form.insert_signature = account.signature_in_replies
    try:
        parent, quote = _fetch_parent(account, header)
    except nylas_client.NylasError as error:
        logger.warning("Reply to header %s: parent not fetched: %s", header.pk, error)
        form.failure = "The original message could not be loaded from your mailbox."
        form.retryable = True
        return _render_form(request, form, account)

    if _own_copy(account, header) is None:
        form.notice = (
            "This message is not in your own mailbox, so the recipients' mail "
            "programs will show your reply as a new conversation. In Convex it "
            "stays in this thread."
        )
    to, cc = compose.reply_recipients(
        parent, account.own_addresses(), reply_all=reply_all
    )
    form.to = compose.format_address_list(to)
    form.cc = compose.format_address_list(cc)
    form.quote = quote
    return _render_form(request, form, account)


def _own_copy(account: EmailAccount, header: MessageHeader) -> MessageHeader | None:
    """The same message in the user's own mailbox, which a reply must name."""
    if header.account_id == account.pk:
        return header
    if not header.internet_message_id:
        return None
    return MessageHeader.objects.filter(
        account=account, internet_message_id=header.internet_message_id
    ).first()


def _fetch_parent(
    account: EmailAccount, header: MessageHeader
) -> tuple[MessageSummary, str]:
    """Fetch the parent live from Nylas and return its headers and its quote."""
    own = _own_copy(account, header) or header
    content = nylas_client.fetch_message_content(
        own.nylas_grant_id, own.nylas_message_id
    )
    return content.summary, compose.quote_html(content.summary, content.body)


@organisation_member_required
@require_POST
@never_cache
def send(request: OrganisationRequest) -> HttpResponse:
    """Check the form, send through Nylas, store the sent header at once."""
    account = _account_of(request)
    form = ComposeForm.from_post(request.POST)
    if account is None:
        return _render_form(request, form, account)

    try:
        draft, quote_header = _draft_from_form(request, account, form)
    except ComposeError as error:
        form.errors[error.field] = str(error)
        return _render_form(request, form, account)

    try:
        request_body = _request_with_quote(account, draft, quote_header, form)
        key = compose.idempotency_key(form.form_key, request_body)
        sent = nylas_client.send_message(
            account.nylas_grant_id, lambda: copy.deepcopy(request_body), key
        )
    except nylas_client.NylasError as error:
        _explain_failure(account, form, error)
        return _render_form(request, form, account)

    unthreaded_parent = quote_header if not draft.reply_to_message_id else None
    _store_sent(
        request,
        account,
        sent.summary,
        compose.tracking_label(form.form_key),
        unthreaded_parent,
    )
    return _render_sent(request, account, form, draft)


def _draft_from_form(
    request: OrganisationRequest, account: EmailAccount, form: ComposeForm
) -> tuple[Draft, MessageHeader | None]:
    recipients = {
        name: compose.parse_recipients(name, getattr(form, name))
        for name in ADDRESS_FIELDS
    }
    if not recipients["to"]:
        raise ComposeError("to", "Add at least one recipient in To.")
    if not compose.has_text(form.body) and not form.subject.strip():
        raise ComposeError("body", "Write a subject or a message before sending.")

    header = None
    reply_to_id = ""
    if form.reply_header_id.isdigit():
        header = get_object_or_404(
            visible_headers(request.organisation), pk=int(form.reply_header_id)
        )
        own_copy = _own_copy(account, header)
        reply_to_id = own_copy.nylas_message_id if own_copy else ""
    draft = Draft(
        to=recipients["to"],
        cc=recipients["cc"],
        bcc=recipients["bcc"],
        subject=form.subject.strip(),
        body_html=form.body,
        reply_to_message_id=reply_to_id,
    )
    return draft, header


def _request_with_quote(
    account: EmailAccount,
    draft: Draft,
    quote_header: MessageHeader | None,
    form: ComposeForm,
) -> dict[str, Any]:
    """Build the send request. A reply quotes its parent, fetched live now."""
    quote = ""
    if quote_header is not None:
        _, quote = _fetch_parent(account, quote_header)
        form.quote = quote
    body = compose.outgoing_body(draft.body_html, quote)
    ready = Draft(**{**draft.__dict__, "body_html": body})
    return compose.build_send_request(ready, compose.tracking_label(form.form_key))


def _explain_failure(
    account: EmailAccount, form: ComposeForm, error: nylas_client.NylasError
) -> None:
    """Put a plain-words reason on the form; the typed message stays in it."""
    logger.warning("Send for account %s failed: %s", account.pk, error)
    form.retryable = True
    if isinstance(error, nylas_client.GrantInvalidError):
        backfill.mark_reconnect_required(account, "Nylas refused a send.")
        form.failure = (
            "Not sent: your mailbox connection has expired. Reconnect it under "
            "Settings → Email Integration, then press Send again."
        )
    elif isinstance(error, nylas_client.NylasRetryableError):
        form.failure = _retryable_reason(error)
    else:
        form.retryable = False
        form.failure = f"Not sent: the email service rejected the message ({error})"


def _retryable_reason(error: nylas_client.NylasRetryableError) -> str:
    text = str(error)
    if "rate limited" in text:
        wait = f"{error.retry_after} seconds" if error.retry_after else "a minute"
        return (
            "Not sent: your mailbox is sending too fast for the provider. "
            f"Wait {wait}, then press Send again."
        )
    if "timed out" in text:
        return (
            "The email service did not answer in time, so the message may not "
            "have gone out. Press Send again: it will not be sent twice."
        )
    return (
        "Not sent: the email service failed. Press Send again; a message that "
        "did go out will not be sent twice."
    )


def _store_sent(
    request: OrganisationRequest,
    account: EmailAccount,
    summary: MessageSummary,
    label: str,
    parent: MessageHeader | None = None,
) -> None:
    """Store the sent copy's header at once, marked with this organisation.

    The headers are re-read (no body) to learn the Message-ID, which the
    send response does not carry; when that read fails the send response is
    stored and later notifications fill in the rest. store_messages keeps it
    only if a recipient is a saved contact, and never overwrites the mark or
    the tracking fields set here.
    """
    try:
        summary = nylas_client.find_message_summary(account.nylas_grant_id, summary.id)
    except nylas_client.NylasError as error:
        logger.info("Sent message %s not re-read: %s", summary.id, error)

    store_messages(account, [summary])
    marks: dict[str, Any] = {
        "sent_from_organisation": request.organisation,
        "tracking_label": label,
    }
    if parent is not None:
        # Without its own copy of the parent the provider cannot thread the
        # reply, so the panel keeps it in the parent's conversation itself.
        marks["conversation_key"] = parent.conversation_key
    MessageHeader.objects.filter(account=account, nylas_message_id=summary.id).update(
        **marks
    )


def _render_sent(
    request: OrganisationRequest, account: EmailAccount, form: ComposeForm, draft: Draft
) -> HttpResponse:
    offers = _unsaved_recipients(request, account, draft.recipients())
    panel_url = ""
    if form.contact_id.isdigit():
        panel_url = reverse(
            "mailsync:contact-emails",
            args=[request.organisation.slug, int(form.contact_id)],
        )
    if not request.htmx:
        messages.success(request, "Message sent.")
        return redirect("contacts:list", request.organisation.slug)
    context = {
        "organisation": request.organisation,
        "offers": offers,
        "panel_url": panel_url,
    }
    return render(request, "mailsync/_compose_sent.html", context)


def _unsaved_recipients(
    request: OrganisationRequest,
    account: EmailAccount,
    recipients: tuple[EmailName, ...],
) -> list[EmailName]:
    """Recipients that are neither the user, a teammate in this organisation,
    nor a contact of it."""
    own = account.own_addresses()
    addresses = [entry.email for entry in recipients]
    saved = set(
        ContactEmail.objects.filter(
            organisation=request.organisation, email__in=addresses
        ).values_list("email", flat=True)
    )
    teammates = _teammate_addresses(request)
    offers: dict[str, EmailName] = {}
    for entry in recipients:
        known = entry.email in saved or base_address(entry.email) in own | teammates
        if known:
            continue
        name = entry.name or entry.email.partition("@")[0]
        offers.setdefault(entry.email, EmailName(name=name, email=entry.email))
    return list(offers.values())


@organisation_member_required
@require_POST
def save_contact(request: OrganisationRequest) -> HttpResponse:
    """Save one recipient as a contact of the current organisation."""
    name = request.POST.get("name", "").strip()[:200]
    raw_email = request.POST.get("email", "")
    try:
        email = normalise_email(raw_email)
    except InvalidAddress as error:
        return render(request, "mailsync/_compose_saved.html", {"error": str(error)})
    if not name:
        name = email.partition("@")[0]

    try:
        with transaction.atomic():
            contact = Contact.objects.create(
                organisation=request.organisation, name=name
            )
            contact.add_email(email, primary=True)
    except IntegrityError:
        return render(
            request,
            "mailsync/_compose_saved.html",
            {"error": f"{email} is already saved as a contact here."},
        )
    logger.info("Saved contact %s from a sent message", contact.pk)
    context = {"contact": contact, "organisation": request.organisation}
    return render(request, "mailsync/_compose_saved.html", context)


@login_required
@require_POST
def save_signature(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Save the signature (sanitised here) and its two switches."""
    account = _account_of(request)
    if account is None:
        messages.error(request, "Connect a mailbox before adding a signature.")
        return redirect("mailsync:settings")

    raw = request.POST.get("signature_html", "")
    clean = compose.sanitise_signature_html(raw)
    account.signature_html = clean if compose.has_text(clean) else ""
    account.signature_in_new = request.POST.get("signature_in_new") == "on"
    account.signature_in_replies = request.POST.get("signature_in_replies") == "on"
    account.save(
        update_fields=["signature_html", "signature_in_new", "signature_in_replies"]
    )
    messages.success(request, "Signature saved.")
    return redirect("mailsync:settings")
