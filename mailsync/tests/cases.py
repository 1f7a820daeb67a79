"""Load the shared reduced cases into the database for tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

from contacts.models import Contact, Membership, Organisation
from mailsync.models import EmailAccount


@dataclass
class LoadedCase:
    data: dict[str, Any]
    organisation: Organisation
    accounts: dict[str, EmailAccount]
    contacts: dict[str, Contact]


def load_case(shared_dir: Path, name: str, organisation: Organisation) -> LoadedCase:
    """Create the case's org users (with accounts) and saved contacts."""
    data = json.loads((shared_dir / "cases" / name).read_text())
    accounts = {}
    aliases = data.get("org_user_aliases", {})
    for entry in data["org_users"]:
        first, _, last = entry["name"].partition(" ")
        user = User.objects.create_user(
            username=entry["email"].split("@")[0],
            email=entry["email"],
            first_name=first,
            last_name=last,
        )
        Membership.objects.create(user=user, organisation=organisation)
        accounts[entry["grant_id"]] = EmailAccount.objects.create(
            user=user,
            email=entry["email"],
            nylas_grant_id=entry["grant_id"],
            provider="google",
            aliases=aliases.get(entry["email"], []),
        )
    contacts = {}
    for entry in data.get("saved_contacts", []):
        contact = Contact.objects.create(organisation=organisation, name=entry["name"])
        for position, email in enumerate(entry["emails"]):
            if isinstance(email, dict):
                contact.add_email(email["address"], primary=email["primary"])
            else:
                contact.add_email(email, primary=position == 0)
        contacts[entry["id"]] = contact
    return LoadedCase(data, organisation, accounts, contacts)
