"""Images of an open message: the remote-image proxy and inline cid: parts.

A message body is shown in a sandboxed frame without allow-same-origin, so
the browser treats the frame as another site and does not send our
SameSite=Lax session cookie with its image requests. The body view therefore
signs each image URL for the reader (user, organisation, message and target,
valid for IMAGE_LINK_MAX_AGE_SECONDS). These views accept that signature in
place of the session and then apply the same checks as every message view:
the signer is still a member of the organisation and may still see the
message. A logged-in request whose user differs from the signer gets 404.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from contacts.models import Membership
from mailsync import image_proxy, nylas_client
from mailsync.models import MessageHeader
from mailsync.panel import visible_headers
from mailsync.sanitizer import is_tracking_url

logger = logging.getLogger(__name__)

SIGNING_SALT = "mailsync.message-images"
REMOTE = "image"
INLINE = "cid"
# Sent with every image we serve: never cached, never sniffed as another
# type, and sandboxed without scripts if someone opens it as a page.
IMAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(frozen=True)
class ImageGrant:
    """A verified image request: who asked and for which message."""

    user: User
    header: MessageHeader


def sign_image_url(
    user_id: int, organisation_slug: str, header_id: int, kind: str, target: str
) -> str:
    """Return the path of a signed image URL for the message frame.

    `kind` is REMOTE (target is the remote http(s) URL) or INLINE (target
    is the Content-ID of an inline part).
    """
    route = "mailsync:message-image" if kind == REMOTE else "mailsync:message-cid"
    path = reverse(route, args=[organisation_slug, header_id])
    signed = _signer().sign(
        _signed_value(kind, organisation_slug, header_id, target, user_id)
    )
    signature = signed.rsplit(":", 2)
    token = f"{user_id}:{signature[1]}:{signature[2]}"
    parameter = "url" if kind == REMOTE else "id"
    return f"{path}?{urlencode({parameter: target, 'sig': token})}"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SIGNING_SALT)


def _signed_value(
    kind: str, organisation_slug: str, header_id: int, target: str, user_id: int
) -> str:
    return f"{kind}\n{organisation_slug}\n{header_id}\n{user_id}\n{target}"


def _verified_user_id(
    token: str, kind: str, organisation_slug: str, header_id: int, target: str
) -> int | None:
    user_text, _, signature = token.partition(":")
    if not user_text.isdigit() or not signature:
        return None
    value = _signed_value(kind, organisation_slug, header_id, target, int(user_text))
    try:
        _signer().unsign(
            f"{value}:{signature}", max_age=settings.IMAGE_LINK_MAX_AGE_SECONDS
        )
    except signing.BadSignature:
        return None
    return int(user_text)


def _authorise(
    request: HttpRequest, organisation_slug: str, header_id: int, kind: str, target: str
) -> ImageGrant | HttpResponseBase:
    """Return the verified grant, or the response to send instead."""
    token = request.GET.get("sig", "")
    user_id = _verified_user_id(token, kind, organisation_slug, header_id, target)
    if user_id is None:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise Http404("The image link is invalid or has expired.")
    if request.user.is_authenticated and request.user.pk != user_id:
        raise Http404("The image link belongs to another user.")

    membership = (
        Membership.objects.select_related("organisation", "user")
        .filter(user_id=user_id, user__is_active=True)
        .filter(organisation__slug=organisation_slug)
        .first()
    )
    if membership is None:
        raise Http404("No such organisation.")
    header = (
        visible_headers(membership.organisation)
        .filter(pk=header_id)
        .select_related("account")
        .first()
    )
    if header is None:
        raise Http404("No such message.")
    return ImageGrant(user=membership.user, header=header)


@require_GET
@never_cache
def message_image(
    request: HttpRequest, organisation_slug: str, header_id: int
) -> HttpResponseBase:
    """Serve one remote image of a message through the checked fetcher."""
    url = request.GET.get("url", "")
    grant = _authorise(request, organisation_slug, header_id, REMOTE, url)
    if not isinstance(grant, ImageGrant):
        return grant
    if is_tracking_url(url):
        raise Http404("Tracking images are never loaded.")

    try:
        image = image_proxy.fetch_image(url)
    except image_proxy.ImageRejectedError as error:
        logger.info("Image of header %s rejected: %s", grant.header.pk, error)
        raise Http404("The image is not available.") from error
    except image_proxy.ImageFetchError as error:
        logger.info("Image of header %s failed: %s", grant.header.pk, error)
        return _with_image_headers(HttpResponse(status=502))

    response = HttpResponse(image.content, content_type=image.content_type)
    return _with_image_headers(response)


@require_GET
@never_cache
def message_inline_image(
    request: HttpRequest, organisation_slug: str, header_id: int
) -> HttpResponseBase:
    """Stream one inline (cid:) image of a message from Nylas, unstored."""
    content_id = request.GET.get("id", "")
    grant = _authorise(request, organisation_slug, header_id, INLINE, content_id)
    if not isinstance(grant, ImageGrant):
        return grant

    header = grant.header
    try:
        content_type, chunks = nylas_client.stream_inline_attachment(
            header.nylas_grant_id, header.nylas_message_id, content_id
        )
    except nylas_client.NylasError as error:
        logger.info("Inline image of header %s unavailable: %s", header.pk, error)
        raise Http404("The image is not available.") from error

    if (
        content_type.split(";")[0].strip().lower()
        not in image_proxy.IMAGE_CONTENT_TYPES
    ):
        _close(chunks)
        raise Http404("The inline part is not a raster image.")
    response = StreamingHttpResponse(chunks, content_type=content_type)
    return _with_image_headers(response)


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _with_image_headers(response: HttpResponseBase) -> HttpResponseBase:
    for name, value in IMAGE_HEADERS.items():
        response[name] = value
    return response
