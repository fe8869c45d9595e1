"""Fuzzy names: the any-word pass reads each close word on its own, from a bounded sample.

memory_0004's last pass (names holding a close word of any query word, when the
every-word passes found fewer than the limit) ORed all close words (up to 8 per query
word) into one GIN scan. GIN builds the whole bitmap before the first row is read, so the
pass cost one step per name holding any of those words: at a million names a query near
a common first name built a bitmap of ~50k names to rank 512 of them, and that pass was
most of the 1M tail.

Now the pass walks the close words one by one, the closest of every query word first, and
ranks at most ``p_cap`` names per word until it has ranked ``ANY_CAP`` x ``p_cap`` in all.
Each scan runs with ``gin_fuzzy_search_limit``, PostgreSQL's bound on the bitmap of a
single-entry GIN scan: a word held by more names than twice ``p_cap`` yields a random
sample of them instead of all. The every-word passes are unchanged (an AND of sampled
posting lists would lose the very names it looks for), so a name holding a close word for
every query word is still found whatever its words' frequency; a name sharing only one
common word with the query comes from a sample.

Revision ID: memory_0006
Revises: memory_0005
"""

from __future__ import annotations

import importlib

from alembic import op

from agentledger.db.migrations.helpers import app_role, swap

revision = "memory_0006"
down_revision = "memory_0005"
branch_labels = None
depends_on = None

v1 = importlib.import_module("agentledger.db.migrations.versions.1002_memory_search_definer")
v4 = importlib.import_module("agentledger.db.migrations.versions.1003_memory_name_terms")


DECLARE = """    v_more_scores float8[];
"""
MORE_VARIABLES = """    v_each tsquery[];  -- each close word alone, closest first
    v_word tsquery;
    v_ranked integer := 0;
    v_count integer;
    v_any_ids uuid[] := '{}';
    v_any_scores float8[] := '{}';
"""

LISTS = """
    SELECT array_agg(t.every ORDER BY t.tier),
           (array_agg(t.any ORDER BY t.tier DESC))[1]
    INTO v_tiers, v_any
    FROM tiers t;"""
LISTS_AND_WORDS = """, each_word AS (
        SELECT q.closeness, q.w, string_agg(q.lexeme, ' | ')::tsquery AS query
        FROM quoted q
        GROUP BY q.closeness, q.w
    )
    SELECT array_agg(t.every ORDER BY t.tier),
           (array_agg(t.any ORDER BY t.tier DESC))[1],
           (SELECT array_agg(x.query ORDER BY x.closeness, x.w) FROM each_word x)
    INTO v_tiers, v_any, v_each
    FROM tiers t;"""

ANY_PASS_START = """
    -- Then names holding a close word for any of them.
    IF cardinality(v_ids) < p_limit AND v_any <> v_last THEN"""

# The scope filter of the word-by-word scans. Their words already carry the user scope (a
# user's own lexemes and the unowned-or-shared ones), and the planner, misjudging how many
# names one word holds, would AND each scan with a bitmap of every name the user may see
# (a step per visible name, per word). The check stays, written so that it is one.
USER_CHECK = "AND (p_user IS NULL OR e.user_id = '' OR e.user_id = p_user OR e.shared)"
WORD_SCOPE = swap(
    v1.SCOPE,
    USER_CHECK,
    "AND (p_user IS NULL OR coalesce(nullif(e.user_id, p_user), '') = '' OR e.shared)",
)

SAMPLED_ANY_PASS = (
    """
    -- Then names holding a close word for any of them: word by word, the closest first,
    -- up to p_cap names each from a bounded sample of the word's names.
    IF cardinality(v_ids) < p_limit AND v_any <> v_last THEN
        PERFORM set_config('gin_fuzzy_search_limit', (2 * p_cap)::text, true);
        FOREACH v_word IN ARRAY v_each LOOP
            EXIT WHEN v_ranked >= p_cap * @any_cap@;
            WITH candidate AS MATERIALIZED (
                SELECT e.id, @trgm@.similarity(e.name, p_query)::float8 AS score
                FROM agentledger.memory_entities e
                WHERE agentledger.memory_name_lexemes(e.tenant_id, e.user_id, e.shared, e.name)
                      @@ v_word
                  AND e.id <> ALL(v_ids)"""
    + WORD_SCOPE
    + """
                LIMIT least(p_cap, p_cap * @any_cap@ - v_ranked)
            )
            SELECT count(*)::integer,
                   coalesce(array_agg(c.id) FILTER (WHERE c.score >= p_threshold), '{}'),
                   coalesce(array_agg(c.score) FILTER (WHERE c.score >= p_threshold), '{}')
            INTO v_count, v_more_ids, v_more_scores
            FROM candidate c;
            v_ranked := v_ranked + v_count;
            v_any_ids := v_any_ids || v_more_ids;
            v_any_scores := v_any_scores || v_more_scores;
        END LOOP;
        PERFORM set_config('gin_fuzzy_search_limit', '0', true);
        WITH ranked AS (
            SELECT DISTINCT u.id, u.score FROM unnest(v_any_ids, v_any_scores) AS u(id, score)
            ORDER BY u.score DESC, u.id
            LIMIT p_limit - cardinality(v_ids)
        )
        SELECT coalesce(array_agg(r.id ORDER BY r.score DESC, r.id), '{}'),
               coalesce(array_agg(r.score ORDER BY r.score DESC, r.id), '{}')
        INTO v_more_ids, v_more_scores
        FROM ranked r;
        v_ids := v_ids || v_more_ids;
        v_scores := v_scores || v_more_scores;
    END IF;"""
).replace("@any_cap@", str(v4.ANY_CAP))


def _replaced(ddl: str) -> str:
    return swap(ddl, "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


def _sampled(ddl: str) -> str:
    """memory_0004's fuzzy function with the word-by-word any-word pass."""
    start = ddl.index(ANY_PASS_START)
    end = ddl.index("\n    END IF;", start) + len("\n    END IF;")
    ddl = ddl[:start] + SAMPLED_ANY_PASS + ddl[end:]
    ddl = swap(ddl, DECLARE, DECLARE + MORE_VARIABLES)
    ddl = swap(ddl, LISTS, LISTS_AND_WORDS)
    ddl = swap(
        ddl,
        "SET plan_cache_mode = force_custom_plan\n",
        # Restored when the function returns, whatever the pass set it to.
        "SET plan_cache_mode = force_custom_plan\n    SET gin_fuzzy_search_limit = 0\n",
    )
    return _replaced(ddl)


FUZZY_FN = _sampled(v4.FUZZY_FN)


def upgrade() -> None:
    role = app_role()
    op.execute(v1._create("memory_fuzzy_v1", FUZZY_FN, ("pg_trgm",), role))
    op.execute(v4.revoke_fuzzy(role))


def downgrade() -> None:
    role = app_role()
    op.execute(v1._create("memory_fuzzy_v1", _replaced(v4.FUZZY_FN), ("pg_trgm",), role))
    op.execute(v4.revoke_fuzzy(role))
