-- name: get_text_config
-- The text-search configuration of a kind's entities (its own), else the tenant's (NULL:
-- never chosen, english); of the tenant's when the kind is NULL.
SELECT coalesce(
    (SELECT k.text_config FROM agentledger.memory_kind_languages k
     WHERE k.tenant_id = agentledger.current_tenant() AND k.kind = %(kind)s::text),
    (SELECT s.text_config FROM agentledger.memory_settings s
     WHERE s.tenant_id = agentledger.current_tenant()))

-- name: text_config_choices
-- The tenant's text-search configuration (NULL: english) and each kind's own, as an object.
SELECT (SELECT s.text_config FROM agentledger.memory_settings s
        WHERE s.tenant_id = agentledger.current_tenant()) AS language,
       coalesce((SELECT jsonb_object_agg(k.kind, k.text_config)
                 FROM agentledger.memory_kind_languages k
                 WHERE k.tenant_id = agentledger.current_tenant()), '{}') AS kinds

-- name: text_configs
-- The server's text-search configurations, as their names resolve under pg_catalog.
SELECT array_agg(CASE WHEN n.nspname = 'pg_catalog' THEN c.cfgname::text
                      ELSE quote_ident(n.nspname) || '.' || quote_ident(c.cfgname) END
                 ORDER BY n.nspname <> 'pg_catalog', c.cfgname)
FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace

-- name: set_text_config
-- Choose the tenant's text-search configuration for new writes and queries.
INSERT INTO agentledger.memory_settings AS s (tenant_id, text_config)
VALUES (agentledger.current_tenant(), %(config)s)
ON CONFLICT (tenant_id) DO UPDATE SET text_config = EXCLUDED.text_config, updated_at = now()

-- name: set_kind_text_config
-- Choose the text-search configuration of one kind's entities.
INSERT INTO agentledger.memory_kind_languages AS k (tenant_id, kind, text_config)
VALUES (agentledger.current_tenant(), %(kind)s, %(config)s)
ON CONFLICT (tenant_id, kind) DO UPDATE SET text_config = EXCLUDED.text_config, updated_at = now()

-- name: clear_kind_text_config
-- A kind's entities back in the tenant's text-search configuration.
DELETE FROM agentledger.memory_kind_languages k
WHERE k.tenant_id = agentledger.current_tenant() AND k.kind = %(kind)s
