"""Opening a message: its header from our store, its body live from Nylas.

The body is fetched on every request, rendered into a sandboxed frame and
never stored or cached (responses carry Cache-Control: no-store). Remote
images stay blocked until the reader asks for them with `?images=1`, and
then load through the signed image proxy.
"""

from __future__ import annotations

import logging
from functools import partial

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from contacts.access import OrganisationRequest, organisation_member_required
from mailsync import nylas_client, tracking
from mailsync.body import render_body_document, render_notice_document
from mailsync.models import Direction, MessageHeader
from mailsync.panel import visible_headers
from mailsync.sanitizer import ImagePolicy
from mailsync.views.images import INLINE, REMOTE, sign_image_url

logger = logging.getLogger(__name__)

# The frame document is sandboxed twice: by the iframe attribute and by the
# CSP sandbox directive, which also holds when the body URL is opened as a
# page of its own. Neither allows scripts or the product's origin.
FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"


def _visible_header(request: OrganisationRequest, header_id: int) -> MessageHeader:
    return get_object_or_404(
        visible_headers(request.organisation).select_related("account__user"),
        pk=header_id,
    )


def _images_requested(request: OrganisationRequest) -> bool:
    return request.GET.get("images") == "1"


@organisation_member_required
@require_GET
@never_cache
def message_detail(request: OrganisationRequest, header_id: int) -> HttpResponse:
    header = _visible_header(request, header_id)
    show_images = _images_requested(request)
    template = "mailsync/_message.html" if request.htmx else "mailsync/message.html"
    body_url = reverse(
        "mailsync:message-body", args=[request.organisation.slug, header.pk]
    )
    if show_images:
        body_url = f"{body_url}?images=1"
    context = {
        "organisation": request.organisation,
        "header": header,
        "show_images": show_images,
        "body_url": body_url,
        "frame_sandbox": FRAME_SANDBOX,
    }
    return render(request, template, context)


@organisation_member_required
@require_GET
@never_cache
@xframe_options_sameorigin
def message_body(request: OrganisationRequest, header_id: int) -> HttpResponse:
    """Render the document inside the sandboxed frame, with its own strict CSP."""
    header = _visible_header(request, header_id)
    show_images = _images_requested(request)
    tracking.record_own_view(request, header)

    try:
        content = nylas_client.fetch_message_content(
            header.nylas_grant_id, header.nylas_message_id
        )
        document = render_body_document(
            content.body, _image_policy(request, header, show_images)
        )
    except nylas_client.NylasNotFoundError:
        document = render_notice_document("unavailable")
    except nylas_client.GrantInvalidError:
        document = render_notice_document("disconnected")
    except nylas_client.NylasError as error:
        logger.warning("Body of header %s could not be fetched: %s", header.pk, error)
        document = render_notice_document("failed")

    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = frame_policy(request, header, show_images)
    response["Referrer-Policy"] = "no-referrer"
    return response


def _image_policy(
    request: OrganisationRequest, header: MessageHeader, show_images: bool
) -> ImagePolicy:
    sign = partial(
        sign_image_url, request.user.pk, request.organisation.slug, header.pk
    )
    return ImagePolicy(
        remote=partial(sign, REMOTE) if show_images else None,
        inline=partial(sign, INLINE),
        drop_tiny_images=header.direction == Direction.SENT,
    )


def frame_policy(
    request: OrganisationRequest, header: MessageHeader, show_images: bool
) -> str:
    """Return the frame document's CSP: nothing may load or run except
    inline styles, data: images and this message's own image routes."""
    host = request.get_host()
    slug = request.organisation.slug
    image_sources = ["data:"]
    inline_path = reverse("mailsync:message-cid", args=[slug, header.pk])
    image_sources.append(f"{host}{inline_path}")
    if show_images:
        remote_path = reverse("mailsync:message-image", args=[slug, header.pk])
        image_sources.append(f"{host}{remote_path}")
    return "; ".join(
        [
            "default-src 'none'",
            f"img-src {' '.join(image_sources)}",
            "style-src 'unsafe-inline'",
            "font-src data:",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
            f"sandbox {FRAME_SANDBOX}",
        ]
    )
