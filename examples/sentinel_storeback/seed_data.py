"""The seed's 10 contacts with their behavioural fields, loaded with one command:

    python examples/sentinel_storeback/seed_data.py

Loading is idempotent: contacts merge by name, so running it again changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agentledger import Filter
from examples.sentinel_storeback.storeback import CONTACT, SentinelStoreBack

SEED_TAG = "seed"
BEHAVIOURAL = (
    "communication_style",
    "response_pattern",
    "preferred_channel",
    "active_deals",
    "metadata",
    "last_contact",
)

CONTACTS: list[dict[str, Any]] = [
    {
        "name": "Marcus Weber",
        "role": "Managing Partner",
        "company": "Weber Capital",
        "communication_style": "direct, numbers first",
        "response_pattern": "replies within 2 hours on weekdays",
        "preferred_channel": "email",
        "active_deals": ["Berlin Mitte Office"],
        "metadata": {"language": "de", "timezone": "Europe/Berlin"},
        "last_contact": "2026-02-12T09:30:00+00:00",
    },
    {
        "name": "Sophie Laurent",
        "role": "Head of Acquisitions",
        "company": "Laurent Immobilier",
        "communication_style": "formal, detailed",
        "response_pattern": "replies next business day",
        "preferred_channel": "email",
        "active_deals": ["Lyon Logistics Park"],
        "metadata": {"language": "fr", "timezone": "Europe/Paris"},
        "last_contact": "2026-02-10T14:00:00+00:00",
    },
    {
        "name": "Daniel Okafor",
        "role": "CFO",
        "company": "Brisk Holdings",
        "communication_style": "concise, prefers bullet points",
        "response_pattern": "same day, mornings",
        "preferred_channel": "whatsapp",
        "active_deals": [],
        "metadata": {"timezone": "Europe/London"},
        "last_contact": "2026-02-16T08:15:00+00:00",
    },
    {
        "name": "Elena Rossi",
        "role": "Founder",
        "company": "Rossi Hospitality",
        "communication_style": "warm, relationship first",
        "response_pattern": "slow by email, fast by phone",
        "preferred_channel": "phone",
        "active_deals": ["Como Lakeside Hotel"],
        "metadata": {"language": "it", "timezone": "Europe/Rome"},
        "last_contact": "2026-02-03T17:45:00+00:00",
    },
    {
        "name": "James Thornton",
        "role": "Senior Banker",
        "company": "Thornton & Cole",
        "communication_style": "formal",
        "response_pattern": "replies within the hour",
        "preferred_channel": "email",
        "active_deals": ["Berlin Mitte Office", "Lyon Logistics Park"],
        "metadata": {"timezone": "Europe/London"},
        "last_contact": "2026-02-18T11:00:00+00:00",
    },
    {
        "name": "Anna Keller",
        "role": "COO",
        "company": "Baker Group",
        "communication_style": "structured, action items",
        "response_pattern": "always same day",
        "preferred_channel": "slack",
        "active_deals": [],
        "metadata": {"internal": True, "timezone": "Europe/Zurich"},
        "last_contact": "2026-02-19T07:50:00+00:00",
    },
    {
        "name": "Hiroshi Tanaka",
        "role": "Investment Director",
        "company": "Sakura Partners",
        "communication_style": "polite, indirect",
        "response_pattern": "replies overnight (Tokyo hours)",
        "preferred_channel": "email",
        "active_deals": ["Zurich Residential Portfolio"],
        "metadata": {"language": "ja", "timezone": "Asia/Tokyo"},
        "last_contact": "2026-01-28T23:10:00+00:00",
    },
    {
        "name": "Claire Dubois",
        "role": "Legal Counsel",
        "company": "Dubois Avocats",
        "communication_style": "precise, cautious",
        "response_pattern": "replies within two days",
        "preferred_channel": "email",
        "active_deals": ["Como Lakeside Hotel"],
        "metadata": {"language": "fr", "timezone": "Europe/Paris"},
        "last_contact": "2026-02-11T10:20:00+00:00",
    },
    {
        "name": "Peter Novak",
        "role": "Architect",
        "company": "Novak Studio",
        "communication_style": "visual, sends drawings",
        "response_pattern": "irregular, chase after three days",
        "preferred_channel": "whatsapp",
        "active_deals": ["Zurich Residential Portfolio"],
        "metadata": {"timezone": "Europe/Prague"},
        "last_contact": "2026-02-05T15:30:00+00:00",
    },
    {
        "name": "Fatima Al-Sayed",
        "role": "Family Office Principal",
        "company": "Al-Sayed Family Office",
        "communication_style": "discreet, big picture",
        "response_pattern": "replies within a week",
        "preferred_channel": "phone",
        "active_deals": [],
        "metadata": {"timezone": "Asia/Dubai"},
        "last_contact": "2026-01-20T12:00:00+00:00",
    },
]


def load(store: SentinelStoreBack) -> list[str]:
    """Upsert the 10 seed contacts (tagged ``seed``) in one statement; their ids in order."""
    result = store.scope.memory.upsert_many(
        {
            "kind": CONTACT,
            "name": c["name"],
            "by_name": True,
            "attrs": {k: v for k, v in c.items() if k != "name"},
            "tags": [SEED_TAG],
        }
        for c in CONTACTS
    )
    return [str(i) for i in result.ids]


def seed_contacts(store: SentinelStoreBack) -> list[dict[str, Any]]:
    """The contacts tagged ``seed`` in the store's tenant."""
    return [
        {**e.attrs, "name": e.name}
        for e in store.scope.memory.list(Filter(kind=CONTACT, tags=[SEED_TAG]), limit=1000)
    ]


def main() -> int:
    with SentinelStoreBack() as store:
        ids = load(store)
        print(f"loaded {len(ids)} seed contacts into tenant {store.tenant!r}")
    return 0


__all__ = ["BEHAVIOURAL", "CONTACTS", "load", "main", "seed_contacts"]

if __name__ == "__main__":
    raise SystemExit(main())
