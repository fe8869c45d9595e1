-- name: views_installed
-- Whether the database has the reporting views (revision reporting_0001).
SELECT to_regclass('agentledger.reporting_grants') IS NOT NULL

-- name: role_of
-- A role's attributes, whether it may write (or owns) any agentledger table, the roles it
-- could act as that are privileged, and its membership of the reporting role.
-- privileged_roles: every other role it is a member of, directly or through others, by
-- any kind of membership (inherited or not: SET ROLE reaches privileges that
-- has_table_privilege does not count; pg_has_role's MEMBER counts every membership on
-- PostgreSQL 15 and 16+ alike), that is a superuser, bypasses row-level security, is the
-- owner running this, owns an agentledger table or may write one.
SELECT r.rolcanlogin AS can_login, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls,
       r.rolcreaterole AS create_role, r.rolname = current_user AS is_current_user,
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'agentledger' AND c.relkind IN ('r', 'p')
                 AND (c.relowner = r.oid
                      OR has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')))
           AS writes,
       ARRAY(SELECT x.rolname::text FROM pg_roles x
             WHERE x.oid <> r.oid AND pg_has_role(r.oid, x.oid, 'MEMBER')
               AND (x.rolsuper OR x.rolbypassrls OR x.rolname = current_user
                    OR EXISTS (SELECT 1 FROM pg_class c
                               JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE n.nspname = 'agentledger' AND c.relkind IN ('r', 'p')
                                 AND (c.relowner = x.oid
                                      OR has_table_privilege(
                                          x.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))))
             ORDER BY x.rolname) AS privileged_roles,
       EXISTS (SELECT 1 FROM pg_auth_members m
               WHERE m.member = r.oid AND m.roleid = 'agentledger_reporting'::regrole)
           AS member
FROM pg_roles r
WHERE r.rolname = %(role)s

-- name: create_login
-- A new login role for a BI tool ({password}: the verifier, never the password itself).
CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD {password}

-- name: add_member
-- Make the login a member of the reporting group role (SELECT on the views).
GRANT agentledger_reporting TO {role}

-- name: drop_member
-- Take the login out of the reporting group role.
REVOKE agentledger_reporting FROM {role}

-- name: tenant_exists
-- Whether the tenant exists (the owner sees every tenant).
SELECT EXISTS (SELECT 1 FROM agentledger.tenants WHERE id = %(tenant)s)

-- name: insert_grant
-- Grant one tenant (NULL: every tenant) to the login; a repeated grant changes nothing.
INSERT INTO agentledger.reporting_grants (role_name, tenant)
VALUES (%(role)s, %(tenant)s)
ON CONFLICT ON CONSTRAINT reporting_grants_unique DO NOTHING

-- name: delete_grant
-- Withdraw one tenant's grant (NULL: the every-tenant grant) from the login.
DELETE FROM agentledger.reporting_grants
WHERE role_name = %(role)s AND tenant IS NOT DISTINCT FROM %(tenant)s

-- name: delete_grants
-- Withdraw every grant of the login.
DELETE FROM agentledger.reporting_grants WHERE role_name = %(role)s

-- name: list_grants
-- Every grant, with whether its login exists and is a member of the reporting role.
SELECT g.role_name::text AS role, g.tenant AS tenant_id, g.granted_at,
       EXISTS (SELECT 1 FROM pg_auth_members m
               WHERE m.member = r.oid AND m.roleid = 'agentledger_reporting'::regrole)
           AS member
FROM agentledger.reporting_grants g
LEFT JOIN pg_roles r ON r.rolname = g.role_name
WHERE %(role)s::text IS NULL OR g.role_name = %(role)s
ORDER BY g.role_name, g.tenant NULLS FIRST
