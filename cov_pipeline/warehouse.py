"""The warehouse: one SQLAlchemy URL, DuckDB by default, PostgreSQL in production.

Tables are replaced atomically (the new table is built beside the old one and swapped in one
transaction), written through each backend's bulk path (DuckDB scans the DataFrame; PostgreSQL
takes COPY), and read back as DataFrames by downstream assets. Free of Dagster, so the command
line and tests use it directly.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

# pg_advisory_lock(int4, int4) keys: the project's key space ("covp"), and in it the warehouse
# writer (cov_pipeline.warehouse_lock) and the setting up of the schemas.
ADVISORY_CLASS = 0x636F7670
ADVISORY_WRITER = 1
ADVISORY_SCHEMAS = 2
SCHEMAS = ("staging", "marts", "published", "quality")
_NULL = r"\N"


class WarehouseError(RuntimeError):
    """A table could not be written or read; the previous table is left as it was."""


@dataclass(frozen=True)
class TableWrite:
    """One table to replace: its frame and the descriptions that land as column comments."""

    frame: pd.DataFrame
    description: str = ""
    column_descriptions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Grantee:
    """A role given read access to one schema: the analysts (marts), the public (published)."""

    role: str
    variable: str
    schema: str
    create: str  # how the administrator creates it, for the message where it is missing


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    return f"{_quote(schema)}.{_quote(name)}"


def sql_type(series: pd.Series, backend: str) -> str:
    """The SQL type a column is stored as: the same on both backends, so analysts see one contract."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        return "BIGINT"
    if pd.api.types.is_float_dtype(dtype):
        return "DOUBLE PRECISION" if backend == "postgresql" else "DOUBLE"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "TIMESTAMP"
    if pd.api.types.is_object_dtype(dtype):
        sample = _first_present(series.to_numpy(dtype=object, copy=False))
        if isinstance(sample, bool | np.bool_):
            return "BOOLEAN"
        if isinstance(sample, dt.date) and not isinstance(sample, dt.datetime):
            return "DATE"
    return "TEXT" if backend == "postgresql" else "VARCHAR"


def _first_present(values: np.ndarray, block: int = 4096):
    """The first value that is not null (None, NaN, NA, NaT), or None: looked for a block at a
    time, as it is almost always near the top (a whole-column ``notna`` on a million strings
    costs 10-20 ms, and every write and every metadata schema asks)."""
    for start in range(0, len(values), block):
        missing = pd.isna(values[start : start + block])
        if not missing.all():
            return values[start + int(missing.argmin())]
    return None


class Warehouse:
    """Write, read and swap tables in the warehouse named by a SQLAlchemy URL."""

    def __init__(self, url: str, analyst_role: str | None = None):
        self.url: URL = make_url(url)
        self.analyst_role = analyst_role if analyst_role is not None else _default_analyst_role()
        self._schemas_ready = False
        self.backend = self.url.get_backend_name()
        if self.backend not in ("duckdb", "postgresql"):
            raise WarehouseError(
                f"unsupported warehouse URL {url!r}: use duckdb:///path or postgresql+psycopg://..."
            )
        self._engine: sa.Engine | None = None
        self._session = None  # a DuckDB connection held by session()

    # -- connections ---------------------------------------------------------------------------
    @property
    def duckdb_path(self) -> Path | None:
        if self.backend != "duckdb":
            return None
        database = self.url.database or ":memory:"
        return None if database == ":memory:" else Path(database)

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            if self.duckdb_path is not None:
                self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            url = self.url
            if self.backend == "postgresql" and url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            self._engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def _duckdb(self) -> Iterator[object]:
        """The session's connection where :meth:`session` holds one, else a new one for this
        operation (closed after it, so the file is free for other processes between steps)."""
        if self._session is not None:
            yield self._session
            return
        import duckdb

        path = self.duckdb_path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(path) if path is not None else ":memory:")
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            # Pipeline runs wait for one another (cov_pipeline/warehouse_lock.py); this is
            # another program holding the file, which DuckDB allows one process at a time.
            raise WarehouseError(
                f"the warehouse file {path} is open in another program ({_lock_holder(exc)}): "
                "close it and run again (analysts read data/warehouse/exports/ instead)"
            ) from None
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def session(self) -> Iterator[Warehouse]:
        """Hold one DuckDB connection across the reads and writes inside the block.

        Opening the warehouse file costs milliseconds that grow with the file, and every read
        otherwise opens it twice (rows, then column types); a step that reads several tables
        does it once. Re-entrant; PostgreSQL connections are unaffected.
        """
        if self.backend != "duckdb" or self._session is not None:
            yield self
            return
        with self._duckdb() as con:
            self._session = con
            try:
                yield self
            finally:
                self._session = None

    @property
    def display_name(self) -> str:
        return self.url.render_as_string(hide_password=True)

    # -- writing -------------------------------------------------------------------------------
    def ensure_schemas(self) -> None:
        """Create the schemas; on PostgreSQL also give the analyst role read access to marts only."""
        if self._schemas_ready:
            return
        statements = [f"CREATE SCHEMA IF NOT EXISTS {_quote(s)}" for s in SCHEMAS]
        if self.backend == "duckdb":
            with self._duckdb() as con:
                for statement in statements:
                    con.execute(statement)
        else:
            with self.engine.begin() as conn:
                # Steps in several processes (the multiprocess executor) set the schemas up at
                # once on a new database, and PostgreSQL's CREATE SCHEMA IF NOT EXISTS and GRANT
                # are not safe run side by side (a unique violation, "tuple concurrently
                # updated"): they take turns, holding a lock until this transaction ends.
                conn.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(%s, %s)", (ADVISORY_CLASS, ADVISORY_SCHEMAS)
                )
                for statement in statements:
                    conn.exec_driver_sql(statement)
                # nobody but the grantees below reads a schema of the pipeline's
                for schema in SCHEMAS:
                    conn.exec_driver_sql(f"REVOKE ALL ON SCHEMA {_quote(schema)} FROM PUBLIC")
                for grantee in self._grantees():
                    self._grant_read_access(conn, grantee)
        self._schemas_ready = True

    def _grantees(self) -> list[_Grantee]:
        """The roles the warehouse grants a schema to, with the variables that name them."""
        from cov_pipeline import settings

        return [
            _Grantee(self.analyst_role, "COV_ANALYST_ROLE", "marts", "LOGIN PASSWORD '...'"),
            _Grantee(settings.public_role(), "COV_PUBLIC_ROLE", "published", "NOLOGIN"),
        ]

    def role_problems(self) -> list[str]:
        """Why a role the warehouse grants a schema to cannot be granted it: one line per role
        that does not exist (PostgreSQL; DuckDB has no roles).

        The pipeline does not create roles (a login role needs a password, and creating roles a
        privilege the pipeline's user should not have), so a run checks them before it writes
        anything and fails with these lines, instead of publishing tables nobody was granted.
        """
        if self.backend != "postgresql":
            return []
        with self.engine.connect() as conn:
            missing = [self._missing_role(conn, grantee) for grantee in self._grantees()]
        return [problem for problem in missing if problem]

    def _missing_role(self, conn, grantee: _Grantee) -> str | None:
        if not grantee.role:
            return None
        found = conn.exec_driver_sql(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (grantee.role,)
        ).first()
        if found:
            return None
        return (
            f"the PostgreSQL role {grantee.role!r} ({grantee.variable}), to be granted read "
            f"access to {grantee.schema}, does not exist on {self.display_name}: have the "
            f"database administrator create it once (CREATE ROLE {_quote(grantee.role)} "
            f"{grantee.create}; docs/deployment.md), or set {grantee.variable} to an existing "
            "role, or to an empty value to grant no one"
        )

    def _grant_read_access(self, conn, grantee: _Grantee) -> None:
        """The grantee reads its schema (tables there now and every table created later) and no
        other schema of the pipeline's.

        The role itself is created by the database administrator (README, "PostgreSQL"); a run
        checks that it exists before writing (:meth:`role_problems`), and this refuses too, so
        no path writes without the grant.
        """
        if not grantee.role:
            return
        missing = self._missing_role(conn, grantee)
        if missing:
            raise WarehouseError(missing + "; nothing was written")
        quoted = _quote(grantee.role)
        for schema in SCHEMAS:
            if schema != grantee.schema:
                conn.exec_driver_sql(f"REVOKE ALL ON SCHEMA {_quote(schema)} FROM {quoted}")
        target = _quote(grantee.schema)
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {target} TO {quoted}")
        conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {target} TO {quoted}")
        conn.exec_driver_sql(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {target} GRANT SELECT ON TABLES TO {quoted}"
        )

    def replace_table(
        self,
        schema: str,
        name: str,
        frame: pd.DataFrame,
        description: str = "",
        column_descriptions: Mapping[str, str] | None = None,
    ) -> None:
        self.replace_tables(
            {(schema, name): TableWrite(frame, description, column_descriptions or {})}
        )

    def replace_tables(self, writes: Mapping[tuple[str, str], TableWrite]) -> None:
        """Replace several tables in one transaction: all of them change, or none does."""
        if not writes:
            return
        for (schema, name), write in writes.items():
            if schema not in SCHEMAS:
                raise WarehouseError(f"unknown schema {schema!r} for table {name!r}")
            _check_columns(schema, name, write.frame)
        self.ensure_schemas()
        try:
            if self.backend == "duckdb":
                self._replace_duckdb(writes)
            else:
                self._replace_postgres(writes)
        except WarehouseError:
            raise
        except Exception as exc:  # the transaction rolled back: say which tables were kept
            names = ", ".join(f"{s}.{n}" for s, n in writes)
            raise WarehouseError(
                f"writing {names} to {self.display_name} failed, previous tables kept: {exc}"
            ) from exc

    def _replace_duckdb(self, writes: Mapping[tuple[str, str], TableWrite]) -> None:
        with self._duckdb() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for index, ((schema, name), write) in enumerate(writes.items()):
                    view = f"__cov_frame_{index}"
                    con.register(view, write.frame)
                    columns = ", ".join(
                        f"CAST({_quote(c)} AS {sql_type(write.frame[c], 'duckdb')}) AS {_quote(c)}"
                        for c in write.frame.columns
                    )
                    con.execute(
                        f"CREATE OR REPLACE TABLE {qualified(schema, name)} AS "
                        f"SELECT {columns} FROM {view}"
                    )
                    con.unregister(view)
                    for statement in _comment_statements(schema, name, write):
                        con.execute(statement)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _replace_postgres(self, writes: Mapping[tuple[str, str], TableWrite]) -> None:
        raw = self.engine.raw_connection()
        try:
            pg = raw.driver_connection
            with pg.cursor() as cur:
                for (schema, name), write in writes.items():
                    frame = write.frame
                    new_name = f"{name}__new"
                    cur.execute(f"DROP TABLE IF EXISTS {qualified(schema, new_name)}")
                    columns = ", ".join(
                        f"{_quote(c)} {sql_type(frame[c], 'postgresql')}" for c in frame.columns
                    )
                    cur.execute(f"CREATE TABLE {qualified(schema, new_name)} ({columns})")
                    if len(frame):
                        _copy_into(cur, schema, new_name, frame)
                    cur.execute(f"DROP TABLE IF EXISTS {qualified(schema, name)}")
                    cur.execute(
                        f"ALTER TABLE {qualified(schema, new_name)} RENAME TO {_quote(name)}"
                    )
                    for statement in _comment_statements(schema, name, write):
                        cur.execute(statement)
            pg.commit()
        except BaseException:
            raw.driver_connection.rollback()
            raise
        finally:
            raw.close()

    # -- reading -------------------------------------------------------------------------------
    def read_table(
        self, schema: str, name: str, columns: list[str] | None = None, where: str | None = None
    ) -> pd.DataFrame:
        """A table as a DataFrame with the same dtypes whichever backend holds it.

        ``where`` is a SQL condition evaluated by the database, so a consumer that needs a slice
        of a large table does not pull the whole table into Python.
        """
        select = ", ".join(_quote(c) for c in columns) if columns else "*"
        condition = f" WHERE {where}" if where else ""
        sql = f"SELECT {select} FROM {qualified(schema, name)}{condition}"
        with self.session():
            types = self.query(
                "SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_schema = '{schema}' AND table_name = '{name}'"
            )
            sql_types = dict(zip(types["column_name"], types["data_type"], strict=True))
            frame = None
            if self.backend == "postgresql":
                frame = self._copy_out(sql, columns or list(sql_types), sql_types)
            if frame is None:
                frame = self.query(sql)
        return _normalise_dtypes(frame, sql_types)

    def _copy_out(
        self, sql: str, columns: list[str], sql_types: Mapping[str, str]
    ) -> pd.DataFrame | None:
        """PostgreSQL's bulk path out: the rows as CSV through COPY, parsed by Arrow's reader
        (``read_sql`` builds a Python object per value: 2-4 s for a 1M-row staging table).
        Gives what ``query`` gives, or None for no rows or a column type it does not know."""
        import pyarrow as pa
        import pyarrow.csv as pcsv

        arrow_types = {}
        for column in columns:
            kind = _copy_out_types().get(sql_types.get(column, ""))
            if kind is None:
                return None
            arrow_types[column] = kind
        chunks = []
        with self.engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()
            with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                chunks.extend(bytes(block) for block in copy)
        if not chunks:
            return None  # no rows: the query's empty frame carries the column types
        table = pcsv.read_csv(
            pa.py_buffer(b"".join(chunks)),
            read_options=pcsv.ReadOptions(column_names=columns),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types=arrow_types,
                true_values=["t"],
                false_values=["f"],
                # COPY writes NULL as an unquoted empty field, an empty string as ""
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                null_values=[""],
            ),
        )
        return table.to_pandas()

    def query(self, sql: str) -> pd.DataFrame:
        if self.backend == "duckdb":
            with self._duckdb() as con:
                return con.sql(sql).df()
        with self.engine.connect() as conn:
            return pd.read_sql_query(sa.text(sql), conn)

    def table_exists(self, schema: str, name: str) -> bool:
        return name in self.list_tables(schema)

    def list_tables(self, schema: str) -> list[str]:
        frame = self.query(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = '{schema}' ORDER BY table_name"
        )
        return [str(n) for n in frame["table_name"] if not str(n).endswith("__new")]

    def describe_columns(self, schema: str) -> pd.DataFrame:
        """Every column of every table in a schema with its type and comment (description)."""
        if self.backend == "duckdb":
            sql = (
                "SELECT c.table_name, c.column_name, c.column_index AS ordinal, c.data_type, "
                "c.comment AS description, t.comment AS table_description "
                "FROM duckdb_columns() c JOIN duckdb_tables() t "
                "ON t.schema_name = c.schema_name AND t.table_name = c.table_name "
                f"WHERE c.schema_name = '{schema}' AND c.database_name = current_database()"
            )
        else:
            sql = (
                "SELECT c.relname AS table_name, a.attname AS column_name, a.attnum AS ordinal, "
                "format_type(a.atttypid, a.atttypmod) AS data_type, "
                "col_description(c.oid, a.attnum) AS description, "
                "obj_description(c.oid, 'pg_class') AS table_description "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_attribute a ON a.attrelid = c.oid "
                f"WHERE n.nspname = '{schema}' AND c.relkind = 'r' AND a.attnum > 0 "
                "AND NOT a.attisdropped"
            )
        frame = self.query(sql)
        frame = frame[~frame["table_name"].astype(str).str.endswith("__new")]
        frame["data_type"] = frame["data_type"].astype(str).str.upper()
        return frame.sort_values(["table_name", "ordinal"]).reset_index(drop=True)

    def row_count(self, schema: str, name: str) -> int:
        return int(self.query(f"SELECT COUNT(*) AS n FROM {qualified(schema, name)}")["n"].iloc[0])


@contextmanager
def scratch_database(server_url: str, prefix: str, drivername: str | None = None) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``server_url`` (any database of it),
    yielded as a URL (``drivername`` replaces the driver), and dropped afterwards whatever
    happens, connections still open included: for tests and the benchmark."""
    import uuid

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {_quote(name)}")
        url = make_url(server_url).set(database=name)
        if drivername:
            url = url.set(drivername=drivername)
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
    finally:
        admin.dispose()


def _lock_holder(error: Exception) -> str:
    """The process DuckDB names in its "Could not set lock" error, or what it says."""
    import re

    found = re.search(r"(PID \d+)", str(error))
    return f"process {found.group(1)[4:]}" if found else "DuckDB could not set its lock"


def _default_analyst_role() -> str:
    from cov_pipeline import settings

    return settings.analyst_role()


# PostgreSQL's types of the warehouse's columns (sql_type) as Arrow reads COPY's CSV of them.
@functools.cache
def _copy_out_types() -> dict:
    import pyarrow as pa

    return {
        "bigint": pa.int64(),
        "integer": pa.int64(),
        "smallint": pa.int64(),
        "double precision": pa.float64(),
        "boolean": pa.bool_(),
        "text": pa.large_string(),
        "date": pa.date32(),
        "timestamp without time zone": pa.timestamp("us"),
    }


def _normalise_dtypes(frame: pd.DataFrame, sql_types: Mapping[str, str]) -> pd.DataFrame:
    """Integers with gaps as Int64, dates and timestamps as datetime64, booleans with gaps as boolean."""
    converted = {}
    for column in frame.columns:
        kind = sql_types.get(column, "").upper()
        series = frame[column]
        if kind in ("BIGINT", "INTEGER", "SMALLINT"):
            converted[column] = series.astype("int64" if series.notna().all() else "Int64")
        elif kind == "DATE" or kind.startswith("TIMESTAMP"):
            # a column the driver already returned as datetimes only needs its unit set;
            # to_datetime would inspect a sample of values first
            if pd.api.types.is_datetime64_dtype(series.dtype):
                converted[column] = series.astype("datetime64[ns]")
            else:
                converted[column] = pd.to_datetime(series).astype("datetime64[ns]")
        elif kind == "BOOLEAN" and series.isna().any():
            converted[column] = series.astype("boolean")
    return frame.assign(**converted) if converted else frame


def _check_columns(schema: str, name: str, frame: pd.DataFrame) -> None:
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise WarehouseError(f"{schema}.{name}: duplicated column names {columns}")
    if not columns:
        raise WarehouseError(f"{schema}.{name}: a table needs at least one column")


def _comment_statements(schema: str, name: str, write: TableWrite) -> list[str]:
    table = qualified(schema, name)
    statements = []
    if write.description:
        statements.append(f"COMMENT ON TABLE {table} IS {_literal(write.description)}")
    for column, text in write.column_descriptions.items():
        if column in write.frame.columns and text:
            statements.append(f"COMMENT ON COLUMN {table}.{_quote(column)} IS {_literal(text)}")
    return statements


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _copy_into(cursor, schema: str, name: str, frame: pd.DataFrame) -> None:
    """PostgreSQL's bulk path: the frame as CSV through COPY, streamed in chunks.

    Arrow's CSV writer formats the chunks where it can hold every column (about five times
    pandas' ``to_csv``, which took 17 of the 34 s of writing the 1M-row Fingertips staging
    table): it quotes every text value and leaves a null unquoted and empty, which is COPY's
    own reading of CSV (a quoted empty string is an empty string, an unquoted empty field
    NULL). Columns Arrow does not write as PostgreSQL reads them take pandas' path."""
    columns = ", ".join(_quote(c) for c in frame.columns)
    target = f"COPY {qualified(schema, name)} ({columns}) FROM STDIN WITH (FORMAT csv"
    chunk_rows = 200_000
    table = _arrow_table(frame)
    if table is not None:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        options = pcsv.WriteOptions(include_header=False, quoting_style="needed")
        with cursor.copy(target + ")") as copy:
            for start in range(0, table.num_rows, chunk_rows):
                sink = pa.BufferOutputStream()
                pcsv.write_csv(table.slice(start, chunk_rows), sink, options)
                copy.write(memoryview(sink.getvalue()))
        return
    with cursor.copy(target + f", NULL '{_NULL}')") as copy:
        for start in range(0, len(frame), chunk_rows):
            buffer = io.StringIO()
            frame.iloc[start : start + chunk_rows].to_csv(
                buffer, header=False, index=False, na_rep=_NULL, quoting=csv.QUOTE_MINIMAL
            )
            copy.write(buffer.getvalue())


def _arrow_table(frame: pd.DataFrame):
    """The frame as an Arrow table (converted once; chunks are slices of it), or None where a
    column is of a kind Arrow's CSV writer does not format as PostgreSQL reads it: only
    booleans, integers, floats, naive timestamps, dates, text and all-null columns pass (an
    object column mixing kinds fails Arrow's conversion)."""
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    types = pa.types
    for kind in table.schema.types:
        if types.is_timestamp(kind):
            if kind.tz is not None:
                return None
        elif not (
            types.is_string(kind)
            or types.is_large_string(kind)
            or types.is_boolean(kind)
            or types.is_integer(kind)
            or types.is_floating(kind)
            or types.is_date32(kind)
            or types.is_null(kind)
        ):
            return None
    return table
