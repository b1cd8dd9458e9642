"""Every published table and column carries its description as a DuckDB comment (issue 13: BI tools such as
DBeaver and Metabase show them). Read from the catalog of the session build's serving file."""

from __future__ import annotations

from tests.conftest import Built


def _published(built: Built, what: str):
    """Rows of duckdb_tables()/duckdb_columns() of the serving file (its own database, not the system ones)."""
    return built.query(
        f"SELECT * REPLACE (coalesce(comment, '') AS comment) FROM duckdb_{what}() "
        "WHERE database_name = current_database() AND NOT internal "
        "AND schema_name NOT IN ('information_schema', 'pg_catalog', 'main')"
    )


def test_every_published_table_has_a_comment(built: Built):
    tables = _published(built, "tables")
    assert len(tables) > 0
    missing = sorted(
        f"{r.schema_name}.{r.table_name}" for r in tables.itertuples() if not r.comment.strip()
    )
    assert not missing, f"{len(missing)} of {len(tables)} published tables without a comment: {missing}"


def test_every_published_column_has_a_comment(built: Built):
    columns = _published(built, "columns")
    assert len(columns) > 0
    missing = sorted(
        f"{r.schema_name}.{r.table_name}.{r.column_name}"
        for r in columns.itertuples()
        if not r.comment.strip()
    )
    assert not missing, f"{len(missing)} of {len(columns)} published columns without a comment: {missing}"


def test_timestamp_columns_say_which_clock(built: Built):
    """A timestamp column's comment says whether it is CRM local time or UTC."""
    columns = _published(built, "columns")
    stamps = columns[columns.data_type.str.startswith("TIMESTAMP")]
    assert len(stamps) > 0
    vague = sorted(
        f"{r.schema_name}.{r.table_name}.{r.column_name}"
        for r in stamps.itertuples()
        if "UTC" not in r.comment and "CRM local time" not in r.comment
    )
    assert not vague, f"{len(vague)} timestamp columns whose comment names no clock: {vague}"


def test_comment_literals_are_quoted(tmp_path, monkeypatch):
    """Descriptions with quotes and odd identifiers survive COMMENT ON (the one literal written into SQL)."""
    import duckdb

    from orchestration.serving import comments

    monkeypatch.setattr(
        comments, "descriptions",
        lambda schema, table, columns, manifest: ("it's a table'); DROP TABLE x; --", {c: "a 'quoted' col" for c in columns}),
    )
    con = duckdb.connect()
    con.execute('CREATE SCHEMA marts; CREATE TABLE marts."we""ird" ("o\'dd" INT, seen_at TIMESTAMP)')
    n_tables, n_columns, missing = comments.write_comments(con, ["marts"], tmp_path / "none.json")
    assert (n_tables, n_columns, missing) == (1, 2, [])
    assert con.execute("SELECT comment FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall() == [
        ("it's a table'); DROP TABLE x; --",)
    ]
    assert con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts' ORDER BY column_index"
    ).fetchall() == [("o'dd", "a 'quoted' col"), ("seen_at", f"a 'quoted' col; clock: {comments.CRM_LOCAL}")]
