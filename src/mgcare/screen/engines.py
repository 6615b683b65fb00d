"""The two engines that run the screening SQL: DuckDB (embedded, default) and Spark.

An engine only reads files, registers small lookup tables, runs SQL and writes Parquet; every
clinical decision is in mgcare.screen.sql, shared by both.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from mgcare.screen.dialect import DUCKDB, SPARK, Dialect
from mgcare.screen.errors import ScreenInputError
from mgcare.screen.schema import TypeCategory

FileFormat = Literal["parquet", "csv"]
ColumnType = Literal["text", "double", "bool", "date", "bigint"]
DEFAULT_MEMORY_LIMIT = "2GB"
MEMORY_ENV = "MGCARE_SCREEN_MEMORY"
SPARK_SHUFFLE_PARTITIONS = "8"
SPARK_PLAN_STRING_MAX = "200000"


class Engine(Protocol):
    dialect: Dialect

    def register_file(self, name: str, path: Path, fmt: FileFormat) -> None: ...

    def register_rows(
        self,
        name: str,
        columns: Sequence[tuple[str, ColumnType]],
        rows: Sequence[tuple[object, ...]],
    ) -> None: ...

    def columns(self, name: str) -> list[tuple[str, TypeCategory, str]]: ...

    def create(self, name: str, sql: str, materialise: bool) -> None: ...

    def fetch(self, sql: str) -> list[tuple[Any, ...]]: ...

    def write_parquet(self, name: str, path: Path) -> None: ...

    def set_progress(self, callback: Callable[[float], None] | None) -> None: ...

    def close(self) -> None: ...


def parquet_files(path: Path) -> list[Path]:
    """A Parquet file, or every Parquet file under a directory (a Spark or Hive dataset)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise ScreenInputError(f"{path}: directory holds no .parquet files")
        return files
    if not path.exists():
        raise ScreenInputError(f"{path}: no such file")
    return [path]


def _duckdb_category(type_name: str) -> TypeCategory:
    upper = type_name.upper()
    if upper in ("VARCHAR", "STRING", "TEXT") or upper.startswith("VARCHAR"):
        return "string"
    if upper in (
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
    ):
        return "integer"
    if upper in ("FLOAT", "DOUBLE", "REAL") or upper.startswith("DECIMAL"):
        return "float"
    if upper == "DATE":
        return "date"
    if upper.startswith("TIMESTAMP"):
        return "timestamp"
    if upper == "BOOLEAN":
        return "boolean"
    if upper == '"NULL"' or upper == "NULL":
        return "string"
    return "other"


class DuckDBEngine:
    """Embedded DuckDB with a memory limit and spilling to a temporary directory."""

    dialect = DUCKDB

    def __init__(
        self, temp_dir: Path, memory_limit: str | None = None, threads: int | None = None
    ) -> None:
        import duckdb

        self._duckdb = duckdb
        self.con = duckdb.connect()
        limit = memory_limit or os.environ.get(MEMORY_ENV) or DEFAULT_MEMORY_LIMIT
        temp_dir.mkdir(parents=True, exist_ok=True)
        self.con.execute(f"SET memory_limit = '{limit}'")
        self.con.execute(f"SET temp_directory = '{_sql_path(temp_dir)}'")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET TimeZone = 'UTC'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self._progress: Callable[[float], None] | None = None
        self._arrow: dict[str, Any] = {}

    def set_progress(self, callback: Callable[[float], None] | None) -> None:
        self._progress = callback

    def _run(self, sql: str) -> Any:
        """Execute, reporting DuckDB's own query progress while it runs."""
        if self._progress is None:
            return self._wrap(lambda: self.con.execute(sql))
        done = threading.Event()
        callback = self._progress

        def poll() -> None:
            while not done.wait(0.2):
                try:
                    value = self.con.query_progress()
                except Exception:
                    return
                if value >= 0:
                    callback(float(value))

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            return self._wrap(lambda: self.con.execute(sql))
        finally:
            done.set()
            watcher.join()

    def _wrap(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except (self._duckdb.IOException, self._duckdb.InvalidInputException) as exc:
            raise ScreenInputError(_first_line(str(exc))) from None
        except self._duckdb.ConversionException as exc:
            raise ScreenInputError(_first_line(str(exc))) from None

    def register_file(self, name: str, path: Path, fmt: FileFormat) -> None:
        if fmt == "parquet":
            files = ", ".join(f"'{_sql_path(p)}'" for p in parquet_files(path))
            source = f"read_parquet([{files}], union_by_name = true)"
        else:
            if not path.exists():
                raise ScreenInputError(f"{path}: no such file")
            source = f"read_csv('{_sql_path(path)}', header = true, all_varchar = true)"
        self._run(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source}")
        self.columns(name)  # fail now, with the file named, if it cannot be read

    def register_rows(
        self,
        name: str,
        columns: Sequence[tuple[str, ColumnType]],
        rows: Sequence[tuple[object, ...]],
    ) -> None:
        import pyarrow as pa  # type: ignore[import-untyped]

        types = {
            "text": pa.string(),
            "double": pa.float64(),
            "bool": pa.bool_(),
            "date": pa.date32(),
            "bigint": pa.int64(),
        }
        arrays = [
            pa.array([row[i] for row in rows], type=types[kind])
            for i, (_, kind) in enumerate(columns)
        ]
        table = pa.Table.from_arrays(arrays, names=[c for c, _ in columns])
        self._arrow[name] = table
        self.con.register(f"{name}_arrow", table)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")

    def columns(self, name: str) -> list[tuple[str, TypeCategory, str]]:
        rows = self._run(f"DESCRIBE SELECT * FROM {name}").fetchall()
        return [(str(r[0]), _duckdb_category(str(r[1])), str(r[1])) for r in rows]

    def create(self, name: str, sql: str, materialise: bool) -> None:
        kind = "TEMP TABLE" if materialise else "VIEW"
        self._run(f"CREATE OR REPLACE {kind} {name} AS {sql}")

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._run(sql).fetchall()]

    def write_parquet(self, name: str, path: Path) -> None:
        self._run(
            f"COPY (SELECT * FROM {name}) TO '{_sql_path(path)}' (FORMAT parquet, COMPRESSION zstd)"
        )

    def close(self) -> None:
        self.con.close()


def _spark_category(type_name: str) -> TypeCategory:
    lower = type_name.lower()
    if lower in ("string", "varchar", "char") or lower.startswith(("varchar", "char")):
        return "string"
    if lower in ("byte", "short", "integer", "long", "tinyint", "smallint", "int", "bigint"):
        return "integer"
    if lower in ("float", "double") or lower.startswith("decimal"):
        return "float"
    if lower == "date":
        return "date"
    if lower.startswith("timestamp"):
        return "timestamp"
    if lower == "boolean":
        return "boolean"
    if lower in ("void", "null"):
        return "string"
    return "other"


def java_available() -> bool:
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


def spark_session(
    master: str | None = None, shuffle_partitions: str = SPARK_SHUFFLE_PARTITIONS
) -> Any:
    """A SparkSession for screening (UTC session time, quiet console); reused if one exists."""
    if not java_available():
        raise ScreenInputError(
            "the spark engine needs Java (java not found on PATH, JAVA_HOME unset)"
        )
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master or "local[2]")
        .appName("mgcare-screen")
        .config("spark.sql.shuffle.partitions", shuffle_partitions)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "true")
        # the screening plans nest cached tables whose descriptions Spark builds as one string
        # for its listeners: unbounded, that string alone can exhaust the driver heap
        .config("spark.sql.maxPlanStringLength", SPARK_PLAN_STRING_MAX)
        .config("spark.driver.memory", os.environ.get("MGCARE_SPARK_DRIVER_MEMORY", "2g"))
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    """Spark SQL (local[N] or a cluster master URL) running the same screening SQL."""

    dialect = SPARK

    def __init__(self, master: str | None = None, session: Any = None) -> None:
        self.spark = session if session is not None else spark_session(master)
        self._cached: list[Any] = []
        self._views: list[str] = []

    def set_progress(self, callback: Callable[[float], None] | None) -> None:
        """Spark reports progress per stage in its UI; steps are shown by the caller."""

    def _wrap(self, action: Callable[[], Any]) -> Any:
        from pyspark.errors import AnalysisException

        try:
            return action()
        except AnalysisException as exc:
            message = _first_line(str(exc))
            if "PATH_NOT_FOUND" in message or "does not exist" in message:
                raise ScreenInputError(message) from None
            raise

    def register_file(self, name: str, path: Path, fmt: FileFormat) -> None:
        reader = self.spark.read
        if fmt == "parquet":
            files = [str(p) for p in parquet_files(path)]
            frame = self._wrap(lambda: reader.option("mergeSchema", "true").parquet(*files))
        else:
            if not path.exists():
                raise ScreenInputError(f"{path}: no such file")
            frame = self._wrap(lambda: reader.option("header", "true").csv(str(path)))
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def register_rows(
        self,
        name: str,
        columns: Sequence[tuple[str, ColumnType]],
        rows: Sequence[tuple[object, ...]],
    ) -> None:
        from pyspark.sql import types as st

        kinds: dict[str, Any] = {
            "text": st.StringType(),
            "double": st.DoubleType(),
            "bool": st.BooleanType(),
            "date": st.DateType(),
            "bigint": st.LongType(),
        }
        schema = st.StructType([st.StructField(c, kinds[k], True) for c, k in columns])
        frame = self.spark.createDataFrame(list(rows), schema=schema)
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def columns(self, name: str) -> list[tuple[str, TypeCategory, str]]:
        schema = self.spark.table(name).schema
        return [
            (f.name, _spark_category(f.dataType.simpleString()), f.dataType.simpleString())
            for f in schema.fields
        ]

    def create(self, name: str, sql: str, materialise: bool) -> None:
        frame = self.spark.sql(sql)
        if materialise:
            frame = frame.persist()
            frame.count()
            self._cached.append(frame)
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.spark.sql(sql).collect()]

    def write_parquet(self, name: str, path: Path) -> None:
        """One Parquet file at `path` (Spark writes a folder of parts; the single part is moved)."""
        staging = Path(tempfile.mkdtemp(prefix=".spark-", dir=path.parent))
        try:
            self.spark.table(name).coalesce(1).write.mode("overwrite").parquet(str(staging / "out"))
            parts = sorted((staging / "out").glob("part-*.parquet"))
            if len(parts) != 1:
                raise RuntimeError(f"spark wrote {len(parts)} parts for {name}")
            shutil.move(str(parts[0]), str(path))
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def close(self) -> None:
        for frame in self._cached:
            frame.unpersist()
        for name in self._views:
            self.spark.catalog.dropTempView(name)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0] if lines else message
