"""A realistic memory corpus: combinatorial person and company names, Zipf-distributed text.

Summaries draw content words from a vocabulary of a few thousand words whose frequencies
follow a Zipf-Mandelbrot law (a handful of words are common, most are rare), mixed with
English stop words the way prose is, so full-text match sets have real-world sizes. Names
are first x last combinations with common names more common; many people share a name.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Chen",
    "Wei",
    "Olga",
    "Ivan",
    "Ravi",
    "Priya",
    "Fatima",
    "Omar",
    "Lars",
    "Ingrid",
    "Maria",
    "Jose",
    "Ana",
    "Luis",
    "Yuki",
    "Hiro",
    "Kwame",
    "Amara",
    "Sofia",
    "Mateo",
    "Emma",
    "Noah",
    "Liam",
    "Olivia",
    "Ava",
    "Lucas",
    "Mia",
    "Ethan",
    "Zoe",
    "Aisha",
    "Hassan",
    "Nadia",
    "Pavel",
    "Elena",
    "Marco",
    "Giulia",
    "Sven",
    "Freya",
    "Diego",
    "Carmen",
    "Tariq",
    "Leila",
    "Jonas",
    "Hanna",
    "Felix",
    "Clara",
    "Anton",
    "Vera",
    "Rahul",
    "Anika",
    "Kenji",
    "Sakura",
    "Tomas",
    "Petra",
    "Bruno",
    "Alma",
    "Oscar",
    "Ines",
    "Victor",
    "Lena",
    "Hugo",
    "Nora",
    "Emil",
    "Ida",
    "Arjun",
    "Meera",
]
LAST_HEAD = [
    "Ander",
    "Bal",
    "Carl",
    "Dal",
    "Eck",
    "Fern",
    "Gar",
    "Hol",
    "Ing",
    "Jen",
    "Kar",
    "Lind",
    "Mar",
    "Nor",
    "Ost",
    "Pet",
    "Quin",
    "Ros",
    "Sand",
    "Thom",
    "Ul",
    "Van",
    "Wil",
    "York",
    "Zim",
    "Brad",
    "Cole",
    "Dun",
    "Fitz",
    "Har",
    "Kel",
    "Lan",
    "Mor",
    "Pen",
    "Ray",
    "Stan",
    "Tal",
    "Wes",
    "Ash",
    "Bren",
]
LAST_TAIL = [
    "son",
    "sen",
    "berg",
    "man",
    "ez",
    "ski",
    "ton",
    "ford",
    "ley",
    "wood",
    "ini",
    "ova",
    "er",
    "ing",
    "stein",
    "well",
    "more",
    "field",
    "by",
    "dale",
    "ridge",
    "worth",
    "ley",
    "hurst",
]
LAST = [h + t for h, t in itertools.product(LAST_HEAD, LAST_TAIL)]
COMPANY_TAIL = ["Systems", "Labs", "Group", "Partners", "Health", "Logistics", "Energy", "Bank"]
DOMAIN = [
    "budget",
    "deal",
    "renewal",
    "contract",
    "meeting",
    "launch",
    "pricing",
    "churn",
    "hiring",
    "audit",
    "invoice",
    "customer",
    "proposal",
    "forecast",
    "pipeline",
    "onboarding",
    "support",
    "escalation",
    "discount",
    "quarter",
    "revenue",
    "security",
    "compliance",
    "migration",
    "integration",
    "roadmap",
    "feedback",
    "demo",
    "trial",
    "procurement",
    "legal",
    "board",
    "investor",
    "partner",
    "vendor",
    "shipment",
    "warehouse",
    "outage",
    "incident",
    "release",
    "sprint",
]
STOP = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "for",
    "on",
    "with",
    "at",
    "by",
    "from",
    "is",
    "was",
    "are",
    "be",
    "this",
    "that",
    "it",
    "as",
    "an",
    "or",
    "we",
    "they",
    "he",
    "she",
    "their",
    "our",
    "has",
    "have",
    "had",
    "will",
]
KINDS = ["contact", "deal", "fact", "preference", "account"]
KIND_WEIGHTS = [40, 15, 30, 5, 10]
TAGS = ["vip", "new", "cold", "warm", "priority", "archived-source", "q1", "q2", "q3", "q4"]


def _vocabulary(size: int, rng: random.Random) -> list[str]:
    """Domain words first (the most frequent), then pronounceable made-up words."""
    onsets = [
        "b",
        "c",
        "d",
        "f",
        "g",
        "h",
        "k",
        "l",
        "m",
        "n",
        "p",
        "r",
        "s",
        "t",
        "v",
        "w",
        "z",
        "br",
        "cr",
        "dr",
        "gr",
        "pl",
        "st",
        "tr",
    ]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
    codas = ["", "n", "r", "s", "l", "m", "nd", "st", "x"]
    words = list(DOMAIN)
    seen = set(words)
    while len(words) < size:
        parts = rng.randint(2, 3)
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(parts))
        word += rng.choice(codas)
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _zipf(n: int, s: float = 1.0, q: float = 2.7) -> list[float]:
    """Cumulative Zipf-Mandelbrot weights for ranks 1..n."""
    return list(itertools.accumulate(1.0 / (r + q) ** s for r in range(1, n + 1)))


@dataclass(frozen=True, kw_only=True, slots=True)
class Row:
    kind: str
    name: str
    summary: str
    attrs: dict[str, object]
    tags: list[str]
    user_id: str


class Corpus:
    """Deterministic entity and query generator (seeded)."""

    def __init__(self, seed: int = 7, vocabulary: int = 4000, users: int = 100) -> None:
        self.rng = random.Random(seed)
        self.words = _vocabulary(vocabulary, random.Random(seed + 1))
        self.word_cum = _zipf(len(self.words))
        self.first_cum = _zipf(len(FIRST), s=0.8)
        self.last_cum = _zipf(len(LAST), s=0.8)
        self.users = [f"u{i}" for i in range(users)]

    def person(self) -> str:
        rng = self.rng
        first = rng.choices(FIRST, cum_weights=self.first_cum)[0]
        return f"{first} {rng.choices(LAST, cum_weights=self.last_cum)[0]}"

    def company(self) -> str:
        last = self.rng.choices(LAST, cum_weights=self.last_cum)[0]
        return f"{last} {self.rng.choice(COMPANY_TAIL)}"

    def word(self) -> str:
        return self.rng.choices(self.words, cum_weights=self.word_cum)[0]

    def text(self, n: int) -> str:
        rng = self.rng
        content = rng.choices(self.words, cum_weights=self.word_cum, k=n)
        out: list[str] = []
        for w in content:
            while rng.random() < 0.45:
                out.append(rng.choice(STOP))
            out.append(w)
        return " ".join(out)

    def row(self, user: str | None = None) -> Row:
        rng = self.rng
        kind = rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
        if kind == "contact":
            name = self.person()
        elif kind in ("deal", "account"):
            name = f"{self.company()} {self.word()}" if kind == "deal" else self.company()
        else:
            name = self.text(rng.randint(2, 4))
        return Row(
            kind=kind,
            name=name,
            summary=self.text(rng.randint(6, 16)),
            attrs={"value": rng.randint(1, 100_000), "stage": rng.choice(["lead", "won", "lost"])},
            tags=rng.sample(TAGS, rng.randint(0, 2)),
            user_id=user if user is not None else rng.choice(self.users),
        )

    def name_query(self) -> str:
        """A misspelt person name, as a user types it: one letter dropped from each part."""
        return " ".join(_typo(part, self.rng) for part in self.person().split())

    def topic_query(self) -> str:
        """A last name or company plus a topic word drawn like the text (Zipf)."""
        return f"{self.rng.choices(LAST, cum_weights=self.last_cum)[0]} {self.word()}"


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word))
    return word[:i] + word[i + 1 :]


def sample(seq: Sequence[str], rng: random.Random) -> str:
    return rng.choice(seq)
