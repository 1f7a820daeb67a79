"""Fixtures shared by every app's tests: named actors and factories.

alice and bob are teammates in organisation A; carol belongs to
organisation B only and must never see anything of A.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

import pytest

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
