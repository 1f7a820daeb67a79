"""Seed the demo database: organisations, users, contacts and properties.

Contacts are the people Alex writes with most, found by listing his
mailbox's headers through the nylas SDK, so that they match whatever
mailbox the emulator holds (generated or loaded with MAILBOX=PATH).
Priya's mailbox is connected here directly, as if she had gone through
hosted auth earlier; Alex connects his own through the consent page.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convex_email.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402

from nylas import Client  # noqa: E402

from contacts.addresses import normalise_email_or_none  # noqa: E402
from contacts.models import Contact, Membership, Organisation, Property, Role  # noqa: E402
from mailsync import backfill, tasks  # noqa: E402
from mailsync.models import EmailAccount  # noqa: E402

AUTOMATED = ("noreply", "no-reply", "newsletter", "notifications", "mailer", "news@")
SITES = [
    ("Harbour Tower", "12 Quay Street"),
    ("Northgate Logistics Park", "Unit 4, Northgate Road"),
    ("St Anne's School extension", "40 Chapel Lane"),
    ("Riverside Medical Centre", "2 Mill Walk"),
]


def top_correspondents(owner: str, limit: int) -> list[tuple[str, str]]:
    """Return (name, address) of the people `owner` exchanges most mail with."""
    client = Client(settings.NYLAS_API_KEY, api_uri=settings.NYLAS_API_URI)
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}
    cursor = ""
    for _ in range(30):
        query = {"limit": 200, "select": "id,grant_id,from,to,cc"}
        if cursor:
            query["page_token"] = cursor
        page = client.messages.list(owner, query_params=query)
        for message in page.data:
            for person in [
                *(message.from_ or []),
                *(message.to or []),
                *(message.cc or []),
            ]:
                raw = person["email"] if isinstance(person, dict) else person.email
                name = person.get("name") if isinstance(person, dict) else person.name
                email = normalise_email_or_none(raw)
                if not email or email == owner or any(a in email for a in AUTOMATED):
                    continue
                counts[email] += 1
                names.setdefault(email, name or email.split("@")[0].title())
        cursor = page.next_cursor or ""
        if not cursor:
            break
    return [(names[email], email) for email, _ in counts.most_common(limit)]


def make_user(username: str, email: str, password: str, **fields: object) -> User:
    first, _, last = email.split("@")[0].replace(".", " ").title().partition(" ")
    return User.objects.create_user(
        username, email, password, first_name=first, last_name=last, **fields
    )


def main() -> None:
    users = json.loads(os.environ["DEMO_USERS"])
    password = os.environ["DEMO_PASSWORD"]
    north = Organisation.objects.create(name="Acme Construction North", slug="north")
    south = Organisation.objects.create(name="Acme Construction South", slug="south")

    alex = make_user("alex", users["alex"], password)
    priya = make_user("priya", users["priya"], password)
    User.objects.create_superuser("admin", "admin@acme.example.com", password)
    Membership.objects.create(user=alex, organisation=north, role=Role.MANAGER)
    Membership.objects.create(user=alex, organisation=south, role=Role.MANAGER)
    Membership.objects.create(user=priya, organisation=north)

    people = top_correspondents(users["alex"], 40)
    contacts = []
    for name, email in people:
        company = email.split("@")[1].split(".")[0].replace("-", " ").title()
        contact = Contact.objects.create(organisation=north, name=name, company=company)
        contact.add_email(email, primary=True)
        contacts.append(contact)
    for name, email in people[:12]:
        Contact.objects.create(organisation=south, name=name).add_email(
            email, primary=True
        )
    for number, (site, address) in enumerate(SITES):
        place = Property.objects.create(organisation=north, name=site, address=address)
        place.contacts.add(*contacts[number * 4 : number * 4 + 4])

    account = EmailAccount.objects.create(
        user=priya,
        email=users["priya"],
        nylas_grant_id="grant-priya",
        provider="google",
    )
    backfill.start_backfill(account)
    tasks.backfill_account.delay(account.pk)
    print(f"Seeded {len(people)} contacts from {users['alex']}'s mailbox.")


if __name__ == "__main__":
    main()
