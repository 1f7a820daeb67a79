"""The signature sanitiser, the signature setting and hostile HTML on send."""

from __future__ import annotations

import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

import pytest

from conftest import EmulatorControl
from contacts.models import Organisation
from mailsync import compose
from mailsync.models import EmailAccount

OWNER = "alice@acme.example.com"
GRANT = "grant-alice-sig"
ALLOWED_ATTRIBUTES = {"style", "class", "href", "src", "alt", "width", "height"}
ALLOWED_ATTRIBUTES |= {"title"}
LINK_SCHEMES = ("http:", "https:", "mailto:", "tel:")
ACTIVE_CSS = ("url(", "expression", "@import", "position", "behavior", "binding")


class ActiveMarkupFinder(HTMLParser):
    """Collect every element or attribute that could run, load or overlay."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in compose.SIGNATURE_TAGS:
            self.problems.append(f"element <{tag}>")
        for name, value in attrs:
            self._check_attribute(tag, name, value or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def _check_attribute(self, tag: str, name: str, value: str) -> None:
        lowered = value.strip().lower()
        if name not in ALLOWED_ATTRIBUTES:
            self.problems.append(f"attribute {name} on <{tag}>")
        elif name == "href" and not lowered.startswith(LINK_SCHEMES):
            self.problems.append(f"link {value!r}")
        elif name == "src" and not lowered.startswith(("https:", "data:image/")):
            self.problems.append(f"image source {value!r}")
        elif name == "style" and any(word in lowered for word in ACTIVE_CSS):
            self.problems.append(f"style {value!r}")


def active_markup(html: str) -> list[str]:
    finder = ActiveMarkupFinder()
    finder.feed(html)
    finder.close()
    return finder.problems


def load_vectors(shared_dir: Path) -> list[dict[str, Any]]:
    path = shared_dir / "cases" / "xss" / "vectors.jsonl"
    return [json.loads(line) for line in path.read_text().split("\n") if line]


def test_every_vector_signature_is_inert(shared_dir: Path) -> None:
    failures = {}
    for vector in load_vectors(shared_dir):
        problems = active_markup(compose.sanitise_signature_html(vector["html"]))
        if problems:
            failures[vector["id"]] = problems

    assert failures == {}


def test_signature_keeps_https_image_and_link() -> None:
    html = (
        '<p>Alex <a href="https://acme.example.com">Acme</a>'
        '<img src="https://cdn.example.com/logo.png" alt="Acme"></p>'
    )

    clean = compose.sanitise_signature_html(html)

    assert 'href="https://acme.example.com"' in clean
    assert 'src="https://cdn.example.com/logo.png"' in clean


def test_signature_drops_plain_http_image() -> None:
    clean = compose.sanitise_signature_html('<img src="http://cdn.example.com/a.png">')

    assert "cdn.example.com" not in clean


def test_signature_drops_style_element_text() -> None:
    clean = compose.sanitise_signature_html(
        "<style>@import url(https://evil.example/x.css)</style><p>Alex</p>"
    )

    assert clean == "<p>Alex</p>"


@pytest.fixture
def alice_account(
    alice: User, make_account: Callable[..., EmailAccount]
) -> EmailAccount:
    return make_account(alice, OWNER, GRANT)


@pytest.fixture
def alice_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def test_saved_signature_is_sanitised(
    alice_account: EmailAccount, alice_client: Client
) -> None:
    raw = '<p onclick="steal()">Alex<script>alert(1)</script></p><form></form>'

    alice_client.post(
        reverse("mailsync:signature"),
        {"signature_html": raw, "signature_in_new": "on"},
    )

    alice_account.refresh_from_db()
    assert alice_account.signature_html == "<p>Alex</p>"
    assert alice_account.signature_in_new
    assert not alice_account.signature_in_replies


def test_settings_show_signature_editor(
    alice_account: EmailAccount, alice_client: Client
) -> None:
    page = alice_client.get(reverse("mailsync:settings")).content.decode()

    assert "Include in new emails" in page
    assert "Include in replies" in page
    assert "vendor/quill/quill.js" in page


def test_compose_places_signature_when_switch_on(
    alice_account: EmailAccount, alice_client: Client, org_a: Organisation
) -> None:
    alice_account.signature_html = "<p>-- Alex Archer</p>"
    alice_account.signature_in_new = True
    alice_account.save()

    page = alice_client.get(reverse("mailsync:compose", args=[org_a.slug]))

    assert "crm-signature" in page.content.decode()
    assert "-- Alex Archer" in page.content.decode()


def test_vectors_never_reach_the_sdk(
    shared_dir: Path,
    emulator: EmulatorControl,
    alice_account: EmailAccount,
    alice_client: Client,
    org_a: Organisation,
) -> None:
    emulator.add_grant(OWNER, GRANT)
    vectors = load_vectors(shared_dir)
    url = reverse("mailsync:compose-send", args=[org_a.slug])
    for start in range(0, len(vectors), 40):
        batch = vectors[start : start + 40]
        body = "".join(f"<div>{vector['html']}</div>" for vector in batch)
        alice_client.post(
            url,
            {
                "form_key": "5f0e2c56-8a4b-4f5e-9d7e-0c1b2a3d4e5f",
                "to": "dana@example.org",
                "subject": f"Vectors from {start}",
                "body": body,
            },
            HTTP_HX_REQUEST="true",
        )

    sent = emulator.get("/_emulator/sent")["data"]
    assert len(sent) == (len(vectors) + 39) // 40
    for entry in sent:
        assert active_markup(entry["request_body"]["body"]) == []
