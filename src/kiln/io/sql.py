"""Rows of an SQL query as tensors, the source behind `kiln.data.SqlDataset`.

SQLite works through the standard library's `sqlite3`, opened read-only; any other database
works through its own DB-API 2 connection object, passed instead of a driver name.
"""

import os
import sqlite3
import urllib.parse

from kiln.io._dtypes import STRING, RowTensors, dtype_name, resolve_dtype
from kiln.saving import registry

_SQL_DTYPES = ("string", "bool", "int32", "int64", "float32", "float64")
_FETCH_SIZE = 256
_DRIVERS = {"sqlite": "sqlite"}


def iterate_sql(driver, data_source_name, query, output_types):
    """Yields the rows of an SQL query as tuples of tensors, like `tf.data.experimental.SqlDataset`.

    Args:
        driver: ``"sqlite"``, or an open DB-API connection (anything with a `cursor()` method),
            which is used as is and left open.
        data_source_name: the SQLite database file; None when `driver` is a connection.
        query: the SQL query to run.
        output_types: the dtype of each column the query returns: ``"string"`` (values become
            `bytes`), ``"bool"``, ``"int32"``, ``"int64"``, ``"float32"``, ``"float64"`` or torch
            dtypes; a single dtype (not in a tuple) makes each element a single value.

    Returns:
        A generator of tuples with one 0-d tensor (bytes for strings) per column. The query runs
        when the first row is asked for, and again on each new call.

    Raises:
        ValueError: (while iterating) for a query that fails, a number of columns that differs
            from `output_types`, or a NULL or ill-typed value, naming the row and column.

    Example:

    >>> rows = kiln.io.iterate_sql("sqlite", "people.sqlite", "SELECT name, age FROM people",
    ...                            ("string", "int64"))
    >>> next(rows)
    (b'Alice', tensor(42))
    """
    single = not isinstance(output_types, (list, tuple))
    types = [output_types] if single else list(output_types)
    if not types:
        raise ValueError(
            "Invalid output_types: expected at least one dtype, but received an empty sequence."
        )
    dtypes = [
        resolve_dtype(dtype, _SQL_DTYPES, f"output_types[{i}]") for i, dtype in enumerate(types)
    ]
    if not isinstance(query, str):
        raise ValueError(f"Invalid query: expected an SQL string, but received {query!r}.")
    if callable(getattr(driver, "cursor", None)):
        if data_source_name is not None:
            raise ValueError(
                "Invalid data_source_name: expected None when driver is a connection object, but "
                f"received {data_source_name!r}."
            )
        source = f"the connection {driver!r}"
    elif isinstance(driver, str):
        registry.resolve(driver, _DRIVERS, "SQL driver")
        if not isinstance(data_source_name, (str, os.PathLike)):
            raise ValueError(
                "Invalid data_source_name: expected the path of an SQLite database file, but "
                f"received {data_source_name!r}."
            )
        data_source_name = os.fspath(data_source_name)
        source = f"the SQLite database {data_source_name!r}"
    else:
        raise ValueError(
            'Invalid driver: expected "sqlite" or a DB-API connection object, but received '
            f"{driver!r}."
        )
    return _rows(driver, data_source_name, query, dtypes, single, source)


def _rows(driver, path, query, dtypes, single, source):
    connection = driver if path is None else _open_sqlite(path)
    cursor = None
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(query)
        except Exception as error:
            raise ValueError(f"The query {query!r} failed on {source}: {error}") from error
        names = [column[0] for column in cursor.description or ()]
        if len(names) != len(dtypes):
            raise ValueError(
                f"The query {query!r} on {source} returns {len(names)} columns {names}, but "
                f"output_types has {len(dtypes)} dtypes."
            )
        string_columns = [index for index, dtype in enumerate(dtypes) if dtype == STRING]
        build = RowTensors(dtypes)
        number = 0
        while rows := cursor.fetchmany(_FETCH_SIZE):
            for row in rows:
                try:
                    if None in row:
                        raise _null_error(row, names, dtypes)
                    if string_columns:
                        row = list(row)
                        for index in string_columns:
                            row[index] = _to_bytes(row[index])
                    element = build(row)
                except ValueError as error:
                    raise ValueError(
                        f"Row {number} of the query {query!r} on {source} (columns {names}): "
                        f"{error}."
                    ) from None
                yield element[0] if single else element
                number += 1
    finally:
        if cursor is not None:
            cursor.close()
        if connection is not driver:
            connection.close()


def _open_sqlite(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The SQLite database file {path!r} does not exist.")
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    # The generator may be advanced and closed from different threads (prefetching); it is
    # only ever used by one thread at a time.
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def _to_bytes(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8")


def _null_error(row, names, dtypes):
    index = row.index(None)
    return ValueError(
        f"column {index} ({names[index]!r}) is NULL, but output_types[{index}] is "
        f"{dtype_name(dtypes[index])}, which has no NULL"
    )
