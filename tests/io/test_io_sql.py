"""Tests for kiln.io.sql: query rows as tensors from a real SQLite file and a DB-API connection."""

import sqlite3

import pytest
import torch

from kiln import io as kio


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "people.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE people (name TEXT, age INTEGER, height REAL, photo BLOB)")
    connection.executemany(
        "INSERT INTO people VALUES (?, ?, ?, ?)",
        [("Alice", 42, 1.75, b"\x00\x01"), ("Bob", 7, 1.2, b""), ("Zoë", 30, 1.6, None)],
    )
    connection.commit()
    connection.close()
    return path


def test_rows_of_a_sqlite_file(database):
    rows = list(
        kio.iterate_sql(
            "sqlite",
            str(database),
            "SELECT name, age, height FROM people ORDER BY age",
            ("string", "int64", "float32"),
        )
    )
    assert [row[0] for row in rows] == [b"Bob", "Zoë".encode("utf-8"), b"Alice"]
    ages = torch.stack([row[1] for row in rows])
    heights = torch.stack([row[2] for row in rows])
    assert ages.dtype == torch.int64 and torch.equal(ages, torch.tensor([7, 30, 42]))
    assert heights.dtype == torch.float32 and torch.equal(heights, torch.tensor([1.2, 1.6, 1.75]))


def test_mixed_and_single_output_types(database):
    query = "SELECT age, height, age > 10, photo FROM people WHERE photo IS NOT NULL ORDER BY name"
    rows = list(
        kio.iterate_sql("sqlite", database, query, [torch.int32, "float64", "bool", "string"])
    )
    assert rows[0][0].dtype == torch.int32 and rows[0][0].item() == 42
    assert rows[0][1].dtype == torch.float64 and rows[0][1].item() == 1.75
    assert rows[0][2].item() is True and rows[1][2].item() is False
    assert rows[0][3] == b"\x00\x01" and rows[1][3] == b""
    ages = list(kio.iterate_sql("sqlite", database, "SELECT age FROM people ORDER BY age", "int64"))
    assert [age.item() for age in ages] == [7, 30, 42] and ages[0].shape == ()


def test_any_db_api_connection_and_reiteration():
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (x REAL, label TEXT)")
    connection.executemany("INSERT INTO t VALUES (?, ?)", [(i / 2, str(i)) for i in range(600)])
    for _ in range(2):  # a new query on each iteration, as for a new epoch
        rows = list(
            kio.iterate_sql(connection, None, "SELECT x, label FROM t", ("float32", "string"))
        )
        assert len(rows) == 600
        assert torch.equal(torch.stack([row[0] for row in rows]), torch.arange(600) / 2)
        assert rows[599][1] == b"599"
    assert connection.execute("SELECT COUNT(*) FROM t").fetchone() == (600,)  # left open


def test_null_and_wrong_column_counts_name_the_row_and_column(database):
    query = "SELECT name, photo FROM people ORDER BY age"
    rows = kio.iterate_sql("sqlite", database, query, ("string", "string"))
    next(rows)
    with pytest.raises(
        ValueError, match=r"Row 1 of the query .*column 1 \('photo'\) is NULL.*string"
    ):
        next(rows)
    with pytest.raises(ValueError, match=r"returns 2 columns \['name', 'photo'\].*has 3 dtypes"):
        list(kio.iterate_sql("sqlite", database, query, ("string", "string", "int64")))
    with pytest.raises(ValueError, match="Row 0 .*column 0: value 'Alice' does not fit .*int64"):
        list(
            kio.iterate_sql("sqlite", database, "SELECT name FROM people ORDER BY name", ("int64",))
        )


def test_bad_queries_drivers_and_files(database, tmp_path):
    with pytest.raises(
        ValueError,
        match="The query 'SELECT \\* FROM nobody' failed on the SQLite database .*no such table",
    ):
        list(kio.iterate_sql("sqlite", database, "SELECT * FROM nobody", ("string",)))
    with pytest.raises(ValueError, match="Unknown SQL driver: 'mysql'.*sqlite"):
        kio.iterate_sql("mysql", "db", "SELECT 1", ("int64",))
    with pytest.raises(ValueError, match=r"output_types\[1\].*'float16'"):
        kio.iterate_sql("sqlite", database, "SELECT 1, 2", ("int64", "float16"))
    with pytest.raises(ValueError, match="data_source_name: expected None"):
        kio.iterate_sql(sqlite3.connect(":memory:"), "db", "SELECT 1", ("int64",))
    missing = tmp_path / "missing.sqlite"
    with pytest.raises(FileNotFoundError, match="missing.sqlite"):
        list(kio.iterate_sql("sqlite", missing, "SELECT 1", ("int64",)))
    assert not missing.exists()
    with pytest.raises(ValueError, match="read-?only|readonly"):
        list(
            kio.iterate_sql(
                "sqlite",
                database,
                "INSERT INTO people VALUES ('Eve', 1, 1.0, NULL) RETURNING age",
                "int64",
            )
        )
