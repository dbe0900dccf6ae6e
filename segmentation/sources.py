"""Where customers come from: a CSV or Parquet file, or a SQL table or query.

Every source is read in chunks with only the columns training needs, so a ten-million-row export
never has to fit in memory as text. Training reads through it, and so does ``segment-score``
when it scores a database table. Columns are renamed to the project's snake_case names here:
first by the user's explicit mapping (``--columns Income=annual_income``), then from the classic
schema's names and aliases; nothing downstream knows what the columns were called in the source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segmentation.checksums import sha256_of
from segmentation.csv_lines import SAVE_AS_UTF8
from segmentation.excerpts import header_hint
from segmentation.schema import ID_COLUMN
from segmentation.tables import is_database_url, is_parquet

if TYPE_CHECKING:
    import sqlalchemy
    from sqlalchemy.engine import Connection

CHUNK_ROWS = 500_000
# pandas' own message gives a byte position within its read buffer, not in the file.
NOT_UTF8 = f"not UTF-8 text: {SAVE_AS_UTF8}"
# Words that spreadsheets and exports (R's write.csv, Excel, databases) write for "no value";
# pandas' default missing values. A CSV is read with only an empty cell missing, as segment-score
# and the service read one, so that 'NA' stays a level (North America, Namibia) in a column of
# words; training treats these words as missing in a column of numbers (``missing_words``).
MISSING_WORDS = frozenset(
    {
        "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
        "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip
SourceKind = Literal["csv", "parquet", "sql"]
SCHEMAS_SHOWN = 10  # in the error for a schema that does not exist


class SourceError(Exception):
    """The source cannot be opened or read; the message names it."""


@dataclass(frozen=True)
class DataSource:
    """A data location as the user gave it, with an optional column mapping."""

    location: str
    table: str | None = None
    query: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> SourceKind:
        if is_database_url(self.location):
            return "sql"
        if is_parquet(self.location):
            return "parquet"
        return "csv"

    def describe(self) -> str:
        """How the source is named in messages and metadata; never shows a password."""
        if self.kind != "sql":
            return self.location
        what = f"table {self.table}" if self.table else f"query {self.query!r}"
        return f"{self.database()} {what}"

    def database(self) -> str:
        """The database URL with its password hidden."""
        # Imported here: files are read without SQLAlchemy (the base install has none).
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            return make_url(self.location).render_as_string(hide_password=True)
        except ArgumentError:
            return "(invalid database URL)"


@dataclass(frozen=True)
class TableName:
    """A table as ``--table`` and ``--output-table`` name it: ``table`` or ``schema.table``.

    A dot outside double quotes separates schema and table, as in SQL, so that
    ``crm.customers`` is the table the CRM reads; a part in double quotes is taken as written
    (``"odd.name"``, ``crm."Customer Table"``, ``""`` for a quote inside one). An unquoted part
    is taken as written too, spaces and letter case included, unlike SQL, which folds it: a
    name that needs no dot never needs quotes.
    """

    name: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: str) -> TableName:
        """``text`` as a table name; ValueError (the message says why) when it is not one."""
        if not text.strip():
            raise ValueError("give a table name")
        parts: list[str] = []
        position = 0
        while True:
            part, position = _name_part(text, position)
            parts.append(part)
            if position == len(text):
                break
            position += 1  # the dot
        if len(parts) > 2:
            raise ValueError(
                f"{text!r} has {len(parts)} parts: give table or schema.table (a dot separates "
                'schema and table; quote a name that holds a dot: "odd.name")'
            )
        if not all(parts):
            side = "before" if not parts[0] else "after"
            where = f" {side} its dot" if len(parts) == 2 else ""
            raise ValueError(
                f"{text!r} has an empty name{where}: give table or schema.table (quote a name "
                'that holds a dot: "odd.name")'
            )
        return cls(parts[-1], parts[0] if len(parts) == 2 else None)

    def describe(self) -> str:
        """``'customers'``, or ``'customers' in schema 'crm'``: each part as it is stored."""
        return f"{self.name!r}" + (f" in schema {self.schema!r}" if self.schema else "")

    def check_schema(self, connection: Connection, where: str) -> None:
        """A clear error when the schema does not exist (SourceError, prefixed by ``where``):
        the database's own would say only that the table does not, or name no schema at all."""
        import sqlalchemy

        if self.schema is None:
            return
        schemas = sqlalchemy.inspect(connection).get_schema_names()
        if self.schema in schemas:
            return
        alike = [name for name in schemas if name.casefold() == self.schema.casefold()]
        if alike:
            # SQL folds an unquoted name to lower case; a name here is read as written.
            raise SourceError(
                f"{where}: no schema {self.schema!r}, but there is {alike[0]!r}: a name is read "
                f"with its letter case, as written: {alike[0]}.{self.name}"
            )
        found = ", ".join(map(repr, sorted(schemas)[:SCHEMAS_SHOWN]))
        found += ", ..." if len(schemas) > SCHEMAS_SHOWN else ""
        # A SQLite URL opens one file, "main"; its other schemas would be attached databases.
        if connection.dialect.name == "sqlite":
            found = f"a SQLite database's schemas are the files attached to it: {found}"
        else:
            found = f"the database's schemas: {found}"
        whole = '"' + f"{self.schema}.{self.name}".replace('"', '""') + '"'
        raise SourceError(
            f"{where}: no schema {self.schema!r} ({found}); a dot separates schema and table, "
            f"so quote a table name that holds one: {whole}"
        )


def _name_part(text: str, start: int) -> tuple[str, int]:
    """One part of a table name from ``start``, and the position after it (a dot or the end)."""
    if not text.startswith('"', start):
        end = text.find(".", start)
        end = len(text) if end < 0 else end
        return text[start:end], end
    part: list[str] = []
    position = start + 1
    while True:
        quote = text.find('"', position)
        if quote < 0:
            raise ValueError(f"{text!r}: the double quote at character {start + 1} is never closed")
        part.append(text[position:quote])
        if text.startswith('"', quote + 1):  # "" is a quote inside the name
            part.append('"')
            position = quote + 2
            continue
        position = quote + 1
        break
    if position < len(text) and text[position] != ".":
        raise ValueError(
            f"{text!r}: a quoted name must end at a dot or at the end, not before "
            f"{text[position:]!r}"
        )
    return "".join(part), position


def _integers_as_text(batch: pa.RecordBatch, columns: set[str]) -> pa.RecordBatch:
    """The integer columns among ``columns`` (read as text: declared levels) as their digits.
    pandas makes an integer column with a gap floats, so level 0 became '0.0', and every row of
    such a column was refused."""
    if not columns:
        return batch
    arrays = [
        array.cast(pa.string()) if name in columns and pa.types.is_integer(array.type) else array
        for name, array in zip(batch.schema.names, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _as_booleans(values: Sequence[Any]) -> list[Any]:
    """A BOOLEAN column's 0 and 1 as False and True (SQLite's storage of them); any other value
    is left for the checks to name."""
    return [
        value if isinstance(value, bool) or value is None or value not in (0, 1) else bool(value)
        for value in values
    ]


def parse_column_mapping(text: str) -> dict[str, str]:
    """``"Income=annual_income, Score=spending_score"`` -> ``{"Income": "annual_income", ...}``."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        source, sep, target = (side.strip() for side in item.partition("="))
        if not sep or not source or not target:
            raise ValueError(f"column mapping {item!r} is not of the form SOURCE=TARGET")
        if source in mapping:
            raise ValueError(f"column mapping names {source!r} twice")
        mapping[source] = target
    targets = list(mapping.values())
    repeated = sorted({t for t in targets if targets.count(t) > 1})
    if repeated:
        raise ValueError(f"column mapping maps two columns to {repeated[0]!r}")
    return mapping


class SourceReader:
    """Reads a source chunk by chunk; call :meth:`sha256` after the chunks are consumed.

    ``name_of`` maps every header the schema knows (names and aliases) to its name; columns it
    does not know are not read, nor are known ones outside ``needed`` and ``optional``.
    """

    def __init__(
        self,
        source: DataSource,
        needed: Sequence[str],
        name_of: Mapping[str, str],
        *,
        optional: Sequence[str] = (),
        text_columns: Sequence[str] = (),
    ) -> None:
        self.source = source
        self.name = source.describe()
        self._needed = list(needed)
        self._optional = list(optional)
        self._name_of = dict(name_of)
        self._text = set(text_columns)
        self._rows_digest = hashlib.sha256()

    def chunks(self, chunk_rows: int | None = None) -> Generator[pd.DataFrame, None, None]:
        """Chunks with the schema's names: the needed columns, and the optional ones present."""
        readers = {
            "csv": self._csv_chunks,
            "parquet": self._parquet_chunks,
            "sql": self._sql_chunks,
        }
        yield from readers[self.source.kind](chunk_rows or CHUNK_ROWS)

    def read_all(self, on_chunk: Callable[[int], None] | None = None) -> pd.DataFrame:
        """Every chunk, as one frame (empty, with no columns, for no rows)."""
        parts = []
        for chunk in self.chunks():
            parts.append(chunk)
            if on_chunk:
                on_chunk(len(chunk))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def sha256(self) -> str:
        if self.source.kind == "sql":
            return self._rows_digest.hexdigest()
        return sha256_of(Path(self.source.location))

    # -- per kind ------------------------------------------------------------------------------

    def _csv_chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        path = self._existing_file()
        try:
            header = pd.read_csv(path, nrows=0, skipinitialspace=True).columns
        except pd.errors.EmptyDataError:
            raise SourceError(f"{path}: the file is empty") from None
        except UnicodeDecodeError:
            raise SourceError(f"{path}: {NOT_UTF8}") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise SourceError(f"{path}: not a readable CSV file: {first_line(exc)}") from None
        selected = self._select(list(map(str, header)))
        text_columns = {raw: "str" for raw, name in selected.items() if name in self._text}
        try:
            reader = pd.read_csv(
                path,
                usecols=list(selected),
                dtype=text_columns,
                skipinitialspace=True,
                chunksize=chunk_rows,
                keep_default_na=False,
                na_values=[""],
            )
            with reader:
                for chunk in reader:
                    yield chunk.rename(columns=selected)
        except UnicodeDecodeError:
            raise SourceError(f"{path}: {NOT_UTF8}") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise SourceError(f"{path}: not a readable CSV file: {first_line(exc)}") from None

    def _parquet_chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        path = self._existing_file()
        if path.stat().st_size == 0:
            raise SourceError(f"{path}: the file is empty")
        try:
            parquet = pq.ParquetFile(path)
            selected = self._select(list(parquet.schema_arrow.names))
            # Not the id: it keeps the type the file gives it, as it always has; a message
            # shows a whole float id as written (excerpts.id_text).
            text = {raw for raw, name in selected.items() if name in self._text - {ID_COLUMN}}
            for batch in parquet.iter_batches(batch_size=chunk_rows, columns=list(selected)):
                yield _integers_as_text(batch, text).to_pandas().rename(columns=selected)
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"{path}: not a readable Parquet file: {first_line(exc)}") from None

    def _sql_chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        import sqlalchemy
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

        source = self.source
        if bool(source.table) == bool(source.query):
            raise SourceError(f"{self.name}: give exactly one of --table or --query")
        try:
            table = TableName.parse(source.table) if source.table else None
        except ValueError as exc:
            raise SourceError(f"{self.name}: --table {exc}") from None
        try:
            engine = sqlalchemy.create_engine(source.location)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise SourceError(f"{self.name}: cannot use this database URL: {exc}") from None
        try:
            with engine.connect() as connection:
                selected: dict[str, str] | None = None
                booleans: set[str] = set()
                statement: sqlalchemy.Executable
                if table is not None:
                    selected, booleans, statement = self._table_select(connection, table)
                else:
                    statement = sqlalchemy.text(source.query or "")
                result = connection.execution_options(stream_results=True).execute(statement)
                # Closed even when the reader stops early: a server-side cursor must not
                # outlive its connection.
                with result:
                    raw_names = list(result.keys())
                    if selected is None:
                        selected = self._select(raw_names)
                    while rows := result.fetchmany(chunk_rows):
                        # Column by column: pandas' from_records probes every Row object.
                        values = dict(zip(raw_names, zip(*rows, strict=True), strict=True))
                        chunk = pd.DataFrame(
                            {
                                raw: _as_booleans(values[raw]) if raw in booleans else values[raw]
                                for raw in selected
                            }
                        )
                        self._rows_digest.update(
                            pd.util.hash_pandas_object(chunk, index=False).to_numpy().tobytes()
                        )
                        yield chunk.rename(columns=selected)
        except SQLAlchemyError as exc:
            raise SourceError(f"{self.name}: database error: {first_line(exc)}") from None
        finally:
            engine.dispose()

    def _table_select(
        self, connection: Connection, table: TableName
    ) -> tuple[dict[str, str], set[str], sqlalchemy.Select[Any]]:
        """The columns to read from ``table`` (raw -> our name), and the SELECT of only those,
        untyped: values come as the driver gives them, as a query's do. SQLAlchemy's types,
        reflected from the declared ones, would convert every value on the way, and SQLite
        declares anything (a DATE holding '01/03/2025', a NUMERIC holding 'abc'): one such value
        in a column nobody asked for failed the whole read with a traceback. A bad value in a
        column that is read is left to the checks, which name its row and column. The columns
        declared BOOLEAN are returned too: SQLite stores them as 0 and 1, which were read as
        False and True before, and a model trained then has those levels."""
        import sqlalchemy
        from sqlalchemy.exc import NoSuchTableError

        table.check_schema(connection, self.name)
        try:
            reflected = sqlalchemy.inspect(connection).get_columns(table.name, schema=table.schema)
        except NoSuchTableError:
            raise SourceError(f"{self.name}: no such table {table.describe()}") from None
        selected = self._select([str(column["name"]) for column in reflected])
        booleans = {
            str(column["name"])
            for column in reflected
            if isinstance(column["type"], sqlalchemy.Boolean)
        }
        untyped = sqlalchemy.table(
            table.name, *(sqlalchemy.column(raw) for raw in selected), schema=table.schema
        )
        return selected, booleans & set(selected), sqlalchemy.select(*untyped.c)

    # -- helpers -------------------------------------------------------------------------------

    def _existing_file(self) -> Path:
        path = Path(self.source.location)
        if not path.exists():
            raise SourceError(f"{path}: file not found")
        if not path.is_file():
            raise SourceError(f"{path}: not a file")
        return path

    def _select(self, raw_columns: list[str]) -> dict[str, str]:
        """Raw column -> snake_case name, for the columns training reads."""
        mapping = self.source.columns
        unknown = [raw for raw in mapping if raw not in raw_columns]
        if unknown:
            raise SourceError(
                f"{self.name}: --columns names {unknown[0]!r}, which is not a column; "
                f"found columns: {', '.join(raw_columns)}{_hint(unknown[0], raw_columns)}"
            )
        renamed: dict[str, str] = {}
        for raw in raw_columns:
            name = mapping.get(raw) or self._name_of.get(raw.strip(), raw.strip())
            if name in renamed.values() and name in (*self._needed, *self._optional):
                raise SourceError(
                    f"{self.name}: column {self.describe_column(name)} appears more than once"
                )
            renamed[raw] = name
        missing = [name for name in self._needed if name not in renamed.values()]
        if missing:
            raise SourceError(
                f"{self.name}: missing required column {self.describe_column(missing[0])}; "
                f"found columns: {', '.join(raw_columns)}"
                f"{_hint(missing[0], raw_columns) or ' (map other names with --columns)'}"
            )
        wanted = {*self._needed, *self._optional}
        return {raw: name for raw, name in renamed.items() if name in wanted}

    def describe_column(self, name: str) -> str:
        """``'age' ('Age')``: the name, and the first other header the schema accepts for it."""
        alias = next((a for a, n in self._name_of.items() if n == name and a != name), None)
        return f"'{name}' ('{alias}')" if alias else f"'{name}'"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _hint(missing: str, raw_columns: Sequence[str]) -> str:
    hint = header_hint(missing, raw_columns)
    return f" ({hint})" if hint else ""


def missing_words(column: pd.Series) -> pd.Series:
    """Where a column of text holds one of ``MISSING_WORDS`` (trimmed); all False otherwise."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return pd.Series(False, index=column.index)
    found = column.astype("string").str.strip().isin(MISSING_WORDS)
    return found.fillna(False).astype(bool)
