"""Connecting a mailbox through hosted auth on the emulator's consent page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

import pytest
import requests

from conftest import EmulatorControl
from mailsync.models import AccountStatus, Backfill, BackfillStatus, EmailAccount

pytestmark = pytest.mark.django_db(transaction=True)

OWNER = "alice@acme.example.com"


def begin_setup(client: Client, email: str = OWNER, provider: str = "") -> str:
    """Press Begin Setup; return the hosted-auth URL the product redirected to."""
    data = {"email": email}
    if provider:
        data["provider"] = provider
    response = client.post(reverse("mailsync:connect-start"), data)
    assert response.status_code == 302
    return str(response["Location"])


def decide(auth_url: str, decision: str, provider: str = "google") -> str:
    """Submit a decision on the emulator's consent page.

    Returns the path and query of our callback that the emulator redirects to.
    """
    query = {
        key: values[-1] for key, values in parse_qs(urlsplit(auth_url).query).items()
    }
    form = {**query, "decision": decision, "chosen_provider": provider}
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(auth_url))
    answer = requests.post(
        f"{origin}/v3/connect/auth/decision",
        data=form,
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    return f"{location.path}?{location.query}"


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def test_begin_setup_redirects_with_login_hint_and_state(
    alice_client: Client, emulator: EmulatorControl
) -> None:
    auth_url = begin_setup(alice_client, "  Alice@ACME.example.com ")

    query = parse_qs(urlsplit(auth_url).query)
    assert auth_url.startswith(emulator.url + "/v3/connect/auth?")
    assert query["login_hint"] == [OWNER]
    assert len(query["state"][0]) >= 32
    assert query["code_challenge_method"] == ["s256"]


def test_approve_connects_account_and_runs_backfill(
    alice_client: Client, emulator: EmulatorControl, alice: User
) -> None:
    emulator.add_generated_mailbox(OWNER, count=30, days=30, grant_id="g-alice")

    callback = decide(begin_setup(alice_client), "approve")
    response = alice_client.get(callback)

    assert response.status_code == 302
    account = EmailAccount.objects.get(user=alice)
    assert account.nylas_grant_id == "g-alice"
    assert account.email == OWNER
    assert account.provider == "google"
    assert Backfill.objects.get(account=account).status == BackfillStatus.FINISHED


@pytest.mark.parametrize(
    ("decision", "heading"),
    [
        ("deny", "Access was not granted"),
        ("unsupported_provider", "This email provider is not supported"),
        ("admin_consent_required", "Your IT department needs to approve Convex"),
        ("provider_not_detected", "Choose your email provider"),
    ],
)
def test_refusals_show_a_clear_page(
    alice_client: Client, emulator: EmulatorControl, decision: str, heading: str
) -> None:
    callback = decide(begin_setup(alice_client), decision)

    response = alice_client.get(callback)

    assert response.status_code == 200
    assert heading in response.content.decode()
    assert not EmailAccount.objects.exists()


def test_admin_consent_page_says_where_it_finds_the_request(
    alice_client: Client, emulator: EmulatorControl
) -> None:
    callback = decide(begin_setup(alice_client), "admin_consent_required")

    page = alice_client.get(callback).content.decode()

    assert "admin console" in page
    assert "spam folder" in page


def test_provider_choice_restarts_with_that_provider(
    alice_client: Client, emulator: EmulatorControl
) -> None:
    callback = decide(begin_setup(alice_client), "provider_not_detected")
    alice_client.get(callback)

    auth_url = begin_setup(alice_client, provider="microsoft")

    assert parse_qs(urlsplit(auth_url).query)["provider"] == ["microsoft"]


def test_callback_without_state_is_rejected(
    alice_client: Client, emulator: EmulatorControl
) -> None:
    begin_setup(alice_client)

    response = alice_client.get(reverse("mailsync:connect-callback") + "?code=abc")

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert not EmailAccount.objects.exists()


def test_callback_with_wrong_state_is_rejected(
    alice_client: Client, emulator: EmulatorControl
) -> None:
    callback = decide(begin_setup(alice_client), "approve")
    forged = callback.replace("state=", "state=x")

    response = alice_client.get(forged)

    assert response.status_code == 400
    assert not EmailAccount.objects.exists()


def test_state_cannot_be_replayed(
    alice_client: Client, emulator: EmulatorControl
) -> None:
    callback = decide(begin_setup(alice_client), "approve")
    alice_client.get(callback)
    EmailAccount.objects.all().delete()

    response = alice_client.get(callback)

    assert response.status_code == 400


def test_mailbox_of_another_user_is_refused(
    client: Client,
    emulator: EmulatorControl,
    bob: User,
    make_account: Callable[..., EmailAccount],
    alice: User,
) -> None:
    emulator.add_grant(OWNER, "g-alice")
    make_account(alice, email=OWNER, grant_id="g-alice")
    client.force_login(bob)

    response = client.get(decide(begin_setup(client, OWNER), "approve"))

    assert "already connected by someone else" in response.content.decode()
    assert not EmailAccount.objects.filter(user=bob).exists()
    assert emulator.handle.store.find_mailbox(OWNER).grant.grant_status == "valid"


def test_reconnect_keeps_account_and_clears_status(
    alice_client: Client,
    emulator: EmulatorControl,
    alice: User,
    make_account: Callable[..., EmailAccount],
) -> None:
    emulator.add_grant(OWNER, "g-alice")
    account = make_account(
        alice, email=OWNER, grant_id="g-alice", status=AccountStatus.RECONNECT_REQUIRED
    )

    alice_client.get(decide(begin_setup(alice_client), "approve"))

    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert EmailAccount.objects.count() == 1


def test_invalid_address_is_named_on_settings_page(alice_client: Client) -> None:
    response = alice_client.post(
        reverse("mailsync:connect-start"), {"email": "not-an-address"}, follow=True
    )

    assert "not-an-address" in response.content.decode()


def test_anonymous_user_is_sent_to_log_in(client: Client) -> None:
    response = client.get(reverse("mailsync:settings"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_disconnect_revokes_grant_and_deletes_headers(
    alice_client: Client,
    emulator: EmulatorControl,
    alice: User,
    make_account: Callable[..., Any],
) -> None:
    emulator.add_generated_mailbox(OWNER, count=10, days=10, grant_id="g-alice")
    make_account(alice, email=OWNER, grant_id="g-alice")

    response = alice_client.post(reverse("mailsync:disconnect"))

    assert response.status_code == 302
    assert not EmailAccount.objects.exists()
    assert emulator.handle.store.find_mailbox(OWNER).grant is None
