"""Opening a message: its header from our store, its body live from Nylas.

The body is fetched on every request, rendered into a sandboxed frame and
never stored or cached (responses carry Cache-Control: no-store).
"""

from __future__ import annotations

import logging

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from contacts.access import OrganisationRequest, organisation_member_required
from mailsync import nylas_client
from mailsync.body import render_body_document
from mailsync.models import MessageHeader
from mailsync.panel import visible_headers

logger = logging.getLogger(__name__)

FRAME_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "font-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)


def _visible_header(request: OrganisationRequest, header_id: int) -> MessageHeader:
    return get_object_or_404(
        visible_headers(request.organisation).select_related("account__user"),
        pk=header_id,
    )


@organisation_member_required
@require_GET
@never_cache
def message_detail(request: OrganisationRequest, header_id: int) -> HttpResponse:
    header = _visible_header(request, header_id)
    template = "mailsync/_message.html" if request.htmx else "mailsync/message.html"
    return render(
        request,
        template,
        {"organisation": request.organisation, "header": header},
    )


@organisation_member_required
@require_GET
@never_cache
@xframe_options_sameorigin
def message_body(request: OrganisationRequest, header_id: int) -> HttpResponse:
    """The document inside the sandboxed frame, with its own strict CSP."""
    header = _visible_header(request, header_id)
    try:
        content = nylas_client.fetch_message_content(
            header.nylas_grant_id, header.nylas_message_id
        )
        document = render_body_document(content.body)
    except (nylas_client.NylasNotFoundError, nylas_client.GrantInvalidError):
        document = render_body_document(None, unavailable=True)
    except nylas_client.NylasError as error:
        logger.warning("Body of header %s could not be fetched: %s", header.pk, error)
        document = render_body_document(None, failed=True)
    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = FRAME_CSP
    return response
