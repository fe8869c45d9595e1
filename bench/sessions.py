"""Sessions benchmark: chunk appends, full-text search growth, the JSON importer; same run:

- ``sessions.add_chunk`` of 1 KB and 1 MB chunks (sync ``Ledger``) against raw psycopg
  running the statements the library runs (its ``queries.sql`` text: tenant binding, the
  chunk and its segments with their tsvectors, further segment batches, the session
  event) in one transaction as the application role;
- ``sessions.search`` p50 / p99 over 100k chunks of about 5 KB (some 500 MB of text, over
  1,000 sessions) against the same searches at 10k chunks, tenant-wide and in one session,
  words and phrases (target: p99 grows <= 3x);
- seed 001's JSON importer (``examples.collab_sessions.migrate_json``) in rows/s against a
  COPY of as many chunk rows (what the disk takes).

    python -m bench.sessions [--quick]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, LiteralString
from uuid import UUID

import psycopg
from psycopg import sql

from agentledger import Ledger
from agentledger.db import binding
from agentledger.ledger import TenantScope
from agentledger.session_import import KINDS
from agentledger.sessions import content as texts, segments
from agentledger.sessions.ops import event
from bench.common import (
    add_fast_flag,
    bench_database,
    console,
    machine,
    measure_alternately,
    progress,
    ratio_table,
    record_growth,
)
from bench.corpus import Corpus
from bench.memory import percentiles
from examples.collab_sessions.json_backend import JsonBackend, read_json, write_json
from examples.collab_sessions.migrate_json import import_sessions

BIND: LiteralString = binding.QUERIES.bind_tenant.sql
CHUNK_CHARS = 5_000  # the search corpus: about 5 KB a chunk
KB, MB = 1024, 1024 * 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_fast_flag(parser)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        appends = {KB: 30, MB: 2}
        repeats, sizes, spread_over, queries, json_sessions = 3, (500, 5_000), 100, 40, 5
    else:
        appends = {KB: 300, MB: 5}
        repeats, sizes, spread_over, queries, json_sessions = 5, (10_000, 100_000), 1000, 400, 200
    console.print(machine())
    pool = Pool(Corpus(seed=11))
    with (
        bench_database("sessions", fast=args.fast) as db,
        Ledger(db.settings, migrate=False) as ledger,
    ):
        ledger.tenants.create("bench")
        compare_appends(ledger.tenant("bench"), db.app_url, pool, appends, repeats)
        owner = psycopg.connect(db.owner_url, autocommit=True)
        try:
            ledger.tenants.create("search")
            search_growth(ledger.tenant("search"), owner, pool, sizes, spread_over, queries)
            compare_import(ledger, owner, pool, json_sessions, repeats=1 if args.quick else 3)
        finally:
            owner.close()


class Pool:
    """Realistic text fast: sentences drawn once from the corpus (Zipf words, stop words),
    then texts of any size made of random sentences."""

    def __init__(self, corpus: Corpus, sentences: int = 20_000) -> None:
        self.rng = random.Random(3)
        self.sentences = [corpus.text(corpus.rng.randint(8, 24)) for _ in range(sentences)]
        self.corpus = corpus

    def text(self, chars: int) -> str:
        """About ``chars`` characters (at most), cut at a space."""
        out: list[str] = []
        size = 0
        while size < chars:
            picked = self.rng.choices(self.sentences, k=max(1, (chars - size) // 150 + 1))
            out += picked
            size += sum(len(s) + 1 for s in picked)
        text = " ".join(out)
        if len(text) > chars:
            text = text[: text.rfind(" ", 0, chars + 1)]
        return text

    def phrase(self, words: int = 3) -> str:
        """``words`` consecutive words of a sentence of the corpus, quoted."""
        parts = self.rng.choice(self.sentences).split()
        start = self.rng.randrange(max(1, len(parts) - words))
        return '"' + " ".join(parts[start : start + words]) + '"'


# --- 1. chunk appends ---------------------------------------------------------------------


def raw_add_chunk(conn: psycopg.Connection[Any], tenant: str, session: UUID, text: str) -> None:
    """What ``add_chunk`` runs (its statements' text), straight through the driver: bind
    the tenant, lock the session, insert the chunk with its first segments, the other
    segments a batch per statement, the session's event; one transaction."""
    chunk_id = uuid.uuid4()
    parts = segments.split(text)
    batch = texts.WRITE_BATCH
    with conn.transaction():
        with conn.pipeline():
            conn.execute(BIND, {"tenant": tenant})
            conn.execute(texts.Q.lock_for_insert.sql, {"session_id": session})
            cur = conn.execute(
                texts.Q.add_chunk.sql,
                {
                    "session_id": session,
                    "id": chunk_id,
                    "format": "dialogue",
                    "author": None,
                    "extracted": "{}",
                    "size": len(text),
                    "segment_count": len(parts.bodies),
                    "bodies": parts.bodies[:batch],
                    "overlaps": parts.overlaps[:batch],
                    "starts": parts.starts[:batch],
                },
            )
        row = cur.fetchone()
        assert row is not None
        for first in range(batch, len(parts.bodies), batch):
            conn.execute(
                texts.Q.add_chunk_segments.sql,
                {
                    "id": chunk_id,
                    "first_ord": first,
                    "bodies": parts.bodies[first : first + batch],
                    "overlaps": parts.overlaps[first : first + batch],
                    "starts": parts.starts[first : first + batch],
                },
            )
        payload = {"chunk_id": str(chunk_id), "seq": row[3], "format": "dialogue"}
        stmt = event(session, texts.CHUNK_ADDED, str(chunk_id), {**payload, "size": len(text)})
        assert isinstance(stmt.params, dict)
        conn.execute(stmt.query.sql, stmt.params).fetchall()


def compare_appends(
    scope: TenantScope, app_url: str, pool: Pool, counts: dict[int, int], repeats: int
) -> None:
    raw = psycopg.connect(app_url, autocommit=True)
    rows = []
    turn = iter(range(10**9))
    try:
        for size, count in counts.items():
            bodies = [pool.text(size) for _ in range(min(count, 50))]
            ours_session = scope.sessions.create(f"appends {size} (library)").id
            raw_session = scope.sessions.create(f"appends {size} (raw)").id

            def ours(
                session: UUID = ours_session, bodies: list[str] = bodies, n: int = count
            ) -> None:
                for _ in range(n):
                    scope.sessions.add_chunk(session, bodies[next(turn) % len(bodies)])

            def base(
                session: UUID = raw_session, bodies: list[str] = bodies, n: int = count
            ) -> None:
                for _ in range(n):
                    raw_add_chunk(raw, "bench", session, bodies[next(turn) % len(bodies)])

            label = f"{size // KB} KB" if size < MB else f"{size // MB} MB"
            mine, theirs = measure_alternately(
                [
                    (f"add_chunk {label} (x{count})", ours),
                    ("raw psycopg, same statements", base),
                ],
                units=count,
                repeats=repeats,
            )
            rows.append((mine, theirs))
            console.print(
                f"add_chunk {label}: {mine.per_second * size / MB:,.1f} MB/s "
                f"(raw {theirs.per_second * size / MB:,.1f} MB/s)"
            )
    finally:
        raw.close()
    console.print(ratio_table("sessions: chunk appends (ratio > 1: slower)", rows))


# --- 2. search growth ---------------------------------------------------------------------


def create_sessions(owner: psycopg.Connection[Any], tenant: str, count: int) -> list[UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    with (
        owner.cursor() as cur,
        cur.copy("COPY agentledger.sessions (tenant_id, id, title) FROM STDIN") as copy,
    ):
        for i, sid in enumerate(ids):
            copy.write_row((tenant, sid, f"session {i}"))
    return ids


def copy_chunks(
    owner: psycopg.Connection[Any],
    tenant: str,
    sessions: Sequence[UUID],
    bodies: Callable[[int], str],
    count: int,
    *,
    start: int = 0,
    label: str = "COPY",
    bar: bool = True,
) -> None:
    """``count`` chunks by COPY as the owner (COPY skips RLS), chunk ``i`` of session
    ``sessions[i % len(sessions)]``, one segment each, in transactions of 10k chunks.

    The chunk insert trigger assigns seq and counts the chunk one row at a time (an update
    of the session row per chunk); here it is off for the COPY (in its transaction), the
    seq is written as it would assign it, and the sessions' counters are set after, as the
    trigger would have left them."""
    per = len(sessions)
    cols_c = "tenant_id, session_id, id, seq, format, size, segment_count"
    cols_s = "tenant_id, chunk_id, ord, start_at, body"
    with progress() as shown:
        task = shown.add_task(f"{label} {count:,} chunks", total=count, visible=bar)
        done = 0
        while done < count:
            n = min(10_000, count - done)
            rows = []
            for j in range(start + done, start + done + n):
                text = bodies(j)
                rows.append((sessions[j % per], uuid.uuid4(), j // per + 1, text))
            with owner.transaction():
                owner.execute(
                    "ALTER TABLE agentledger.session_chunks DISABLE TRIGGER session_chunks_assign"
                )
                with (
                    owner.cursor() as cur,
                    cur.copy(f"COPY agentledger.session_chunks ({cols_c}) FROM STDIN") as copy,
                ):
                    for sid, cid, seq, text in rows:
                        fmt = "transcript" if seq % 5 == 0 else "dialogue"
                        copy.write_row((tenant, sid, cid, seq, fmt, len(text), 1))
                with (
                    owner.cursor() as cur,
                    cur.copy(
                        f"COPY agentledger.session_chunk_segments ({cols_s}) FROM STDIN"
                    ) as copy,
                ):
                    for _, cid, _, text in rows:
                        copy.write_row((tenant, cid, 0, 0, text))
                owner.execute(
                    "ALTER TABLE agentledger.session_chunks ENABLE TRIGGER session_chunks_assign"
                )
            done += n
            shown.advance(task, n)
    owner.execute(
        """
        UPDATE agentledger.sessions s SET chunk_count = c.n, chunk_seq = c.top,
            last_activity = now()
        FROM (SELECT session_id, count(*)::integer AS n, max(seq) AS top
              FROM agentledger.session_chunks WHERE tenant_id = %(t)s GROUP BY session_id) c
        WHERE s.tenant_id = %(t)s AND s.id = c.session_id
        """,
        {"t": tenant},
    )


def rebuild_search_index(owner: psycopg.Connection[Any], load: Callable[[], None]) -> None:
    """``load`` without the GIN index, then the index built again as the migration made it
    (a build is much faster than as many inserts)."""
    definition = owner.execute(
        "SELECT pg_get_indexdef('agentledger.session_chunk_segments_tsv'::regclass)"
    ).fetchone()
    assert definition is not None
    owner.execute("DROP INDEX agentledger.session_chunk_segments_tsv")
    load()
    started = time.perf_counter()
    owner.execute("SET maintenance_work_mem = '1GB'")
    owner.execute(sql.SQL(definition[0]))
    owner.execute("VACUUM ANALYZE agentledger.session_chunks, agentledger.session_chunk_segments")
    console.print(f"GIN index built and analysed in {time.perf_counter() - started:.1f} s")


def search_growth(
    scope: TenantScope,
    owner: psycopg.Connection[Any],
    pool: Pool,
    sizes: tuple[int, int],
    spread_over: int,
    queries: int,
) -> None:
    sessions = create_sessions(owner, "search", spread_over)
    # The same asks at both sizes: words drawn as the text draws them (two: every word must
    # occur), phrases of three consecutive words; alternately tenant-wide and in a session.
    asks: list[tuple[str, str, UUID | None]] = []
    for i in range(queries):
        query = pool.phrase() if i % 4 >= 2 else f"{pool.corpus.word()} {pool.corpus.word()}"
        session = sessions[(i * 7919) % spread_over] if i % 2 else None
        asks.append(("phrase" if i % 4 >= 2 else "words", query, session))
    have = 0
    figures: dict[tuple[int, str], tuple[float, float]] = {}
    for size in sizes:
        started = time.perf_counter()

        def load(count: int = size - have, start: int = have) -> None:
            copy_chunks(
                owner, "search", sessions, lambda _: pool.text(CHUNK_CHARS), count, start=start
            )

        rebuild_search_index(owner, load)
        stored = owner.execute(
            "SELECT count(*), sum(size)::bigint FROM agentledger.session_chunks"
            " WHERE tenant_id = 'search'"
        ).fetchone()
        assert stored is not None
        console.print(
            f"{stored[0]:,} chunks, {stored[1] / 1e6:,.0f} MB of text over {spread_over:,} "
            f"sessions, loaded in {time.perf_counter() - started:.0f} s"
        )
        have = size
        for _, query, session in asks[:10]:  # warm the caches alike at both sizes
            scope.sessions.search(query, session_id=session)
        samples: dict[str, list[float]] = {"tenant-wide": [], "in a session": [], "all": []}
        found = 0
        for _, query, session in asks:
            began = time.perf_counter()
            found += len(scope.sessions.search(query, session_id=session))
            took = time.perf_counter() - began
            samples["in a session" if session else "tenant-wide"].append(took)
            samples["all"].append(took)
        for where, taken in samples.items():
            figures[size, where] = percentiles(taken)
            p50, p99 = figures[size, where]
            console.print(
                f"search over {size:,} chunks, {where} ({len(taken)} queries): "
                f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
            )
        console.print(f"({found:,} hits in all, at most 20 a query)")
    small, large = sizes
    for where in ("all", "tenant-wide", "in a session"):
        ratio = record_growth(
            f"sessions search: p99 at {large:,} vs {small:,} chunks (<= 3x)",
            f"search {where}",
            (f"{large:,}", f"{small:,}"),
            (figures[large, where][1], figures[small, where][1]),
        )
        console.print(
            f"p99 growth {large:,} / {small:,} chunks, {where}: {ratio:.2f}x (target <= 3x)"
        )


# --- 3. the JSON importer -----------------------------------------------------------------


def make_json_store(root: Path, pool: Pool, sessions: int) -> int:
    """A JSON store written by the example's JSON backend: each session with 20 chunks
    (about 2 KB), 10 memories, 10 tasks (3 completed, 1 failed) and 2 artifacts (about
    4 KB); returns the characters of chunk text written."""
    rng = random.Random(17)
    chars = 0
    with JsonBackend(root) as store, progress() as bar:
        task = bar.add_task(f"JSON store of {sessions} sessions", total=sessions)
        for i in range(sessions):
            sid = store.create_session(f"project {i}", ["claude_code", "codex"])["id"]
            for j in range(20):
                text = pool.text(rng.randint(1000, 3000))
                chars += len(text)
                store.add_conversation_chunk(
                    sid, text, format="summary" if j % 10 == 9 else "dialogue", author="codex"
                )
            for j in range(10):
                store.store_memory(
                    sid,
                    ("idea", "decision", "question")[j % 3],
                    f"note-{j}",
                    {"text": pool.text(300), "by": "claude_code"},
                    tags=["bench", f"t{j % 4}"],
                )
            for j in range(10):
                store.create_task(
                    sid,
                    ("claude_code", "codex", None)[j % 3],
                    ("code", "research", "document", "analysis")[j % 4],
                    {"ask": pool.text(200)},
                    priority=j % 3,
                )
            for j in range(2):
                store.store_artifact(
                    sid, f"doc-{j}", pool.text(4000), artifact_type="document", format="markdown"
                )
            folder = root / "sessions" / sid
            tasks = read_json(folder / "tasks.json", [])
            for k, item in enumerate(tasks[:4]):
                if k < 3:
                    item.update(status="completed", output_data={"result": "done"})
                else:
                    item.update(status="failed", error="gave up")
            write_json(folder / "tasks.json", tasks)
            bar.advance(task)
    return chars


def compare_import(
    ledger: Ledger, owner: psycopg.Connection[Any], pool: Pool, sessions: int, repeats: int
) -> None:
    with tempfile.TemporaryDirectory(prefix="al-json-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        make_json_store(root, pool, sessions)
        console.print(f"JSON store written in {time.perf_counter() - started:.1f} s")
        chunk_texts = [
            (root / "sessions" / d.name / "chunks" / f"{c['id']}.txt").read_text("utf-8")
            for d in sorted((root / "sessions").iterdir())
            for c in read_json(d / "chunks.json", [])
        ]
        rounds = iter(range(10**6))
        reports = []
        # Each run imports into a tenant of its own (a second run into the same tenant finds
        # everything there and imports nothing); the COPY fills its own tenant's sessions.
        first = import_sessions(ledger, root, tenant="import-probe")
        rows = sum(first.imported.values())
        targets: dict[str, list[UUID]] = {}

        copy_tenant = [""]

        def setup(label: str) -> None:
            if label.startswith("COPY"):  # a tenant with as many sessions, untimed
                copy_tenant[0] = f"copy-{next(rounds)}"
                ledger.tenants.create(copy_tenant[0])
                targets["sessions"] = create_sessions(owner, copy_tenant[0], sessions)

        def ours() -> None:
            reports.append(import_sessions(ledger, root, tenant=f"import-{next(rounds)}"))

        def base() -> None:
            copy_chunks(
                owner,
                copy_tenant[0],
                targets["sessions"],
                lambda j: chunk_texts[j % len(chunk_texts)],
                rows,
                bar=False,
            )

        mine, theirs = measure_alternately(
            [
                (f"import_sessions ({sessions} sessions, rows)", ours),
                ("COPY as many chunk rows", base),
            ],
            units=rows,
            repeats=repeats,
            setup=setup,
        )
    counts = ", ".join(f"{first.imported[k]:,} {k}" for k in KINDS)
    console.print(f"imported a run: {counts} ({rows:,} rows; found {sum(first.found.values()):,})")
    assert all(r.imported == first.imported and not r.errors for r in reports), reports
    console.print(
        ratio_table("sessions: the JSON importer, rows/s (ratio > 1: slower)", [(mine, theirs)])
    )


if __name__ == "__main__":
    main()
