"""Memory: entities (merge-upsert by natural key), relationships, search indexes.

Revision ID: memory_0001
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, tenant_table

revision = "memory_0001"
down_revision = "0001"
branch_labels = ("memory",)
depends_on = None

# The embedding column's dimension (agentledger.memory.EMBEDDING_DIMENSIONS says the same).
DIMENSIONS = "384"


def upgrade() -> None:
    role = app_role()
    # Only validated identifiers are interpolated (app_role, tenant_table).
    op.execute(f"""
    CREATE TABLE agentledger.memory_entities (
        tenant_id        text NOT NULL REFERENCES agentledger.tenants (id),
        id               uuid NOT NULL DEFAULT gen_random_uuid(),
        -- '' is the tenant itself: visible to every user of the tenant.
        user_id          text NOT NULL DEFAULT '',
        shared           boolean NOT NULL DEFAULT false,
        kind             text NOT NULL
                         CONSTRAINT memory_entities_kind CHECK (length(kind) BETWEEN 1 AND 100),
        source           text NOT NULL DEFAULT '',
        key              text,
        -- What upserts deduplicate on: the natural key, kind + name, or the id.
        dedup_key        text NOT NULL,
        name             text NOT NULL
                         CONSTRAINT memory_entities_name CHECK (length(name) BETWEEN 1 AND 1000),
        summary          text,
        attrs            jsonb NOT NULL DEFAULT '{{}}'
                         CONSTRAINT memory_entities_attrs CHECK (jsonb_typeof(attrs) = 'object'),
        tags             text[] NOT NULL DEFAULT '{{}}',
        status           text NOT NULL DEFAULT 'active'
                         CONSTRAINT memory_entities_status CHECK (status IN ('active', 'archived')),
        -- NULL until a caller sets it; read as 0.5.
        relevance        real CONSTRAINT memory_entities_relevance
                         CHECK (relevance BETWEEN 0 AND 1),
        update_count     integer NOT NULL DEFAULT 0,
        access_count     bigint NOT NULL DEFAULT 0,
        last_accessed_at timestamptz,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        search           tsvector GENERATED ALWAYS AS (
                             setweight(to_tsvector('english'::regconfig, name), 'A')
                             || setweight(to_tsvector('english'::regconfig,
                                                      coalesce(summary, '')), 'B')
                             || setweight(jsonb_to_tsvector('english'::regconfig, attrs,
                                                            '["string"]'), 'C')
                         ) STORED,
        PRIMARY KEY (tenant_id, id),
        CONSTRAINT memory_entities_dedup UNIQUE (tenant_id, user_id, dedup_key)
    );
    {tenant_table("memory_entities")}
    CREATE INDEX memory_entities_kind_idx
        ON agentledger.memory_entities (tenant_id, kind, updated_at);
    CREATE INDEX memory_entities_user_idx
        ON agentledger.memory_entities (tenant_id, user_id, updated_at);
    CREATE INDEX memory_entities_updated_idx
        ON agentledger.memory_entities (tenant_id, updated_at);
    CREATE INDEX memory_entities_created_idx
        ON agentledger.memory_entities (tenant_id, created_at);
    CREATE INDEX memory_entities_tags_idx ON agentledger.memory_entities USING gin (tags);
    CREATE INDEX memory_entities_attrs_idx
        ON agentledger.memory_entities USING gin (attrs jsonb_path_ops);
    CREATE INDEX memory_entities_search_idx
        ON agentledger.memory_entities USING gin (search);

    CREATE TABLE agentledger.memory_relationships (
        tenant_id  text NOT NULL REFERENCES agentledger.tenants (id),
        id         uuid NOT NULL DEFAULT gen_random_uuid(),
        from_id    uuid NOT NULL,
        to_id      uuid NOT NULL,
        type       text NOT NULL
                   CONSTRAINT memory_relationships_type CHECK (length(type) BETWEEN 1 AND 100),
        weight     real NOT NULL DEFAULT 1.0,
        attrs      jsonb NOT NULL DEFAULT '{{}}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id),
        CONSTRAINT memory_relationships_unique UNIQUE (tenant_id, from_id, to_id, type),
        CONSTRAINT memory_relationships_not_self CHECK (from_id <> to_id),
        CONSTRAINT memory_relationships_from_fk FOREIGN KEY (tenant_id, from_id)
            REFERENCES agentledger.memory_entities (tenant_id, id) ON DELETE CASCADE,
        CONSTRAINT memory_relationships_to_fk FOREIGN KEY (tenant_id, to_id)
            REFERENCES agentledger.memory_entities (tenant_id, id) ON DELETE CASCADE
    );
    {tenant_table("memory_relationships")}
    CREATE INDEX memory_relationships_to_idx
        ON agentledger.memory_relationships (tenant_id, to_id, type);

    -- Optional features: fuzzy names need pg_trgm, embeddings pgvector.
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
            CREATE INDEX memory_entities_name_trgm_idx
                ON agentledger.memory_entities USING gist (name gist_trgm_ops);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
            ALTER TABLE agentledger.memory_entities
                ADD COLUMN embedding vector({DIMENSIONS});
            CREATE INDEX memory_entities_embedding_idx
                ON agentledger.memory_entities USING hnsw (embedding vector_cosine_ops);
        END IF;
    END $$;

    -- Raise MissingExtension (SQLSTATE ALMX0) when a feature's extension is absent.
    CREATE FUNCTION agentledger.memory_require(p_extension text, p_feature text)
        RETURNS void LANGUAGE plpgsql STABLE
    AS $fn$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = p_extension) THEN
            RAISE EXCEPTION USING ERRCODE = 'ALMX0',
                MESSAGE = p_feature || ' needs the PostgreSQL extension '
                    || quote_literal(p_extension) || ', which this server does not have';
        END IF;
    END
    $fn$;
    GRANT EXECUTE ON FUNCTION agentledger.memory_require(text, text) TO "{role}";
    """)


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION agentledger.memory_require(text, text);
    DROP TABLE agentledger.memory_relationships;
    DROP TABLE agentledger.memory_entities;
    """)
