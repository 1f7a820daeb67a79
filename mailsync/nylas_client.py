"""The only module that calls the Nylas SDK.

Everything else in the product works with the frozen dataclasses defined
here and the exceptions below, so that SDK quirks stay in one place:
responses are decoded into plain values, transport failures are sorted into
retryable and permanent errors, and no body or snippet is requested where
only headers are needed.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

import requests
from nylas import Client
from nylas.models.errors import NylasApiError, NylasOAuthError, NylasSdkTimeoutError

logger = logging.getLogger(__name__)

# Top-level message fields needed to store a header: never body or snippet.
HEADER_FIELDS = (
    "id,grant_id,thread_id,subject,from,to,cc,bcc,reply_to,date,created_at,"
    "folders,headers"
)


class NylasError(Exception):
    """A Nylas call failed."""


class NylasRetryableError(NylasError):
    """A failure worth retrying later: 429, 5xx, a timeout or a dropped
    connection. `retry_after` is the server's Retry-After in seconds, if any."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GrantInvalidError(NylasError):
    """The grant is expired, revoked or deleted: the user must reconnect."""


class NylasNotFoundError(NylasError):
    """The requested message (or other object) no longer exists at Nylas."""


class NylasRequestError(NylasError):
    """Nylas rejected the request itself (4xx other than the ones above)."""


@dataclass(frozen=True)
class EmailName:
    name: str
    email: str


@dataclass(frozen=True)
class GrantInfo:
    grant_id: str
    email: str
    provider: str


@dataclass(frozen=True)
class MessageSummary:
    """The header facts of one Nylas message, as listed with `select`."""

    id: str
    grant_id: str
    thread_id: str
    subject: str
    from_: tuple[EmailName, ...]
    to: tuple[EmailName, ...]
    cc: tuple[EmailName, ...]
    bcc: tuple[EmailName, ...]
    reply_to: tuple[EmailName, ...]
    date: int | None
    created_at: int | None
    folders: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str:
        """Return the first value of the named header (case-insensitive), or ""."""
        wanted = name.lower()
        for header_name, value in self.headers:
            if header_name.lower() == wanted:
                return value
        return ""


@dataclass(frozen=True)
class MessagePage:
    messages: tuple[MessageSummary, ...]
    next_cursor: str


@dataclass(frozen=True)
class MessageContent:
    """A message fetched for display. Held in memory for one request only."""

    summary: MessageSummary
    body: str


def get_client(timeout: int | None = None) -> Client:
    return Client(
        api_key=settings.NYLAS_API_KEY,
        api_uri=settings.NYLAS_API_URI,
        timeout=timeout or settings.NYLAS_TIMEOUT_SECONDS,
    )


class _TranslatedErrors:
    """Context manager that turns SDK and transport errors into ours."""

    def __init__(self, action: str, grant_id: str, *, missing_grant: bool) -> None:
        self.action = action
        self.grant_id = grant_id
        self.missing_grant = missing_grant

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type | None, error: BaseException | None, _: Any
    ) -> Literal[False]:
        if error is None or isinstance(error, NylasError):
            return False
        translated = _translate(error, self.action, self.grant_id, self.missing_grant)
        if translated is None:
            return False
        raise translated from error


def _translate(
    error: BaseException, action: str, grant_id: str, missing_grant: bool
) -> NylasError | None:
    where = f"Nylas {action} for grant {grant_id}"
    if isinstance(error, NylasSdkTimeoutError):
        return NylasRetryableError(f"{where} timed out.")
    if isinstance(error, requests.exceptions.JSONDecodeError):
        return NylasRetryableError(f"{where} returned a non-JSON response.")
    if isinstance(error, requests.exceptions.RequestException):
        return NylasRetryableError(
            f"{where} failed to connect: {type(error).__name__}."
        )
    if isinstance(error, NylasOAuthError):
        return NylasRequestError(f"{where} was rejected: {error.error_description}")
    if isinstance(error, NylasApiError):
        return _translate_api_error(error, where, missing_grant)
    return None


def _translate_api_error(
    error: NylasApiError, where: str, missing_grant: bool
) -> NylasError:
    status = error.status_code
    logger.warning(
        "Nylas error status=%s type=%s request_id=%s",
        status,
        error.type,
        error.request_id,
    )
    if status == 429:
        return NylasRetryableError(
            f"{where} was rate limited (429).", _retry_after(error.headers)
        )
    if status >= 500:
        return NylasRetryableError(f"{where} failed with status {status}.")
    if status in (401, 403) or "grant" in str(error.type).lower():
        return GrantInvalidError(
            f"{where} was rejected ({status}): reconnect the mailbox in Settings."
        )
    if status == 404 and missing_grant:
        return GrantInvalidError(
            f"{where}: grant not found (404): reconnect the mailbox in Settings."
        )
    if status == 404:
        return NylasNotFoundError(f"{where}: not found (404).")
    return NylasRequestError(f"{where} was rejected ({status}): {error}")


def _retry_after(headers: Any) -> int | None:
    value = (headers or {}).get("Retry-After")
    try:
        return max(int(value), 0) if value is not None else None
    except (TypeError, ValueError):
        return None


def hosted_auth_url(
    *, login_hint: str, state: str, redirect_uri: str, provider: str | None = None
) -> tuple[str, str]:
    """Build the hosted-auth URL with PKCE; return (url, code verifier).

    The config dict is built fresh on every call because the SDK mutates it.
    """
    config: dict[str, Any] = {
        "client_id": settings.NYLAS_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "login_hint": login_hint,
        "state": state,
        "access_type": "online",
    }
    if provider:
        config["provider"] = provider
    pkce = get_client().auth.url_for_oauth2_pkce(config)
    return pkce.url, pkce.secret


def exchange_code_for_grant(
    *, code: str, redirect_uri: str, code_verifier: str
) -> GrantInfo:
    """Exchange a hosted-auth code for a grant; the tokens are discarded."""
    request: dict[str, Any] = {
        "client_id": settings.NYLAS_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "code": code,
        "code_verifier": code_verifier,
    }
    with _TranslatedErrors("code exchange", "(new)", missing_grant=False):
        response = get_client().auth.exchange_code_for_token(request)
    return GrantInfo(
        grant_id=response.grant_id,
        email=response.email or "",
        provider=response.provider or "",
    )


def revoke_grant(grant_id: str) -> None:
    """Delete the grant at Nylas; a grant that is already gone is not an error."""
    try:
        with _TranslatedErrors("grant delete", grant_id, missing_grant=True):
            get_client().grants.destroy(grant_id)
    except GrantInvalidError:
        logger.info("Grant %s was already gone at Nylas", grant_id)


def list_message_page(
    grant_id: str,
    *,
    received_after: int,
    received_before: int | None,
    page_token: str,
    limit: int,
    any_email: str | None = None,
) -> MessagePage:
    """List one page of message headers, newest first, with no body or snippet.

    This goes through the SDK's own transport (`http_client._execute`: the
    same auth headers, query encoding, timeout and error decoding as
    `messages.list`) but decodes the JSON itself. The SDK's `messages.list`
    turns every message into dataclasses, which measured about 0.6 ms per
    message with SDK 6.18 on 2 cores: more than matching and storing it
    (bench/bench_backfill.py). `_execute` is not public API, so the SDK is
    pinned below 6.19 and test_nylas_client checks this path against
    `messages.list`.
    """
    query: dict[str, Any] = {
        "limit": limit,
        "received_after": received_after,
        "select": HEADER_FIELDS,
        "fields": "include_headers",
    }
    if received_before is not None:
        query["received_before"] = received_before
    if page_token:
        query["page_token"] = page_token
    if any_email:
        query["any_email"] = any_email
    with _TranslatedErrors("message list", grant_id, missing_grant=True):
        payload, _ = get_client().http_client._execute(
            "GET", f"/v3/grants/{grant_id}/messages", query_params=query
        )
    items = payload.get("data") or []
    if isinstance(items, dict):
        items = items.get("items") or []
    messages = tuple(
        summary_from_dict(item) for item in items if isinstance(item, dict)
    )
    cursor = payload.get("next_cursor") or ""
    return MessagePage(messages=messages, next_cursor=str(cursor))


def find_message_summary(grant_id: str, message_id: str) -> MessageSummary:
    """Fetch one message's headers (no body); raises NylasNotFoundError."""
    query = {"select": HEADER_FIELDS, "fields": "include_headers"}
    with _TranslatedErrors("message find", grant_id, missing_grant=False):
        response = get_client().messages.find(
            grant_id,
            message_id,
            query_params=query,
        )
    return _summary_from_sdk(response.data)


def fetch_message_content(grant_id: str, message_id: str) -> MessageContent:
    """Fetch a message with its body for display; the caller must not store it."""
    with _TranslatedErrors("message find", grant_id, missing_grant=False):
        response = get_client().messages.find(
            grant_id, message_id, query_params={"fields": "include_headers"}
        )
    return MessageContent(
        summary=_summary_from_sdk(response.data), body=response.data.body or ""
    )


def stream_inline_attachment(
    grant_id: str, message_id: str, content_id: str, chunk_size: int = 64 * 1024
) -> tuple[str, Iterator[bytes]]:
    """Find the message's attachment with this Content-ID and stream it.

    Returns (content type from the attachment's metadata, chunks). The bytes
    are passed through and never stored; the iterator closes the download
    when it ends. Content-IDs are compared without angle brackets and case.
    Raises NylasNotFoundError when no attachment has that Content-ID.
    """
    wanted = content_id.strip().strip("<>").lower()
    with _TranslatedErrors("message find", grant_id, missing_grant=False):
        response = get_client().messages.find(
            grant_id, message_id, query_params={"select": "id,grant_id,attachments"}
        )
    attachment = next(
        (
            item
            for item in response.data.attachments or ()
            if item.id and (item.content_id or "").strip().strip("<>").lower() == wanted
        ),
        None,
    )
    if attachment is None or not wanted:
        raise NylasNotFoundError(
            f"Message in grant {grant_id} has no attachment with that Content-ID."
        )

    attachment_id = urllib.parse.quote(attachment.id, safe="")
    with _TranslatedErrors("attachment download", grant_id, missing_grant=False):
        download = get_client().attachments.download(
            grant_id, attachment_id, query_params={"message_id": message_id}
        )

    def chunks() -> Iterator[bytes]:
        try:
            yield from download.iter_content(chunk_size)
        finally:
            download.close()

    return attachment.content_type or "", chunks()


def _summary_from_sdk(message: Any) -> MessageSummary:
    return MessageSummary(
        id=message.id or "",
        grant_id=message.grant_id or "",
        thread_id=message.thread_id or "",
        subject=message.subject or "",
        from_=_names(message.from_),
        to=_names(message.to),
        cc=_names(message.cc),
        bcc=_names(message.bcc),
        reply_to=_names(message.reply_to),
        date=message.date or None,
        created_at=message.created_at or None,
        folders=tuple(message.folders or ()),
        headers=tuple(
            (header.name or "", header.value or "") for header in message.headers or ()
        ),
    )


def _names(participants: Any) -> tuple[EmailName, ...]:
    """Decode SDK participants, which arrive as EmailName objects or, for
    `from` (a renamed field the SDK leaves undecoded), as plain dicts."""
    found = []
    for participant in participants or ():
        if isinstance(participant, dict):
            email, name = participant.get("email"), participant.get("name")
        else:
            email = getattr(participant, "email", None)
            name = getattr(participant, "name", None)
        if email:
            found.append(EmailName(name=str(name or ""), email=str(email)))
    return tuple(found)


def summary_from_dict(message: dict[str, Any]) -> MessageSummary:
    """Decode a Nylas message object given as JSON (a webhook's data.object).

    Only header fields are read; a body or snippet in the input is ignored.
    """
    headers = message.get("headers") or []
    return MessageSummary(
        id=str(message.get("id") or ""),
        grant_id=str(message.get("grant_id") or ""),
        thread_id=str(message.get("thread_id") or ""),
        subject=str(message.get("subject") or ""),
        from_=_names_from_dicts(message.get("from")),
        to=_names_from_dicts(message.get("to")),
        cc=_names_from_dicts(message.get("cc")),
        bcc=_names_from_dicts(message.get("bcc")),
        reply_to=_names_from_dicts(message.get("reply_to")),
        date=_int_or_none(message.get("date")),
        created_at=_int_or_none(message.get("created_at")),
        folders=tuple(str(folder) for folder in message.get("folders") or ()),
        headers=tuple(
            (str(header.get("name") or ""), str(header.get("value") or ""))
            for header in headers
            if isinstance(header, dict)
        ),
    )


def _names_from_dicts(participants: Any) -> tuple[EmailName, ...]:
    if not isinstance(participants, list):
        return ()
    found = []
    for participant in participants:
        if isinstance(participant, dict) and participant.get("email"):
            found.append(
                EmailName(
                    name=str(participant.get("name") or ""),
                    email=str(participant["email"]),
                )
            )
    return tuple(found)


def _int_or_none(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


@dataclass(frozen=True)
class WebhookDestination:
    id: str
    url: str
    secret: str


def register_webhook(
    url: str, triggers: list[str], description: str
) -> WebhookDestination:
    """Create the destination for `url`, or update the one that exists.

    Nylas sends a challenge to `url` before it creates a destination, so the
    endpoint must already be reachable. The secret is returned on create
    only; an update returns an empty secret.
    """
    client = get_client()
    with _TranslatedErrors("webhook list", "(application)", missing_grant=False):
        existing = [
            hook for hook in client.webhooks.list().data if hook.webhook_url == url
        ]
    if existing:
        with _TranslatedErrors("webhook update", "(application)", missing_grant=False):
            client.webhooks.update(
                existing[0].id,
                {"trigger_types": triggers, "description": description},
            )
        return WebhookDestination(id=existing[0].id, url=url, secret="")
    with _TranslatedErrors("webhook create", "(application)", missing_grant=False):
        created = client.webhooks.create(
            {"trigger_types": triggers, "webhook_url": url, "description": description}
        ).data
    return WebhookDestination(
        id=created.id, url=url, secret=created.webhook_secret or ""
    )


def rotate_webhook_secret(webhook_id: str) -> str:
    """Ask Nylas for a new signing secret and return it."""
    with _TranslatedErrors("webhook rotate", "(application)", missing_grant=False):
        rotated = get_client().webhooks.rotate_secret(webhook_id).data
    return str(rotated.webhook_secret or "")


# A send must not keep the user's page waiting for Nylas's 90 s default.
SEND_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class SentMessage:
    """The result of a send: the sent copy's header facts."""

    summary: MessageSummary
    replayed: bool


def send_message(
    grant_id: str, build_request: Callable[[], dict[str, Any]], idempotency_key: str
) -> SentMessage:
    """Send one message through the SDK and return the sent copy's headers.

    `build_request` is called for this attempt, because the SDK mutates the
    dict it is given (it renames `from_` and rewrites attachments). For a
    repeated `idempotency_key` Nylas returns the first result for an hour,
    so a retried send never goes out twice. Raises NylasRetryableError,
    GrantInvalidError or NylasRequestError.
    """
    overrides: dict[str, Any] = {
        "headers": {"Idempotency-Key": idempotency_key},
        "timeout": getattr(
            settings, "NYLAS_SEND_TIMEOUT_SECONDS", SEND_TIMEOUT_SECONDS
        ),
    }
    with _TranslatedErrors("message send", grant_id, missing_grant=True):
        response = get_client().messages.send(
            grant_id,
            build_request(),
            overrides=overrides,
        )
    replayed = str((response.headers or {}).get("Idempotent-Response", "")) == "true"
    logger.info(
        "Sent message %s for grant %s (replayed=%s)",
        response.data.id,
        grant_id,
        replayed,
    )
    return SentMessage(summary=_summary_from_sdk(response.data), replayed=replayed)
