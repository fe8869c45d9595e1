"""The migrated schema stays distributable by tenant on Citus (docs/scaling.md): read from the
catalog of a database at the heads, so a revision that breaks a rule fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

# Tables without tenant_id, each with why it has none. Under Citus they are reference tables
# (copied to every node); a new table without tenant_id must be listed here on purpose.
REFERENCE_TABLES = {
    "tenants": "the tenants themselves: every tenant table's foreign key points here",
    "session_transitions": "the sessions lifecycle's transition table (lookup data)",
    "catalog_global_documents": "global catalog entries every tenant reads",
    "catalog_global_versions": "versions of the global catalog entries",
    "catalog_global_schemas": "global JSON Schemas every tenant reads",
    "reporting_grants": "the platform's grants of reporting roles (per tenant or all)",
}

# Tables with tenant_id that are not distributed by it, each with why. Citus requires every
# unique constraint of a distributed table to include the distribution column; these keep a
# unique key across tenants on purpose, and are reference tables instead.
TENANT_REFERENCE_TABLES = {
    "api_keys": "a key is found by its hash before its tenant is known (UNIQUE (hash))",
}

# Sequence-backed columns of tenant tables, each with what it means under Citus.
NOTED_SEQUENCES = {
    ("events", "position"): "one sequence per node: unique, ordered only within a node",
    ("tasks", "id"): "identity: unique per node's range; ids are keys, never an order",
    ("case_tally_deltas", "id"): "identity: a key only; a fold takes every committed delta",
    ("memory_spaces", "id"): "identity: a key only; a space's vectors and index name it",
}


def _rows(url: str, query: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture(scope="module")
def catalog(database_url: str) -> dict[str, Any]:
    tables = dict(
        _rows(
            database_url,
            """
            SELECT c.relname, EXISTS (
                SELECT 1 FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
            FROM pg_class c
            WHERE c.relnamespace = 'agentledger'::regnamespace AND c.relkind IN ('r', 'p')
              AND NOT c.relispartition
            """,
        )
    )
    # Primary keys, unique constraints and unique indexes: the table and its key columns.
    uniques = _rows(
        database_url,
        """
        SELECT c.relname, i.indexrelid::regclass::text, i.indisprimary,
               array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                     ORDER BY k.o)::text[]
        FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        WHERE c.relnamespace = 'agentledger'::regnamespace AND i.indisunique
        """,
    )
    foreign = _rows(
        database_url,
        """
        SELECT k.conname, s.relname, t.relname,
               array(SELECT a.attname FROM unnest(k.conkey) n
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = n)::text[],
               array(SELECT a.attname FROM unnest(k.confkey) n
                     JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = n)::text[]
        FROM pg_constraint k
        JOIN pg_class s ON s.oid = k.conrelid JOIN pg_class t ON t.oid = k.confrelid
        WHERE k.contype = 'f' AND k.connamespace = 'agentledger'::regnamespace
        """,
    )
    sequences = _rows(
        database_url,
        """
        SELECT c.relname, a.attname FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'agentledger'::regnamespace AND c.relkind IN ('r', 'p')
          AND NOT a.attisdropped
          AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE '%nextval(%')
        """,
    )
    return {"tables": tables, "uniques": uniques, "foreign": foreign, "sequences": sequences}


def _distributed(catalog: dict[str, Any]) -> set[str]:
    return {t for t, has in catalog["tables"].items() if has} - set(TENANT_REFERENCE_TABLES)


def test_tables_without_tenant_id_are_listed(catalog: dict[str, Any]) -> None:
    without = {t for t, has in catalog["tables"].items() if not has}
    assert without == set(REFERENCE_TABLES), "list a new table without tenant_id on purpose"
    assert set(TENANT_REFERENCE_TABLES) <= {t for t, has in catalog["tables"].items() if has}


def test_every_tenant_table_has_a_primary_key_leading_with_tenant_id(
    catalog: dict[str, Any],
) -> None:
    keys = {table: cols for table, _, primary, cols in catalog["uniques"] if primary}
    assert {
        t: keys.get(t) for t in _distributed(catalog) if (keys.get(t) or [""])[0] != "tenant_id"
    } == {}


def test_every_unique_key_of_a_tenant_table_includes_tenant_id(catalog: dict[str, Any]) -> None:
    distributed = _distributed(catalog)
    offenders = [
        (index, cols)
        for table, index, _, cols in catalog["uniques"]
        if table in distributed and "tenant_id" not in cols
    ]
    assert offenders == []


def test_foreign_keys_between_tenant_tables_include_tenant_id(catalog: dict[str, Any]) -> None:
    tenant_tables = {t for t, has in catalog["tables"].items() if has}
    offenders = [
        name
        for name, source, target, cols, target_cols in catalog["foreign"]
        if source in tenant_tables
        and target in tenant_tables
        and not ("tenant_id" in cols and target_cols[cols.index("tenant_id")] == "tenant_id")
    ]
    assert offenders == []
    # A distributed table may point at a reference table; never the other way round.
    distributed = _distributed(catalog)
    backwards = [
        name
        for name, source, target, *_ in catalog["foreign"]
        if source not in distributed and target in distributed
    ]
    assert backwards == []


def test_sequence_defaults_on_tenant_tables_are_noted(catalog: dict[str, Any]) -> None:
    distributed = _distributed(catalog)
    found = {(t, c) for t, c in catalog["sequences"] if t in distributed}
    assert found == set(NOTED_SEQUENCES)


def test_reference_tables_hold_no_sequence_the_nodes_would_need(catalog: dict[str, Any]) -> None:
    reference = set(REFERENCE_TABLES) | set(TENANT_REFERENCE_TABLES)
    assert [(t, c) for t, c in catalog["sequences"] if t in reference] == []


@pytest.mark.pgvector
def test_the_scaling_guide_names_every_table(catalog: dict[str, Any]) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "scaling.md").read_text()
    distributed = re.findall(r"create_distributed_table\('agentledger\.(\w+)', 'tenant_id'", text)
    reference = re.findall(r"create_reference_table\('agentledger\.(\w+)'\)", text)
    assert sorted(distributed) == sorted(_distributed(catalog))
    assert sorted(reference) == sorted(set(REFERENCE_TABLES) | set(TENANT_REFERENCE_TABLES))
    # Each table's foreign keys point at tables created before it.
    order = reference + distributed
    late = [
        (name, source, target)
        for name, source, target, *_ in catalog["foreign"]
        if order.index(target) > order.index(source)
    ]
    assert late == []
