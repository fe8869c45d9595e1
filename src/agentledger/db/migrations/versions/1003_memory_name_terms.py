"""Fuzzy name search through a per-tenant word dictionary, so that its cost does not grow
with the table.

A trigram index over whole names (memory_0001's GiST) must visit every name sharing a few
trigrams with the query: at a million entities a misspelt name read ~15k index pages. Search
engines expand each query word against their term dictionary instead; so does this revision:

* ``memory_name_terms`` holds every word that occurs in a tenant's entity names (kept by
  statement triggers; a few thousand words for a million names, since names reuse words).
  A misspelt query word finds its close words there (pg_trgm, ``%`` at WORD_SIMILARITY).
* Each entity's name words are indexed (GIN) as lexemes prefixed with the tenant, and again
  with the tenant and the entity's visibility (its user, or '' when it is unowned or
  shared), so a tenant-wide or user-scoped lookup of "any close word of each query word"
  reads posting lists of that tenant and that scope only.
* ``memory_fuzzy_v1`` ranks by trigram similarity of the whole name (the caller's threshold)
  the entities holding a close word for every query word, then, when that finds fewer than
  the limit, those holding a close word for any query word; each pass ranks at most ``p_cap``
  candidates, and a last pass fills the limit from the rest, so a search returns the full
  limit whenever that many names in scope share a close word with the query.

The name and hybrid search functions get a v2 on top of it (v1 stays for older clients, now
without its index). Deleting entities leaves their words in the dictionary (a word without
entities expands to nothing).

Revision ID: memory_0004
Revises: memory_0003
"""

from __future__ import annotations

import importlib

from alembic import op

from agentledger.db.migrations.helpers import app_role, tenant_table

revision = "memory_0004"
down_revision = "memory_0003"
branch_labels = None
depends_on = None

v1 = importlib.import_module("agentledger.db.migrations.versions.1002_memory_search_definer")

WORD_SIMILARITY = "0.2"  # how close a dictionary word must be to a query word
QUERY_WORDS = 8  # the longest words of a query that take part
EXPANSIONS = 8  # close words per query word
ANY_CAP = 4  # the any-word pass ranks up to this many times p_cap candidates
TIERS = (1, 3, EXPANSIONS)  # passes over the closest 1, 3, ... words of every query word

DICTIONARY = """
-- The words of a name, as the 'simple' text search parser splits and lowercases them.
CREATE FUNCTION agentledger.memory_name_words(p_name text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN tsvector_to_array(to_tsvector('simple'::regconfig, p_name));

-- What the name index holds for one entity: each word as '<tenant> <word>' and as
-- '<tenant> <user> <word>' ('<tenant>  <word>' when unowned or shared). Tenant ids and words
-- hold no space, so every lexeme reads back one way.
CREATE FUNCTION agentledger.memory_name_lexemes(
    p_tenant text, p_user text, p_shared boolean, p_name text
) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT array_to_tsvector(coalesce(
        array_agg(p_tenant || ' ' || w)
        || array_agg(p_tenant || ' '
                     || CASE WHEN p_shared OR p_user = '' THEN '' ELSE p_user END || ' ' || w),
        '{}'))
    FROM unnest(agentledger.memory_name_words(p_name)) AS w
);

CREATE TABLE agentledger.memory_name_terms (
    tenant_id text NOT NULL REFERENCES agentledger.tenants (id),
    term      text NOT NULL,
    PRIMARY KEY (tenant_id, term)
);
INSERT INTO agentledger.memory_name_terms (tenant_id, term)
SELECT DISTINCT e.tenant_id, w
FROM agentledger.memory_entities e, unnest(agentledger.memory_name_words(e.name)) AS w;

-- New names add their words (sorted, so concurrent writers take them in one order).
CREATE FUNCTION agentledger.memory_name_terms_add() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
BEGIN
    INSERT INTO agentledger.memory_name_terms (tenant_id, term)
    SELECT DISTINCT n.tenant_id, w
    FROM changed n, unnest(agentledger.memory_name_words(n.name)) AS w
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER memory_name_terms_insert AFTER INSERT ON agentledger.memory_entities
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.memory_name_terms_add();

CREATE FUNCTION agentledger.memory_name_terms_rename() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
BEGIN
    INSERT INTO agentledger.memory_name_terms (tenant_id, term)
    SELECT DISTINCT n.tenant_id, w
    FROM changed n
    JOIN previous o ON o.tenant_id = n.tenant_id AND o.id = n.id AND o.name <> n.name,
         unnest(agentledger.memory_name_words(n.name)) AS w
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER memory_name_terms_update AFTER UPDATE ON agentledger.memory_entities
    REFERENCING OLD TABLE AS previous NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.memory_name_terms_rename();

CREATE INDEX memory_entities_name_words_idx ON agentledger.memory_entities
    USING gin (agentledger.memory_name_lexemes(tenant_id, user_id, shared, name));
"""


def _trgm_index(name: str, table: str, column: str) -> str:
    """A DO block creating a GiST trigram index when pg_trgm is installed (its operator
    class qualified by the extension's schema)."""
    return f"""
    DO $do$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
            EXECUTE 'CREATE INDEX {name} ON agentledger.{table} USING gist ({column} '
                || (SELECT extnamespace::regnamespace::text
                    FROM pg_extension WHERE extname = 'pg_trgm')
                || '.gist_trgm_ops)';
        END IF;
    END
    $do$;
    """


# The scope filter of v1 (tenant, user, kinds, tags, attrs, dates, archived) on ``e``.
SCOPE = v1.SCOPE

# One pass over the entities whose name lexemes match ``@match@`` (none already found): at
# most @cap@ candidates, ranked by trigram similarity of the whole name.
RANKED_PASS = (
    """
        WITH candidate AS MATERIALIZED (
            SELECT e.id, @trgm@.similarity(e.name, p_query)::float8 AS score
            FROM agentledger.memory_entities e
            WHERE agentledger.memory_name_lexemes(e.tenant_id, e.user_id, e.shared, e.name)
                  @@ @match@
              AND e.id <> ALL(v_ids)"""
    + SCOPE
    + """
            LIMIT @cap@
        ), ranked AS (
            SELECT c.id, c.score FROM candidate c
            WHERE c.score >= p_threshold
            ORDER BY c.score DESC, c.id
            LIMIT p_limit - cardinality(v_ids)
        )
        SELECT coalesce((SELECT array_agg(r.id ORDER BY r.score DESC, r.id) FROM ranked r), '{}'),
               coalesce((SELECT array_agg(r.score ORDER BY r.score DESC, r.id) FROM ranked r),
                        '{}')
        INTO v_more_ids, v_more_scores;
        v_ids := v_ids || v_more_ids;
        v_scores := v_scores || v_more_scores;"""
)

FUZZY_FN = (
    """
CREATE FUNCTION agentledger.memory_fuzzy_v1(p_query text, p_threshold double precision,
    p_cap integer,"""
    + v1.FILTER_ARGS
    + """)
    RETURNS TABLE (id uuid, score double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 10
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
    SET pg_trgm.similarity_threshold = """
    + WORD_SIMILARITY
    + """
AS $fn$
#variable_conflict use_column
DECLARE
    v_tenant text := agentledger.current_tenant();
    v_tiers tsquery[];  -- the closest 1, 3, ... words of every query word
    v_tier tsquery;
    v_last tsquery;
    v_any tsquery;      -- any close word of any query word
    v_ids uuid[] := '{}';
    v_scores float8[] := '{}';
    v_more_ids uuid[];
    v_more_scores float8[];
BEGIN
    IF v_tenant IS NULL OR v_tenant = '' OR p_limit < 1 THEN
        RETURN;
    END IF;
    -- Each query word's close dictionary words, ranked, as lexemes of the caller's scope
    -- quoted for tsquery input: tiers (a) & (c), (a | b) & (c | d), ... and (a | b | c | d).
    WITH words AS (
        SELECT w FROM unnest(agentledger.memory_name_words(p_query)) AS w
        ORDER BY length(w) DESC, w
        LIMIT @query_words@
    ), close AS (
        SELECT q.w, x.term, row_number() OVER (PARTITION BY q.w ORDER BY x.sim DESC, x.term)
            AS closeness
        FROM words q
        CROSS JOIN LATERAL (
            SELECT t.term, @trgm@.similarity(t.term, q.w) AS sim
            FROM agentledger.memory_name_terms t
            WHERE t.tenant_id = v_tenant AND t.term @similar@ q.w
            ORDER BY sim DESC, t.term
            LIMIT @expansions@
        ) x
    ), quoted AS (
        SELECT c.w, c.closeness,
               '''' || replace(replace(l.lexeme, '\\', '\\\\'), '''', '''''') || '''' AS lexeme
        FROM close c
        CROSS JOIN LATERAL unnest(CASE
            WHEN p_user IS NULL THEN ARRAY[v_tenant || ' ' || c.term]
            ELSE ARRAY[v_tenant || ' ' || p_user || ' ' || c.term, v_tenant || '  ' || c.term]
            END) AS l(lexeme)
    ), alternatives AS (
        SELECT t.tier, q.w, string_agg(q.lexeme, ' | ') AS alts
        FROM unnest(ARRAY@tiers@) AS t(tier)
        JOIN quoted q ON q.closeness <= t.tier
        GROUP BY t.tier, q.w
    ), tiers AS (
        SELECT a.tier, string_agg('(' || a.alts || ')', ' & ')::tsquery AS every,
               string_agg(a.alts, ' | ')::tsquery AS any
        FROM alternatives a
        GROUP BY a.tier
    )
    SELECT array_agg(t.every ORDER BY t.tier),
           (array_agg(t.any ORDER BY t.tier DESC))[1]
    INTO v_tiers, v_any
    FROM tiers t;
    IF v_any IS NULL THEN
        RETURN;
    END IF;
    -- Names holding a close word for every query word, the closest words first.
    FOREACH v_tier IN ARRAY v_tiers LOOP
        CONTINUE WHEN v_tier = v_last;
        v_last := v_tier;"""
    + RANKED_PASS.replace("@match@", "v_tier").replace("@cap@", "p_cap")
    + """
        EXIT WHEN cardinality(v_ids) >= p_limit;
    END LOOP;
    -- Then names holding a close word for any of them.
    IF cardinality(v_ids) < p_limit AND v_any <> v_last THEN"""
    + RANKED_PASS.replace("@match@", "v_any").replace("@cap@", "p_cap * @any_cap@")
    + """
    END IF;
    RETURN QUERY SELECT u.id, u.score FROM unnest(v_ids, v_scores) AS u(id, score);
END
$fn$;
"""
)
FUZZY_FN = (
    FUZZY_FN.replace("@query_words@", str(QUERY_WORDS))
    .replace("@expansions@", str(EXPANSIONS))
    .replace("@tiers@", str(list(TIERS)))
    .replace("@any_cap@", str(ANY_CAP))
)

NAME_FN = (
    """
CREATE FUNCTION agentledger.memory_search_name_v2(p_name text, p_threshold double precision,
    p_cap integer,"""
    + v1.FILTER_ARGS
    + ")"
    + v1.HEADER
    + """AS $fn$
BEGIN
    RETURN QUERY
        SELECT """
    + v1.ENTITY
    + """,
               f.score, NULL::float8, NULL::float8, NULL::float8, NULL::text
        FROM agentledger.memory_fuzzy_v1(p_name, p_threshold, p_cap, p_user, p_kinds, p_tags,
            p_attrs, p_where, p_created_after, p_created_before, p_updated_after,
            p_updated_before, p_archived, p_limit) f
        JOIN agentledger.memory_entities e
          ON e.tenant_id = agentledger.current_tenant() AND e.id = f.id
        ORDER BY f.score DESC, e.id;
END
$fn$;
"""
)

FUZZY_BRANCH = """
    ), fuzzy_hits AS (
        SELECT f.id, f.score, row_number() OVER (ORDER BY f.score DESC, f.id) AS rank
        FROM agentledger.memory_fuzzy_v1(p_query, p_threshold, p_cap, p_user, p_kinds,
            p_tags, p_attrs, p_where, p_created_after, p_created_before, p_updated_after,
            p_updated_before, p_archived, p_pool) f
    )"""


def _hybrid_v2(ddl: str) -> str:
    """A v1 hybrid function with the dictionary fuzzy branch and the new arguments."""
    start = ddl.index("), fuzzy_hits AS (")
    end = ddl.index("\n    )", start) + len("\n    )")
    ddl = ddl[:start] + FUZZY_BRANCH.lstrip("\n").removeprefix("    ") + ddl[end:]
    return ddl.replace("_v1(", "_v2(", 1).replace(
        "p_rrf_k integer,", "p_rrf_k integer, p_threshold double precision, p_cap integer,"
    )


FUNCTIONS = (
    ("memory_fuzzy_v1", FUZZY_FN, ("pg_trgm",)),
    ("memory_search_name_v2", NAME_FN, ("pg_trgm",)),
    ("memory_search_hybrid_v2", _hybrid_v2(v1.HYBRID_FN), ("pg_trgm",)),
    ("memory_search_hybrid_vector_v2", _hybrid_v2(v1.HYBRID_VECTOR_FN), ("pg_trgm", "vector")),
)

# The owner reads every tenant's words in the definer functions, as memory_0003 lets it
# read entities (inert for a superuser owner; never for the app role).
OWNER_POLICY = """
DO $do$
BEGIN
    IF current_user <> '@role@' THEN
        CREATE POLICY definer_search ON agentledger.memory_name_terms
            FOR SELECT TO CURRENT_USER USING (true);
    END IF;
END
$do$;
"""


def revoke_fuzzy(role: str) -> str:
    """The fuzzy helper is for the definer functions only (creating it granted it)."""
    return f"""
    DO $do$
    BEGIN
        IF to_regproc('agentledger.memory_fuzzy_v1') IS NOT NULL THEN
            REVOKE ALL ON FUNCTION agentledger.memory_fuzzy_v1 FROM "{role}";
        END IF;
    END
    $do$;
    """


def upgrade() -> None:
    role = app_role()
    op.execute(DICTIONARY)
    op.execute(tenant_table("memory_name_terms", "SELECT, INSERT, DELETE"))
    op.execute(OWNER_POLICY.replace("@role@", role))
    op.execute("DROP INDEX IF EXISTS agentledger.memory_entities_name_trgm_idx")
    op.execute(_trgm_index("memory_name_terms_trgm_idx", "memory_name_terms", "term"))
    for name, ddl, needs in FUNCTIONS:
        op.execute(v1._create(name, ddl, needs, role))
    op.execute(revoke_fuzzy(role))


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION IF EXISTS agentledger.memory_search_hybrid_vector_v2;
    DROP FUNCTION IF EXISTS agentledger.memory_search_hybrid_v2;
    DROP FUNCTION IF EXISTS agentledger.memory_search_name_v2;
    DROP FUNCTION IF EXISTS agentledger.memory_fuzzy_v1;
    DROP INDEX agentledger.memory_entities_name_words_idx;
    DROP TRIGGER memory_name_terms_update ON agentledger.memory_entities;
    DROP TRIGGER memory_name_terms_insert ON agentledger.memory_entities;
    DROP FUNCTION agentledger.memory_name_terms_rename();
    DROP FUNCTION agentledger.memory_name_terms_add();
    DROP TABLE agentledger.memory_name_terms;
    DROP FUNCTION agentledger.memory_name_lexemes(text, text, boolean, text);
    DROP FUNCTION agentledger.memory_name_words(text);
    """)
    op.execute(_trgm_index("memory_entities_name_trgm_idx", "memory_entities", "name"))
