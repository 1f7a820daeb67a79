"""The Nylas webhook endpoint: verify, record, hand off, respond.

The response is sent before any Nylas call or heavy work. The view records
the notification (ids only) and makes sure a drain task is queued, which
processes recorded notifications in the worker.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from mailsync import notifications, webhooks

logger = logging.getLogger(__name__)


@csrf_exempt
def nylas_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _challenge(request)
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})

    # Read the raw bytes before anything parses them: the signature covers
    # these exact bytes, and re-serialised JSON would not match.
    raw_body = request.body
    signature = request.headers.get("X-Nylas-Signature", "")
    if not webhooks.signature_is_valid(raw_body, signature, webhooks.signing_secrets()):
        # 401, not 200: an unsigned or forged request must change nothing,
        # and Nylas does not retry 4xx responses.
        logger.warning("Webhook rejected: missing or invalid signature")
        return HttpResponse("Invalid signature.", status=401, content_type="text/plain")

    try:
        body = webhooks.decode_body(
            raw_body, request.headers.get("Content-Encoding", "")
        )
        notification = webhooks.parse_notification(body)
    except webhooks.InvalidNotification as error:
        # A signed but unreadable body: 400 and a log line, never a 500.
        logger.warning("Webhook rejected: %s", error)
        return HttpResponse(str(error), status=400, content_type="text/plain")

    # Duplicates get 200 too, so that Nylas stops retrying them.
    notifications.accept(notification)
    return HttpResponse("OK", content_type="text/plain")


def _challenge(request: HttpRequest) -> HttpResponse:
    """Echo the challenge as the raw body, which Nylas requires to activate
    a destination."""
    challenge = request.GET.get("challenge")
    if not challenge:
        return HttpResponse("Missing challenge.", status=400, content_type="text/plain")
    return HttpResponse(challenge, content_type="text/plain")
