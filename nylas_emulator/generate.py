"""Seeded synthetic mailboxes: the same seed and ``now`` give identical messages."""

from __future__ import annotations

import html
import random
from dataclasses import dataclass, field

from .ids import imap_message_id
from .mailbox_state import Message

DAY = 86400

COMPANIES: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Harbor Steel Fabricators",
        "harborsteel.example.com",
        [
            ("Dana Whitfield", "dana.whitfield"),
            ("Marcus Lee", "marcus.lee"),
            ("Zoë Lefèvre", "zoe.lefevre"),
        ],
    ),
    (
        "Northgate Facilities Services",
        "northgate-fs.example.com",
        [
            ("Ortega, Maria", "maria.ortega"),
            ("Tom O'Brien", "tom.obrien"),
            ("Jürgen Müller", "juergen.mueller"),
        ],
    ),
    (
        "Keystone Concrete & Paving",
        "keystone-concrete.example.net",
        [
            ("Aiko Tanaka", "aiko.tanaka"),
            ("田中 花子", "hanako.tanaka"),
            ("Sam Patel", "sam.patel"),
        ],
    ),
    (
        "Bluewater HVAC Contractors",
        "bluewater-hvac.example.org",
        [
            ("Grace Kim", "grace.kim"),
            ("Łukasz Nowak", "lukasz.nowak"),
            ("Renée Dubois", "renee.dubois"),
        ],
    ),
    (
        "Summit Commercial Cleaning",
        "summitclean.example.com",
        [("Priya Shah", "priya.shah"), ("Oliver Grant", "oliver.grant")],
    ),
    (
        "Ironwood Site Development",
        "ironwood-sd.example.com",
        [("Fatima Al-Sayed", "fatima.alsayed"), ("Chris Nguyen", "chris.nguyen")],
    ),
]

NEWSLETTERS: list[tuple[str, str, str]] = [
    (
        "Construction Dive",
        "newsletter@constructiondive.example.com",
        "This week in construction: material prices and labour",
    ),
    ("Procore", "no-reply@procore.example.com", "Your daily project digest"),
    ("Grainger", "noreply@grainger.example.com", "🚚 Your order has shipped"),
]

SUBJECTS = [
    "Quote for Phase 2 steel framing",
    "Site walk Thursday 7am",
    "Change order #14 — revised scope",
    "Invoice 2024-118 follow-up",
    "Janitorial contract renewal",
    "RFI: slab thickness at grid C-4",
    "Insurance certificate needed",
    "Schedule update \u2013 concrete pour moved",
    "Über die Lieferung der Stahlträger",
    "見積もりのご確認 (quote check)",
    "Safety audit findings 🦺",
    "HVAC maintenance window",
    "Bid due date extension?",
    "Punch list walkthrough",
]

OPENERS = [
    "Thanks for the quick turnaround.",
    "Following up on our call earlier.",
    "Attached is the revised version.",
    "Can we move this to next week?",
    "Looks good to me, one question below.",
    "The crew can start Monday if the permit clears.",
    "Merci, c'est noté.",
    "Danke für die schnelle Antwort.",
    "承知しました。よろしくお願いします。",
]


@dataclass
class GeneratedMailbox:
    messages: list[Message]
    attachments: dict[str, bytes] = field(default_factory=dict)


def correspondents(seed: int = 1) -> list[dict[str, str]]:
    """List the people who write to generated mailboxes (the same for every seed)."""
    people = []
    for company, domain, members in COMPANIES:
        for name, local in members:
            people.append(
                {"name": name, "email": f"{local}@{domain}", "company": company}
            )
    return people


def generate_mailbox(
    owner: str, count: int, days: int, seed: int, now: int, id_style: str = "hex"
) -> GeneratedMailbox:
    """Generate ``count`` messages dated within the ``days`` before ``now``."""
    builder = _Builder(owner.lower(), days, seed, now, id_style)
    while len(builder.messages) < count:
        builder.add_thread(count - len(builder.messages))
    return GeneratedMailbox(builder.messages, builder.attachments)


class _Builder:
    def __init__(
        self, owner: str, days: int, seed: int, now: int, id_style: str
    ) -> None:
        self.owner = owner
        self.owner_name = _name_from_address(owner)
        self.domain = owner.rpartition("@")[2] or "example.com"
        self.rng = random.Random(seed)
        self.now = now
        self.window = max(days, 1) * DAY
        self.id_style = id_style
        self.people = correspondents(seed)
        self.messages: list[Message] = []
        self.attachments: dict[str, bytes] = {}

    def add_thread(self, remaining: int) -> None:
        rng = self.rng
        if rng.random() < 0.08:
            self._add_newsletter()
            return
        length = (
            rng.choice((1, 1, 2, 2, 3, 4))
            if rng.random() > 0.05
            else rng.randint(8, 18)
        )
        length = min(length, remaining)
        contact = rng.choice(self.people)
        start = self.now - rng.randrange(self.window)
        subject = rng.choice(SUBJECTS)
        outbound = rng.random() < 0.45
        thread_id = self._hex()
        previous_ids: list[str] = []

        for position in range(length):
            date = min(start + position * rng.randint(600, 4 * 3600), self.now)
            prefix = "Re: " if position else ""
            message = self._message(
                thread_id, contact, prefix + subject, date, outbound
            )
            self._set_reply_headers(message, previous_ids)
            self.messages.append(message)
            outbound = not outbound

    def _message(
        self,
        thread_id: str,
        contact: dict[str, str],
        subject: str,
        date: int,
        outbound: bool,
    ) -> Message:
        rng = self.rng
        me = {"name": self.owner_name, "email": self.owner}
        them = {"name": contact["name"], "email": contact["email"]}
        sender, recipient = (me, them) if outbound else (them, me)
        cc = [self._colleague(contact)] if rng.random() < 0.25 else []
        bcc = (
            [{"email": f"crm-archive@{self.domain}"}]
            if outbound and rng.random() < 0.1
            else []
        )

        text = rng.choice(OPENERS)
        from_phone = outbound and rng.random() < 0.15
        body = self._body(text, sender["name"], from_phone)
        folder = "SENT" if outbound else "INBOX"
        header_id = f"<{self._hex()}@{sender['email'].rpartition('@')[2]}>"
        message: Message = {
            "object": "message",
            "id": self._message_id(folder, header_id),
            "thread_id": thread_id,
            "subject": subject,
            "from": [sender],
            "to": [recipient],
            "cc": cc,
            "bcc": bcc,
            "reply_to": [],
            "date": date,
            "created_at": date,
            "unread": (not outbound) and rng.random() < 0.3,
            "starred": rng.random() < 0.03,
            "snippet": (text + (" Sent from my iPhone" if from_phone else ""))[:100],
            "body": body,
            "folders": [folder],
            "attachments": [],
            "metadata": {},
            "headers": [{"name": "Message-ID", "value": header_id}],
        }
        if rng.random() < 0.03:
            self._add_attachment(message)
        return message

    def _body(self, text: str, signer: str, from_phone: bool) -> str:
        if from_phone:
            return f"<div>{html.escape(text)}<br><br>Sent from my iPhone</div>"
        if self.rng.random() < 0.3:
            return f"<div>{html.escape(text)}<br>\n<br>\n{html.escape(signer)}</div>"
        return (
            f"<html><body><p>{html.escape(text)}</p>"
            f'<p style="color:#555">{html.escape(signer)}</p></body></html>'
        )

    def _colleague(self, contact: dict[str, str]) -> dict[str, str]:
        company = [p for p in self.people if p["company"] == contact["company"]]
        other = self.rng.choice(company)
        return {"name": other["name"], "email": other["email"]}

    def _set_reply_headers(self, message: Message, previous_ids: list[str]) -> None:
        header_id = message["headers"][0]["value"]
        if previous_ids:
            message["headers"].append(
                {"name": "In-Reply-To", "value": previous_ids[-1]}
            )
            message["headers"].append(
                {"name": "References", "value": " ".join(previous_ids)}
            )
        previous_ids.append(header_id)

    def _add_newsletter(self) -> None:
        name, address, subject = self.rng.choice(NEWSLETTERS)
        date = self.now - self.rng.randrange(self.window)
        header_id = f"<{self._hex()}@{address.rpartition('@')[2]}>"
        heading = html.escape(subject)
        body = f"<html><body><h1>{heading}</h1><p>Read online.</p></body></html>"
        self.messages.append(
            {
                "object": "message",
                "id": self._message_id("INBOX", header_id),
                "thread_id": self._hex(),
                "subject": subject,
                "from": [{"name": name, "email": address}],
                "to": [{"email": self.owner}],
                "cc": [],
                "bcc": [],
                "reply_to": [],
                "date": date,
                "created_at": date,
                "unread": True,
                "starred": False,
                "snippet": f"{subject} Read online.",
                "body": body,
                "folders": ["INBOX"],
                "attachments": [],
                "metadata": {},
                "headers": [
                    {"name": "Message-ID", "value": header_id},
                    {"name": "List-Unsubscribe", "value": f"<mailto:{address}>"},
                ],
            }
        )

    def _add_attachment(self, message: Message) -> None:
        attachment_id = "v0:" + self._hex()
        data = f"%PDF-1.4 generated quote for {message['id']}\n".encode()
        message["attachments"].append(
            {
                "id": attachment_id,
                "filename": "quote.pdf",
                "content_type": "application/pdf",
                "size": len(data),
                "content_id": None,
                "content_disposition": "attachment",
                "is_inline": False,
            }
        )
        self.attachments[attachment_id] = data

    def _message_id(self, folder: str, header_id: str) -> str:
        if self.id_style == "imap":
            return imap_message_id(folder, len(self.messages) + 1, header_id)
        return self._hex()

    def _hex(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"


def _name_from_address(address: str) -> str:
    local = address.partition("@")[0]
    return " ".join(
        part.capitalize() for part in local.replace("_", ".").split(".") if part
    )
