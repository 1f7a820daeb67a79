"""Fixtures shared by every app's tests: named actors and factories.

alice and bob are teammates in organisation A; carol belongs to
organisation B only and must never see anything of A.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

import pytest
import requests

from contacts.models import Contact, Membership, Organisation, Role
from mailsync.models import EmailAccount

REPO_ROOT = Path(__file__).resolve().parent
SHARED_DIR = REPO_ROOT.parent / "shared"

_sequence = itertools.count(1)


@pytest.fixture
def shared_dir() -> Path:
    """The shared folder beside the repository, or skip when it is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} is absent: shared cases and corpus are not here")
    return SHARED_DIR


@pytest.fixture
def make_organisation(db: None) -> Callable[..., Organisation]:
    def make(name: str = "", **fields: Any) -> Organisation:
        number = next(_sequence)
        name = name or f"Organisation {number}"
        return Organisation.objects.create(
            name=name, slug=fields.pop("slug", f"org-{number}"), **fields
        )

    return make


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(
        username: str = "",
        *,
        organisations: tuple[Organisation, ...] = (),
        role: str = Role.REPRESENTATIVE,
        **fields: Any,
    ) -> User:
        username = username or f"user{next(_sequence)}"
        fields.setdefault("email", f"{username}@acme.example.com")
        user = User.objects.create_user(username=username, password="pw", **fields)
        for organisation in organisations:
            Membership.objects.create(user=user, organisation=organisation, role=role)
        return user

    return make


@pytest.fixture
def make_contact(db: None) -> Callable[..., Contact]:
    def make(
        organisation: Organisation, name: str, *emails: str, **fields: Any
    ) -> Contact:
        contact = Contact.objects.create(organisation=organisation, name=name, **fields)
        for position, email in enumerate(emails):
            contact.add_email(email, primary=position == 0)
        return contact

    return make


@pytest.fixture
def make_account(db: None) -> Callable[..., EmailAccount]:
    def make(
        user: User, email: str = "", grant_id: str = "", **fields: Any
    ) -> EmailAccount:
        fields.setdefault("provider", "google")
        return EmailAccount.objects.create(
            user=user,
            email=(email or user.email).lower(),
            nylas_grant_id=grant_id or f"grant-{next(_sequence)}",
            **fields,
        )

    return make


@pytest.fixture
def org_a(make_organisation: Callable[..., Organisation]) -> Organisation:
    return make_organisation("Acme North", slug="acme-north")


@pytest.fixture
def org_b(make_organisation: Callable[..., Organisation]) -> Organisation:
    return make_organisation("Acme South", slug="acme-south")


@pytest.fixture
def alice(make_user: Callable[..., User], org_a: Organisation) -> User:
    return make_user(
        "alice", organisations=(org_a,), first_name="Alice", last_name="Archer"
    )


@pytest.fixture
def bob(make_user: Callable[..., User], org_a: Organisation) -> User:
    return make_user("bob", organisations=(org_a,), first_name="Bob", last_name="Baker")


@pytest.fixture
def carol(make_user: Callable[..., User], org_b: Organisation) -> User:
    return make_user(
        "carol", organisations=(org_b,), first_name="Carol", last_name="Clark"
    )


class EmulatorControl:
    """The emulator's documented control API, over HTTP, for tests."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.url = handle.url

    def post(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = requests.post(f"{self.url}{path}", json=payload or {}, timeout=30)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        response = requests.get(f"{self.url}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def add_generated_mailbox(
        self, owner: str, count: int, days: int, grant_id: str, seed: int = 7
    ) -> None:
        self.post(
            "/_emulator/mailboxes",
            {
                "owner": owner,
                "generate": {"count": count, "days": days, "seed": seed},
                "grant_id": grant_id,
            },
        )

    def add_grant(self, owner: str, grant_id: str, provider: str = "google") -> None:
        self.post(
            "/_emulator/grants",
            {"owner": owner, "grant_id": grant_id, "provider": provider},
        )

    def inject(self, owner: str, **message: Any) -> str:
        """Deliver a message from outside into `owner`'s mailbox; return its id."""
        answer = self.post(
            "/_emulator/messages/inject", {"owner": owner, "message": message}
        )
        return str(answer.get("id") or answer.get("data", {}).get("id"))

    def fault(self, **fault: Any) -> None:
        self.post("/_emulator/faults", fault)

    def mailbox_messages(self, owner: str) -> list[dict[str, Any]]:
        mailbox = self.handle.store.find_mailbox(owner)
        return list(mailbox.messages.values()) if mailbox else []


@pytest.fixture
def emulator(settings: Any) -> Iterator[EmulatorControl]:
    """A fresh Nylas emulator, with the product's settings pointed at it."""
    from nylas_emulator.server import start_emulator

    handle = start_emulator(webhook_base_delay_s=0.05, webhook_retry_window_s=5)
    settings.NYLAS_API_URI = handle.url
    settings.NYLAS_API_KEY = handle.api_key
    yield EmulatorControl(handle)
    handle.stop()


@pytest.fixture(autouse=True)
def celery_eager() -> Iterator[None]:
    """Run tasks in the test's process, with their errors raised."""
    from convex_email.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


def put_emulator_message(
    emulator: EmulatorControl, owner: str, message: dict[str, Any]
) -> None:
    """Place a message with a fixed id (from a shared case) in a mailbox."""
    store = emulator.handle.store
    with store.lock:
        store.mailbox(owner).add(dict(message))


CHROMIUM_PATH = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's
# hosts at start, which this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium (Debian's package, driven by Playwright) for the
    whole session: Playwright's sync API keeps an event loop running in
    this thread, so a second instance in the same session cannot start."""
    if not CHROMIUM_PATH.exists():
        pytest.skip(f"{CHROMIUM_PATH} is absent: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def celery_worker_process(
    emulator: EmulatorControl, live_server: Any, tmp_path: Path
) -> Iterator[Path]:
    """A real Celery worker process on Redis, using the test database.

    Yields the file that receives the worker's output, for tests that check
    what it logs.
    """
    import subprocess
    import sys

    from django.conf import settings

    from convex_email.celery import app as celery_app

    database = settings.DATABASES["default"]
    url = "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**database)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "NYLAS_API_URI": emulator.url,
        "NYLAS_API_KEY": emulator.handle.api_key,
        "CELERY_BROKER_URL": celery_app.conf.broker_url,
        "LOG_LEVEL": "DEBUG",
    }
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    output = tmp_path / "worker.log"
    with output.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "convex_email", "worker",
             "--pool=solo", "--loglevel=DEBUG", "--without-heartbeat",
             "--without-gossip", "--without-mingle"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        yield output
        worker.terminate()
        worker.wait(timeout=20)
