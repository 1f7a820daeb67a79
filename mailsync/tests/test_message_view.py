"""The message view, its frame document and its image routes over HTTP.

Nylas is replaced by patching `mailsync.nylas_client`, the product's only
SDK caller, so these tests check access control, headers and rendering.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

import pytest

from contacts.models import Organisation
from mailsync import nylas_client
from mailsync.image_proxy import FetchedImage
from mailsync.models import Direction, EmailAccount, HeaderContact, MessageHeader
from mailsync.views.images import INLINE, REMOTE, sign_image_url

HTML_BODY = (
    '<p onclick="alert(1)">Hello <b>Dana</b></p>'
    '<img src="https://img.example/logo.png" alt="logo">'
    '<img src="cid:logo@example.com" alt="inline">'
    '<img src="https://tracking.us.nylas.com/open/abc" width="1" height="1">'
    '<a href="https://example.com/offer">offer</a>'
)
HOSTILE_NAME = '<script>alert("name")</script>'


@pytest.fixture
def header(
    org_a: Organisation,
    alice: User,
    make_account: Callable[..., EmailAccount],
    make_contact: Callable[..., Any],
) -> MessageHeader:
    account = make_account(alice)
    contact = make_contact(org_a, "Dana Whitfield", "dana@example.org")
    created = MessageHeader.objects.create(
        account=account,
        nylas_grant_id=account.nylas_grant_id,
        nylas_message_id="msg-1",
        conversation_key="conv-1",
        subject='<img src=x onerror="alert(1)"> Renewal',
        sent_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        direction=Direction.RECEIVED,
        participants={
            "from": [{"name": HOSTILE_NAME, "email": "dana@example.org"}],
            "to": [{"name": "Alice", "email": "alice@acme.example.com"}],
        },
    )
    HeaderContact.objects.create(header=created, contact=contact, organisation=org_a)
    return created


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def urls(header: MessageHeader, slug: str = "acme-north") -> dict[str, str]:
    args = [slug, header.pk]
    return {
        "message": reverse("mailsync:message", args=args),
        "body": reverse("mailsync:message-body", args=args),
        "image": reverse("mailsync:message-image", args=args),
        "cid": reverse("mailsync:message-cid", args=args),
    }


def content_for(body: str) -> nylas_client.MessageContent:
    summary = nylas_client.summary_from_dict({"id": "msg-1", "grant_id": "g"})
    return nylas_client.MessageContent(summary=summary, body=body)


@pytest.fixture
def nylas_body() -> Iterator[mock.MagicMock]:
    with mock.patch.object(
        nylas_client, "fetch_message_content", return_value=content_for(HTML_BODY)
    ) as patched:
        yield patched


def frame_document(client: Client, url: str) -> str:
    return client.get(url).content.decode()


@pytest.mark.parametrize("route", ["message", "body", "image", "cid"])
def test_routes_hide_message_from_other_org(
    route: str, header: MessageHeader, carol: User, nylas_body: mock.MagicMock
) -> None:
    response = client_for(carol).get(urls(header)[route])
    assert response.status_code == 404


@pytest.mark.parametrize("route", ["image", "cid"])
def test_image_routes_reject_link_signed_for_another_user(
    route: str, header: MessageHeader, alice: User, bob: User
) -> None:
    kind = REMOTE if route == "image" else INLINE
    target = "https://img.example/a.png" if route == "image" else "logo@example.com"
    url = sign_image_url(alice.pk, "acme-north", header.pk, kind, target)
    response = client_for(bob).get(url)
    assert response.status_code == 404


@pytest.mark.parametrize("route", ["message", "body", "image", "cid"])
def test_routes_redirect_anonymous_to_login(route: str, header: MessageHeader) -> None:
    response = Client().get(urls(header)[route])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_message_page_escapes_header_fields(header: MessageHeader, alice: User) -> None:
    page = client_for(alice).get(urls(header)["message"]).content.decode()
    assert HOSTILE_NAME not in page
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in page
    assert '<img src=x onerror="alert(1)">' not in page


def test_message_page_frames_body_without_scripts(
    header: MessageHeader, alice: User
) -> None:
    page = client_for(alice).get(urls(header)["message"]).content.decode()
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame is not None
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame.group(0)
    assert "allow-scripts" not in frame.group(0)
    assert "allow-same-origin" not in frame.group(0)


def test_message_page_sends_nonce_csp(header: MessageHeader, alice: User) -> None:
    response = client_for(alice).get(urls(header)["message"])
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce is not None
    assert f'nonce="{nonce.group(1)}"' in response.content.decode()
    assert "object-src 'none'" in policy
    assert "base-uri 'none'" in policy
    assert "frame-ancestors 'self'" in policy


def test_message_page_nonce_changes_per_request(
    header: MessageHeader, alice: User
) -> None:
    client = client_for(alice)
    first = client.get(urls(header)["message"])["Content-Security-Policy"]
    second = client.get(urls(header)["message"])["Content-Security-Policy"]
    assert first != second


def test_body_is_sanitised(
    header: MessageHeader, alice: User, nylas_body: mock.MagicMock
) -> None:
    document = frame_document(client_for(alice), urls(header)["body"])
    assert "Hello <b>Dana</b>" in document
    assert "onclick" not in document
    assert "img.example" not in document
    assert "tracking.us.nylas.com" not in document
    assert 'rel="noopener noreferrer"' in document


def test_body_has_strict_frame_policy(
    header: MessageHeader, alice: User, nylas_body: mock.MagicMock
) -> None:
    response = client_for(alice).get(urls(header)["body"])
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert "style-src 'unsafe-inline'" in policy
    assert "form-action 'none'" in policy
    assert "base-uri 'none'" in policy
    assert "sandbox allow-popups allow-popups-to-escape-sandbox" in policy
    assert urls(header)["image"] not in policy


def test_body_is_never_cached(
    header: MessageHeader, alice: User, nylas_body: mock.MagicMock
) -> None:
    client = client_for(alice)
    for route in ("message", "body"):
        response = client.get(urls(header)[route])
        assert "no-store" in response["Cache-Control"]


def test_body_shows_images_through_signed_proxy(
    header: MessageHeader, alice: User, nylas_body: mock.MagicMock
) -> None:
    response = client_for(alice).get(urls(header)["body"] + "?images=1")
    document = response.content.decode()
    assert f"{urls(header)['image']}?url=https%3A%2F%2Fimg.example%2Flogo.png" in (
        document.replace("&amp;", "&")
    )
    assert "tracking.us.nylas.com" not in document
    assert urls(header)["image"] in response["Content-Security-Policy"]


def test_body_links_inline_images_to_cid_route(
    header: MessageHeader, alice: User, nylas_body: mock.MagicMock
) -> None:
    document = frame_document(client_for(alice), urls(header)["body"])
    assert f"{urls(header)['cid']}?id=logo%40example.com" in document


def test_body_drops_tiny_images_on_sent_mail(
    header: MessageHeader, alice: User
) -> None:
    header.direction = Direction.SENT
    header.save()
    pixel = '<p>Hi</p><img src="https://img.example/p.gif" width="1" height="1">'
    with mock.patch.object(
        nylas_client, "fetch_message_content", return_value=content_for(pixel)
    ):
        document = frame_document(client_for(alice), urls(header)["body"] + "?images=1")
    assert "img.example" not in document


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (nylas_client.NylasNotFoundError("gone"), "no longer available"),
        (nylas_client.GrantInvalidError("revoked"), "cannot be shown right now"),
        (nylas_client.NylasRetryableError("timeout"), "could not be loaded"),
    ],
)
def test_body_explains_unavailable_message(
    header: MessageHeader, alice: User, error: Exception, expected: str
) -> None:
    with mock.patch.object(nylas_client, "fetch_message_content", side_effect=error):
        response = client_for(alice).get(urls(header)["body"])
    assert response.status_code == 200
    assert expected in response.content.decode()


def test_body_renders_plain_text_as_text(header: MessageHeader, alice: User) -> None:
    text = "Is 1 < 2 & 3?\nhttps://example.com/x and javascript:alert(1)"
    with mock.patch.object(
        nylas_client, "fetch_message_content", return_value=content_for(text)
    ):
        document = frame_document(client_for(alice), urls(header)["body"])
    assert "Is 1 &lt; 2 &amp; 3?" in document
    assert 'href="https://example.com/x"' in document
    assert 'href="javascript' not in document


def test_image_route_serves_proxied_image(header: MessageHeader, alice: User) -> None:
    url = sign_image_url(
        alice.pk, "acme-north", header.pk, REMOTE, "https://img.example/a.png"
    )
    image = FetchedImage("image/png", b"\x89PNG")
    with mock.patch("mailsync.image_proxy.fetch_image", return_value=image):
        response = Client().get(url)
    assert response.status_code == 200
    assert response.content == b"\x89PNG"
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_image_route_rejects_tampered_url(header: MessageHeader, alice: User) -> None:
    url = sign_image_url(
        alice.pk, "acme-north", header.pk, REMOTE, "https://img.example/a.png"
    )
    tampered = url.replace("img.example", "169.254.169.254")
    with mock.patch("mailsync.image_proxy.fetch_image") as fetch:
        response = client_for(alice).get(tampered)
    assert response.status_code == 404
    assert fetch.call_count == 0


def test_image_route_rejects_expired_link(
    header: MessageHeader, alice: User, settings: Any
) -> None:
    url = sign_image_url(
        alice.pk, "acme-north", header.pk, REMOTE, "https://img.example/a.png"
    )
    settings.IMAGE_LINK_MAX_AGE_SECONDS = -1
    response = client_for(alice).get(url)
    assert response.status_code == 404


def test_image_route_never_loads_tracking_pixel(
    header: MessageHeader, alice: User
) -> None:
    url = sign_image_url(
        alice.pk, "acme-north", header.pk, REMOTE, "https://tracking.us.nylas.com/o"
    )
    with mock.patch("mailsync.image_proxy.fetch_image") as fetch:
        response = Client().get(url)
    assert response.status_code == 404
    assert fetch.call_count == 0


def test_cid_route_streams_inline_image(header: MessageHeader, alice: User) -> None:
    url = sign_image_url(alice.pk, "acme-north", header.pk, INLINE, "logo@example.com")
    download = ("image/png", iter([b"\x89P", b"NG"]))
    with mock.patch.object(
        nylas_client, "stream_inline_attachment", return_value=download
    ) as stream:
        response = Client().get(url)
        content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert content == b"\x89PNG"
    expected = (header.nylas_grant_id, "msg-1", "logo@example.com")
    assert stream.call_args.args == expected
    assert "no-store" in response["Cache-Control"]


def test_cid_route_rejects_non_image_part(header: MessageHeader, alice: User) -> None:
    url = sign_image_url(alice.pk, "acme-north", header.pk, INLINE, "doc@example.com")
    download = ("text/html", iter([b"<script>alert(1)</script>"]))
    with mock.patch.object(
        nylas_client, "stream_inline_attachment", return_value=download
    ):
        response = Client().get(url)
    assert response.status_code == 404


def test_cid_route_reports_missing_part(header: MessageHeader, alice: User) -> None:
    url = sign_image_url(alice.pk, "acme-north", header.pk, INLINE, "gone@example.com")
    with mock.patch.object(
        nylas_client,
        "stream_inline_attachment",
        side_effect=nylas_client.NylasNotFoundError("no such part"),
    ):
        response = Client().get(url)
    assert response.status_code == 404
