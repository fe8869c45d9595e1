"""Cases: system-of-record items (exceptions, bottlenecks) with a lifecycle per kind.

A tenant defines its case kinds: each kind's statuses (some terminal), its initial status
and the moves allowed between statuses (``case_kinds``, ``case_statuses``,
``case_transitions``). The database holds a case to them whoever writes it: the row
trigger ``cases_guard`` refuses a status that is not the kind's, and a status change that
is not one of the kind's moves (SQLSTATE ALIT0, IllegalTransition), and it owns the
columns derived from the lifecycle: ``version`` counts the row's changes, ``opened_at`` is
set on creation and when a case leaves a terminal status, ``resolved_at`` when it enters
one (and cleared when it leaves). A status still holding cases cannot be removed (the
foreign key from ``cases``), and a status never changes between terminal and open
(``case_statuses_guard``), so ``resolved_at IS NULL`` always means "open".

Counts per kind, status, severity and domain are kept for the supervisor's view without
reading the cases: statement triggers append the net change of each statement to
``case_tally_deltas`` (insert-only, so concurrent writers never wait on a shared counter
row or deadlock on two), and now and then a writer folds a tenant's committed deltas into
``case_tallies`` under a try-lock (one folder per tenant at a time; the others skip). A
count is the tallies plus the deltas not yet folded. Both are written only by the
definer trigger function; the app role may read them.

Listings and similarity run in SECURITY DEFINER functions, as memory's do (memory_0005):
under the tenant policy the attribute (``@>``, ``@@``) and full-text operators are not
leakproof and could not use their indexes, and each call is planned with its arguments
as constants (``force_custom_plan``), so an absent filter folds away and the index for
the requested order serves the keyset.

Links to memory entities have no foreign key to ``memory_entities``, another branch's
table: linking checks (and holds) the entity in the same transaction, and listings show
only links whose entity still exists.

Revision ID: cases_0001
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, tenant_table

revision = "cases_0001"
down_revision = "0001"
branch_labels = ("cases",)
depends_on = None

TABLES = """
CREATE TABLE agentledger.case_kinds (
    tenant_id  text NOT NULL REFERENCES agentledger.tenants (id),
    kind       text NOT NULL CONSTRAINT case_kinds_kind_length
               CHECK (length(kind) BETWEEN 1 AND 100),
    initial    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind)
);

CREATE TABLE agentledger.case_statuses (
    tenant_id text NOT NULL,
    kind      text NOT NULL,
    status    text NOT NULL CONSTRAINT case_statuses_status_length
              CHECK (length(status) BETWEEN 1 AND 100),
    terminal  boolean NOT NULL,
    position  integer NOT NULL,
    PRIMARY KEY (tenant_id, kind, status),
    CONSTRAINT case_statuses_kind_fk FOREIGN KEY (tenant_id, kind)
        REFERENCES agentledger.case_kinds (tenant_id, kind) ON DELETE CASCADE
);

CREATE TABLE agentledger.case_transitions (
    tenant_id   text NOT NULL,
    kind        text NOT NULL,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    PRIMARY KEY (tenant_id, kind, from_status, to_status),
    CONSTRAINT case_transitions_not_self CHECK (from_status <> to_status),
    CONSTRAINT case_transitions_from_fk FOREIGN KEY (tenant_id, kind, from_status)
        REFERENCES agentledger.case_statuses (tenant_id, kind, status) ON DELETE CASCADE,
    CONSTRAINT case_transitions_to_fk FOREIGN KEY (tenant_id, kind, to_status)
        REFERENCES agentledger.case_statuses (tenant_id, kind, status) ON DELETE CASCADE
);

CREATE TABLE agentledger.cases (
    tenant_id     text NOT NULL,
    id            uuid NOT NULL,
    kind          text NOT NULL,
    ref           text CONSTRAINT cases_ref_length CHECK (length(ref) BETWEEN 1 AND 200),
    status        text NOT NULL,
    title         text NOT NULL CONSTRAINT cases_title_length
                  CHECK (length(title) BETWEEN 1 AND 500),
    body          text NOT NULL DEFAULT '',
    type          text,
    severity      text CONSTRAINT cases_severity
                  CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    score         double precision CONSTRAINT cases_score_range CHECK (score BETWEEN 0 AND 10),
    confidence    double precision CONSTRAINT cases_confidence_range
                  CHECK (confidence BETWEEN 0 AND 1),
    owner         text,
    domain        text,
    entity        text,
    source        text,
    amount        numeric,
    sla_deadline  timestamptz,
    playbook      text,
    playbook_step integer CONSTRAINT cases_playbook_step CHECK (playbook_step >= 0),
    attrs         jsonb NOT NULL DEFAULT '{}' CONSTRAINT cases_attrs_object
                  CHECK (jsonb_typeof(attrs) = 'object'),
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    opened_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz,
    -- Severity as a number, for ordering (no severity: 0).
    severity_rank smallint NOT NULL GENERATED ALWAYS AS (CASE severity
        WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'critical' THEN 4
        ELSE 0 END) STORED,
    tsv           tsvector NOT NULL GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, title), 'A')
        || setweight(to_tsvector('english'::regconfig, left(body, 20000)), 'B')) STORED,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT cases_ref_unique UNIQUE (tenant_id, kind, ref),
    CONSTRAINT cases_status_fk FOREIGN KEY (tenant_id, kind, status)
        REFERENCES agentledger.case_statuses (tenant_id, kind, status),
    CONSTRAINT cases_resolved_after_opened CHECK (resolved_at >= opened_at)
);
-- One index per listing order (cases_list_v1), and the lookups the supervisor and the
-- Co-Pilot queries make. Orders with NULLs sort on a total key (no score: -1; no deadline:
-- infinity), so that a keyset cursor passes every row.
CREATE INDEX cases_kind_status_score ON agentledger.cases
    (tenant_id, kind, status, (coalesce(score, -1)) DESC, id DESC);
CREATE INDEX cases_created ON agentledger.cases (tenant_id, created_at DESC, id DESC);
CREATE INDEX cases_updated ON agentledger.cases (tenant_id, updated_at DESC, id DESC);
CREATE INDEX cases_severity ON agentledger.cases
    (tenant_id, severity_rank DESC, created_at DESC, id DESC);
CREATE INDEX cases_domain_created ON agentledger.cases
    (tenant_id, domain, created_at DESC, id DESC) WHERE domain IS NOT NULL;
CREATE INDEX cases_entity_created ON agentledger.cases
    (tenant_id, entity, created_at DESC, id DESC) WHERE entity IS NOT NULL;
-- Open cases only, by deadline: SLA breaches, the sla_deadline order, and the ages of
-- open cases (read from the index alone).
CREATE INDEX cases_open_sla ON agentledger.cases
    (tenant_id, (coalesce(sla_deadline, 'infinity'::timestamptz)), id)
    INCLUDE (opened_at, kind, domain, sla_deadline) WHERE resolved_at IS NULL;
CREATE INDEX cases_resolved ON agentledger.cases (tenant_id, resolved_at)
    INCLUDE (opened_at, kind, domain) WHERE resolved_at IS NOT NULL;
CREATE INDEX cases_attrs ON agentledger.cases USING gin (attrs jsonb_path_ops);
CREATE INDEX cases_tsv ON agentledger.cases USING gin (tsv);

-- "a blocks b": a must be dealt with before b can move on.
CREATE TABLE agentledger.case_blocks (
    tenant_id  text NOT NULL,
    blocker    uuid NOT NULL,
    blocked    uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, blocker, blocked),
    CONSTRAINT case_blocks_not_self CHECK (blocker <> blocked),
    CONSTRAINT case_blocks_blocker_fk FOREIGN KEY (tenant_id, blocker)
        REFERENCES agentledger.cases (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT case_blocks_blocked_fk FOREIGN KEY (tenant_id, blocked)
        REFERENCES agentledger.cases (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX case_blocks_blocked ON agentledger.case_blocks (tenant_id, blocked);

-- The memory entities a case is about.
CREATE TABLE agentledger.case_links (
    tenant_id  text NOT NULL,
    case_id    uuid NOT NULL,
    entity_id  uuid NOT NULL,
    role       text NOT NULL DEFAULT '' CONSTRAINT case_links_role_length
               CHECK (length(role) <= 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, case_id, entity_id, role),
    CONSTRAINT case_links_case_fk FOREIGN KEY (tenant_id, case_id)
        REFERENCES agentledger.cases (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX case_links_entity ON agentledger.case_links (tenant_id, entity_id);

-- Case counts by kind, status, severity and domain ('' for none): folded totals, and the
-- net changes of statements not folded yet.
CREATE TABLE agentledger.case_tallies (
    tenant_id text NOT NULL,
    kind      text NOT NULL,
    status    text NOT NULL,
    severity  text NOT NULL,
    domain    text NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (tenant_id, kind, status, severity, domain)
);
CREATE TABLE agentledger.case_tally_deltas (
    tenant_id text NOT NULL,
    id        bigint GENERATED ALWAYS AS IDENTITY,
    kind      text NOT NULL,
    status    text NOT NULL,
    severity  text NOT NULL,
    domain    text NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
"""

TRIGGERS = """
-- A case follows its kind's lifecycle whoever writes it, and the lifecycle's columns are
-- the database's: version, opened_at and resolved_at (see the revision's docstring).
CREATE FUNCTION agentledger.cases_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_initial text;
    v_terminal boolean;
    v_was_terminal boolean;
    v_allowed text;
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.tenant_id <> OLD.tenant_id OR NEW.id <> OLD.id
                             OR NEW.kind <> OLD.kind OR NEW.created_at <> OLD.created_at) THEN
        RAISE EXCEPTION USING ERRCODE = 'ALII0', COLUMN = 'kind',
            MESSAGE = 'case ' || OLD.id || ' keeps its tenant, id, kind and creation time';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status IS NULL THEN
        RETURN NEW;  -- refused by the column's NOT NULL
    END IF;
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        SELECT k.initial, s.terminal INTO v_initial, v_terminal
        FROM agentledger.case_kinds k
        LEFT JOIN agentledger.case_statuses s ON s.tenant_id = k.tenant_id
            AND s.kind = k.kind AND s.status = coalesce(NEW.status, k.initial)
        WHERE k.tenant_id = NEW.tenant_id AND k.kind = NEW.kind;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'ALII0', COLUMN = 'kind',
                MESSAGE = 'case kind ' || quote_literal(NEW.kind)
                    || ' is not defined: define it first';
        END IF;
        IF TG_OP = 'INSERT' THEN
            NEW.status := coalesce(NEW.status, v_initial);
        END IF;
        IF v_terminal IS NULL THEN
            SELECT string_agg(quote_literal(s.status), ', ' ORDER BY s.position) INTO v_allowed
            FROM agentledger.case_statuses s
            WHERE s.tenant_id = NEW.tenant_id AND s.kind = NEW.kind;
            RAISE EXCEPTION USING ERRCODE = 'ALII0', COLUMN = 'status',
                MESSAGE = 'status ' || coalesce(quote_literal(NEW.status), 'NULL')
                    || ' is not a status of case kind ' || quote_literal(NEW.kind)
                    || '; expected one of ' || coalesce(v_allowed, 'none');
        END IF;
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.version := 1;
        NEW.updated_at := NEW.created_at;
        NEW.opened_at := NEW.created_at;
        NEW.resolved_at := CASE WHEN v_terminal THEN NEW.created_at END;
        RETURN NEW;
    END IF;
    NEW.version := OLD.version + 1;
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    NEW.opened_at := OLD.opened_at;
    NEW.resolved_at := OLD.resolved_at;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT 1 FROM agentledger.case_transitions t
                       WHERE t.tenant_id = NEW.tenant_id AND t.kind = NEW.kind
                         AND t.from_status = OLD.status AND t.to_status = NEW.status) THEN
            SELECT string_agg(quote_literal(t.to_status), ', ' ORDER BY s.position)
            INTO v_allowed
            FROM agentledger.case_transitions t
            JOIN agentledger.case_statuses s ON s.tenant_id = t.tenant_id AND s.kind = t.kind
                AND s.status = t.to_status
            WHERE t.tenant_id = OLD.tenant_id AND t.kind = OLD.kind
              AND t.from_status = OLD.status;
            RAISE EXCEPTION USING ERRCODE = 'ALIT0', COLUMN = 'status',
                MESSAGE = 'case ' || coalesce(quote_literal(OLD.ref), OLD.id::text) || ' ('
                    || OLD.kind || ') cannot move from ' || quote_literal(OLD.status) || ' to '
                    || quote_literal(NEW.status) || CASE WHEN v_allowed IS NULL
                        THEN ': ' || quote_literal(OLD.status) || ' has no moves'
                        ELSE ': from ' || quote_literal(OLD.status) || ' it may move to '
                            || v_allowed END;
        END IF;
        SELECT s.terminal INTO v_was_terminal FROM agentledger.case_statuses s
        WHERE s.tenant_id = OLD.tenant_id AND s.kind = OLD.kind AND s.status = OLD.status;
        IF v_terminal AND NOT v_was_terminal THEN
            NEW.resolved_at := NEW.updated_at;
        ELSIF v_was_terminal AND NOT v_terminal THEN
            NEW.resolved_at := NULL;
            NEW.opened_at := NEW.updated_at;
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER cases_guard BEFORE INSERT OR UPDATE ON agentledger.cases
    FOR EACH ROW EXECUTE FUNCTION agentledger.cases_guard();

-- Whether a status is terminal is fixed once it exists: cases in it were opened or
-- resolved by it.
CREATE FUNCTION agentledger.case_statuses_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NEW.terminal IS DISTINCT FROM OLD.terminal THEN
        RAISE EXCEPTION USING ERRCODE = 'ALCF0', COLUMN = 'terminal',
            MESSAGE = 'status ' || quote_literal(OLD.status) || ' of case kind '
                || quote_literal(OLD.kind) || ' is '
                || CASE WHEN OLD.terminal THEN 'terminal' ELSE 'open' END
                || ' and stays so; define a new status instead';
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER case_statuses_guard BEFORE UPDATE ON agentledger.case_statuses
    FOR EACH ROW EXECUTE FUNCTION agentledger.case_statuses_guard();

-- The net count change of one statement on cases, appended as deltas; now and then (when a
-- delta's id is a multiple of 32) folded with the tenant's committed deltas into the
-- tallies, by one writer at a time per tenant (a try-lock: the others leave theirs).
-- Outside read committed the fold is left to a later writer: an older snapshot could
-- miss another folder's work.
CREATE FUNCTION agentledger.cases_tally() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_fold boolean;
    v_tenant text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH d AS (
            INSERT INTO agentledger.case_tally_deltas
                (tenant_id, kind, status, severity, domain, n)
            SELECT a.tenant_id, a.kind, a.status, coalesce(a.severity, ''),
                   coalesce(a.domain, ''), count(*)
            FROM added a GROUP BY 1, 2, 3, 4, 5
            RETURNING id
        )
        SELECT bool_or(mod(d.id, 32) = 0) INTO v_fold FROM d;
    ELSIF TG_OP = 'UPDATE' THEN
        WITH d AS (
            INSERT INTO agentledger.case_tally_deltas
                (tenant_id, kind, status, severity, domain, n)
            SELECT x.tenant_id, x.kind, x.status, x.severity, x.domain, sum(x.n)
            FROM (SELECT a.tenant_id, a.kind, a.status, coalesce(a.severity, '') AS severity,
                         coalesce(a.domain, '') AS domain, 1 AS n FROM added a
                  UNION ALL
                  SELECT g.tenant_id, g.kind, g.status, coalesce(g.severity, ''),
                         coalesce(g.domain, ''), -1 FROM gone g) x
            GROUP BY 1, 2, 3, 4, 5
            HAVING sum(x.n) <> 0
            RETURNING id
        )
        SELECT bool_or(mod(d.id, 32) = 0) INTO v_fold FROM d;
    ELSE
        WITH d AS (
            INSERT INTO agentledger.case_tally_deltas
                (tenant_id, kind, status, severity, domain, n)
            SELECT g.tenant_id, g.kind, g.status, coalesce(g.severity, ''),
                   coalesce(g.domain, ''), -count(*)
            FROM gone g GROUP BY 1, 2, 3, 4, 5
            RETURNING id
        )
        SELECT bool_or(mod(d.id, 32) = 0) INTO v_fold FROM d;
    END IF;
    v_tenant := agentledger.current_tenant();
    IF v_fold AND v_tenant IS NOT NULL
       AND current_setting('transaction_isolation') = 'read committed'
       AND pg_try_advisory_xact_lock(hashtextextended('agentledger.case_tallies/' || v_tenant, 0))
    THEN
        WITH moved AS (
            DELETE FROM agentledger.case_tally_deltas d WHERE d.tenant_id = v_tenant
            RETURNING d.kind, d.status, d.severity, d.domain, d.n
        )
        INSERT INTO agentledger.case_tallies AS t (tenant_id, kind, status, severity, domain, n)
        SELECT v_tenant, m.kind, m.status, m.severity, m.domain, sum(m.n)
        FROM moved m GROUP BY 2, 3, 4, 5
        ON CONFLICT (tenant_id, kind, status, severity, domain)
        DO UPDATE SET n = t.n + excluded.n;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER cases_tally_insert AFTER INSERT ON agentledger.cases
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.cases_tally();
CREATE TRIGGER cases_tally_update AFTER UPDATE ON agentledger.cases
    REFERENCING OLD TABLE AS gone NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.cases_tally();
CREATE TRIGGER cases_tally_delete AFTER DELETE ON agentledger.cases
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.cases_tally();
"""

# What listings and searches return of a case (everything but the search vector).
COLUMNS = """c.id, c.kind, c.ref, c.status, c.title, c.body, c.type, c.severity, c.score,
           c.confidence, c.owner, c.domain, c.entity, c.source, c.amount, c.sla_deadline,
           c.playbook, c.playbook_step, c.attrs, c.version, c.created_at, c.updated_at,
           c.opened_at, c.resolved_at"""
RESULT = """id uuid, kind text, ref text, status text, title text, body text, type text,
    severity text, score double precision, confidence double precision, owner text,
    domain text, entity text, source text, amount numeric, sla_deadline timestamptz,
    playbook text, playbook_step integer, attrs jsonb, version integer,
    created_at timestamptz, updated_at timestamptz, opened_at timestamptz,
    resolved_at timestamptz"""

# The filters every listing order shares; each absent one (NULL) folds away when the call
# is planned, so the rest can be index conditions. One status (or severity) is compared
# with = rather than = ANY, so that an index on it still yields its rows in order.
FILTERS = """c.tenant_id = agentledger.current_tenant()
          AND (p_kind IS NULL OR c.kind = p_kind)
          AND (p_statuses IS NULL OR (cardinality(p_statuses) = 1 AND c.status = p_statuses[1])
               OR (cardinality(p_statuses) > 1 AND c.status = ANY(p_statuses)))
          AND (p_severities IS NULL
               OR (cardinality(p_severities) = 1 AND c.severity = p_severities[1])
               OR (cardinality(p_severities) > 1 AND c.severity = ANY(p_severities)))
          AND (p_domain IS NULL OR c.domain = p_domain)
          AND (p_owner IS NULL OR c.owner = p_owner)
          AND (p_entity IS NULL OR c.entity = p_entity)
          AND (p_source IS NULL OR c.source = p_source)
          AND (p_type IS NULL OR c.type = p_type)
          AND (p_open IS NULL OR (p_open AND c.resolved_at IS NULL)
               OR (NOT p_open AND c.resolved_at IS NOT NULL))
          AND (p_breached_at IS NULL OR (c.resolved_at IS NULL
               AND coalesce(c.sla_deadline, 'infinity'::timestamptz) < p_breached_at))
          AND (p_created_after IS NULL OR c.created_at >= p_created_after)
          AND (p_created_before IS NULL OR c.created_at < p_created_before)
          AND (p_opened_after IS NULL OR c.opened_at >= p_opened_after)
          AND (p_opened_before IS NULL OR c.opened_at < p_opened_before)
          AND (p_resolved_after IS NULL OR c.resolved_at >= p_resolved_after)
          AND (p_resolved_before IS NULL OR c.resolved_at < p_resolved_before)
          AND (p_attrs IS NULL OR c.attrs @> p_attrs)
          AND (p_where IS NULL OR c.attrs @@ p_where)"""

# Each order: its keyset condition (after the cursor's row) and its ORDER BY.
ORDERS = {
    "score": (
        "(coalesce(c.score, -1), c.id) < (p_after_num, p_after_id)",
        "coalesce(c.score, -1) DESC, c.id DESC",
    ),
    "created_at": (
        "(c.created_at, c.id) < (p_after_at, p_after_id)",
        "c.created_at DESC, c.id DESC",
    ),
    "updated_at": (
        "(c.updated_at, c.id) < (p_after_at, p_after_id)",
        "c.updated_at DESC, c.id DESC",
    ),
    "severity": (
        "(c.severity_rank, c.created_at, c.id) < (p_after_num::smallint, p_after_at, p_after_id)",
        "c.severity_rank DESC, c.created_at DESC, c.id DESC",
    ),
    "sla_deadline": (
        "(coalesce(c.sla_deadline, 'infinity'::timestamptz), c.id) > (p_after_at, p_after_id)",
        "coalesce(c.sla_deadline, 'infinity'::timestamptz), c.id",
    ),
}


def _branch(order: str) -> str:
    after, order_by = ORDERS[order]
    return f"""
    IF p_order = '{order}' THEN
        RETURN QUERY
        SELECT {COLUMNS}
        FROM agentledger.cases c
        WHERE {FILTERS}
          AND (p_after_id IS NULL OR {after})
        ORDER BY {order_by}
        LIMIT p_limit;
        RETURN;
    END IF;"""


LIST_FN = f"""
CREATE FUNCTION agentledger.cases_list_v1(
    p_order text, p_after_num double precision, p_after_at timestamptz, p_after_id uuid,
    p_kind text, p_statuses text[], p_severities text[], p_domain text, p_owner text,
    p_entity text, p_source text, p_type text, p_open boolean, p_breached_at timestamptz,
    p_created_after timestamptz, p_created_before timestamptz,
    p_opened_after timestamptz, p_opened_before timestamptz,
    p_resolved_after timestamptz, p_resolved_before timestamptz,
    p_attrs jsonb, p_where jsonpath, p_limit integer)
    RETURNS TABLE ({RESULT})
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
#variable_conflict use_column
BEGIN{"".join(_branch(order) for order in ORDERS)}
    RAISE EXCEPTION USING ERRCODE = 'ALII0', COLUMN = 'order',
        MESSAGE = 'order ' || quote_literal(p_order) || ' is not a case order';
END
$fn$;
"""

# The cases most like one: same kind and entity first, then the same type, then those
# whose title and body share the most words with its title (one OR query of its title's
# lexemes, through the GIN index; a bounded pool of the best text matches is ranked).
SIMILAR_FN = f"""
CREATE FUNCTION agentledger.cases_similar_v1(p_id uuid, p_limit integer)
    RETURNS TABLE ({RESULT}, same_kind boolean, same_entity boolean, same_type boolean,
                   text_rank real)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
#variable_conflict use_column
DECLARE
    v_tenant text := agentledger.current_tenant();
    v_case agentledger.cases;
    v_query tsquery;
BEGIN
    SELECT * INTO v_case FROM agentledger.cases c WHERE c.tenant_id = v_tenant AND c.id = p_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'ALNF0', COLUMN = 'case_id',
            MESSAGE = 'case ' || p_id || ' does not exist';
    END IF;
    SELECT string_agg(quote_literal(w.word), ' | ')::tsquery INTO v_query
    FROM (SELECT unnest(tsvector_to_array(to_tsvector('english'::regconfig, v_case.title)))
          AS word LIMIT 32) w;
    RETURN QUERY
    WITH near AS (
        SELECT c.id FROM agentledger.cases c
        WHERE c.tenant_id = v_tenant AND c.entity = v_case.entity AND c.kind = v_case.kind
          AND c.id <> p_id
        ORDER BY c.created_at DESC, c.id DESC
        LIMIT p_limit
    ), worded AS (
        SELECT c.id FROM agentledger.cases c
        WHERE v_query IS NOT NULL AND c.tsv @@ v_query AND c.tenant_id = v_tenant
          AND c.id <> p_id
        ORDER BY ts_rank_cd(c.tsv, v_query) DESC, c.id
        LIMIT greatest(p_limit * 4, 50)
    ), pool AS (
        SELECT near.id FROM near UNION SELECT worded.id FROM worded
    ), ranked AS (
        SELECT {COLUMNS},
               c.kind = v_case.kind AS same_kind,
               coalesce(c.kind = v_case.kind AND c.entity = v_case.entity, false)
                   AS same_entity,
               coalesce(c.type = v_case.type, false) AS same_type,
               CASE WHEN v_query IS NULL THEN 0::real
                    ELSE ts_rank_cd(c.tsv, v_query) END AS text_rank
        FROM pool JOIN agentledger.cases c ON c.tenant_id = v_tenant AND c.id = pool.id
    )
    SELECT * FROM ranked r
    ORDER BY r.same_entity DESC, r.same_type DESC, r.same_kind DESC, r.text_rank DESC,
             r.created_at DESC, r.id
    LIMIT p_limit;
END
$fn$;
"""

DEFINER_FUNCTIONS = (
    "cases_list_v1(text, double precision, timestamptz, uuid, text, text[], text[], text, "
    "text, text, text, text, boolean, timestamptz, timestamptz, timestamptz, timestamptz, "
    "timestamptz, timestamptz, timestamptz, jsonb, jsonpath, integer)",
    "cases_similar_v1(uuid, integer)",
)

TENANT_TABLES = {
    "case_kinds": "SELECT, INSERT, UPDATE, DELETE",
    "case_statuses": "SELECT, INSERT, UPDATE, DELETE",
    "case_transitions": "SELECT, INSERT, DELETE",
    "cases": "SELECT, INSERT, UPDATE, DELETE",
    "case_blocks": "SELECT, INSERT, DELETE",
    "case_links": "SELECT, INSERT, DELETE",
    # Written only by the tally trigger (as the owner).
    "case_tallies": "SELECT",
    "case_tally_deltas": "SELECT",
}


def upgrade() -> None:
    op.execute(TABLES)
    for table, privileges in TENANT_TABLES.items():
        op.execute(tenant_table(table, privileges))
    op.execute(TRIGGERS)
    op.execute(LIST_FN)
    op.execute(SIMILAR_FN)
    role = app_role()
    for function in DEFINER_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION agentledger.{function} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION agentledger.{function} TO "{role}"')
    op.execute("REVOKE ALL ON FUNCTION agentledger.cases_tally() FROM PUBLIC")
    # A plain (non-superuser) owner is itself under the FORCEd tenant policy; this policy
    # lets it, and so the definer functions, read every tenant's cases (they filter the
    # tenant themselves). Inert for a superuser owner; never created for the app role.
    op.execute(
        "DO $do$ BEGIN IF current_user <> '"
        + role
        + "' THEN CREATE POLICY definer_search ON agentledger.cases"
        + " FOR SELECT TO CURRENT_USER USING (true); END IF; END $do$;"
    )


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION agentledger.cases_similar_v1(uuid, integer);
        DROP FUNCTION agentledger.cases_list_v1(text, double precision, timestamptz, uuid,
            text, text[], text[], text, text, text, text, text, boolean, timestamptz,
            timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz,
            jsonb, jsonpath, integer);
        DROP TABLE agentledger.case_tally_deltas, agentledger.case_tallies,
            agentledger.case_links, agentledger.case_blocks, agentledger.cases,
            agentledger.case_transitions, agentledger.case_statuses, agentledger.case_kinds;
        DROP FUNCTION agentledger.cases_guard(), agentledger.case_statuses_guard(),
            agentledger.cases_tally();
        """
    )
