"""Datasets read from files and databases: TextLineDataset, TFRecordDataset, CsvDataset,
SqlDataset.

Files are opened when iterated, not when the dataset is built, one after the other (or several
at once with `num_parallel_reads`, their elements interleaved in a fixed order). The formats
themselves live in `kiln.io`; these classes make datasets of them.
"""

import os

from kiln.data.dataset import UNKNOWN_CARDINALITY, Dataset
from kiln.io.csv import iterate_csv
from kiln.io.sql import iterate_sql
from kiln.io.tfrecord import DECOMPRESSION_ERRORS, iterate_records, open_compressed

_COMPRESSIONS = {None: None, "": None, "GZIP": "GZIP", "ZLIB": "ZLIB"}


class FileDataset(Dataset):
    """Base of the datasets made of the elements of one or more files; subclasses implement
    `_read_file(path)`.

    Args:
        filenames: a path (str, bytes or `os.PathLike`) or a list of paths.
        compression_type: None (or ""), "GZIP" or "ZLIB".
        num_parallel_reads: optional number of files read at once on background threads.
    """

    def __init__(self, filenames, compression_type=None, num_parallel_reads=None):
        single = isinstance(filenames, (str, bytes, os.PathLike))
        paths = [filenames] if single else filenames
        if not isinstance(paths, (list, tuple)) or not paths or not all(
                isinstance(path, (str, bytes, os.PathLike)) for path in paths):
            raise ValueError(f"`filenames` must be a path or a non-empty list of paths, but "
                             f"received filenames={filenames!r}.")
        if compression_type not in _COMPRESSIONS:
            raise ValueError(f"`compression_type` must be None, 'GZIP' or 'ZLIB', but received "
                             f"compression_type={compression_type!r}.")
        self._paths = [os.fsdecode(path) for path in paths]
        self._compression = _COMPRESSIONS[compression_type]
        self._parallel = None
        if num_parallel_reads is not None and len(self._paths) > 1:
            self._parallel = Dataset.from_tensor_slices(self._paths).interleave(
                self._for_one_file, cycle_length=num_parallel_reads,
                num_parallel_calls=num_parallel_reads)

    def _for_one_file(self, path):
        """The same dataset, for one of the files (what `num_parallel_reads` interleaves)."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__, _paths=[os.fsdecode(path)], _parallel=None)
        return clone

    def _iterate(self, context):
        if self._parallel is not None:
            return self._parallel._iterate(context)
        if len(self._paths) == 1:
            return self._read_file(self._paths[0])
        return (element for path in self._paths for element in self._read_file(path))

    def _read_file(self, path):
        raise NotImplementedError  # abstract: each file format reads its own elements

    def _cardinality(self):
        return UNKNOWN_CARDINALITY

    def _describe(self):
        names = self._paths if len(self._paths) <= 3 else self._paths[:2] + ["..."]
        return f"{type(self).__name__}({', '.join(names)})"


def _lines(stream, block_size=1 << 20):
    """Yields the lines of a binary stream without ``\n`` / ``\r\n``, split a block at a time
    (a C-level split, rather than one Python call per line)."""
    rest = b""
    while block := stream.read(block_size):
        text = rest + block
        lines = text.split(b"\n")
        rest = lines.pop()
        if b"\r" in text:
            lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        yield from lines
    if rest:
        yield rest


class TextLineDataset(FileDataset):
    """A dataset of the lines of one or more text files, as bytes without the line ending.

    Lines are `bytes` without ``\\n`` / ``\\r\\n``, as `tf.data` gives them: decoding (UTF-8, CSV
    fields with `kiln.io.decode_csv`) belongs to whoever reads them.

    Args:
        filenames: a path or a list of paths, read one after the other.
        compression_type: None (or ""), "GZIP" or "ZLIB".
        buffer_size: accepted for compatibility with `tf.data` (reads are buffered).
        num_parallel_reads: optional number of files read at once; their lines are then
            interleaved one at a time (in a fixed order).

    Raises:
        FileNotFoundError: (while iterating) for a missing file; the message names it.
        ValueError: (while iterating) for a corrupt compressed file, naming it.

    Example:

    >>> dataset = kiln.data.TextLineDataset("my_train_00.csv").skip(1)  # skip the header
    """

    def __init__(self, filenames, compression_type=None, buffer_size=None,
                 num_parallel_reads=None):
        super().__init__(filenames, compression_type, num_parallel_reads)

    def _read_file(self, path):
        try:
            stream = open_compressed(path, self._compression)
        except FileNotFoundError:
            raise FileNotFoundError(f"TextLineDataset: no such file: {path!r}") from None
        with stream:
            try:
                yield from _lines(stream)
            except (OSError, *DECOMPRESSION_ERRORS) as error:
                raise ValueError(f"TextLineDataset: cannot read {path!r} as "
                                 f"{self._compression or 'plain text'}: {error}") from None


class TFRecordDataset(FileDataset):
    """A dataset of the records of TFRecord files (bytes each), written by TensorFlow or by
    `kiln.io.TFRecordWriter`; every record's CRC is checked.

    Args:
        filenames: a path or a list of paths.
        compression_type: None (or ""), "GZIP" or "ZLIB".
        buffer_size: read buffer size in bytes (default 256 KiB).
        num_parallel_reads: optional number of files read at once.

    Example:

    >>> for item in kiln.data.TFRecordDataset(["my_data.tfrecord"]):
    ...     print(item)
    """

    def __init__(self, filenames, compression_type=None, buffer_size=None,
                 num_parallel_reads=None):
        super().__init__(filenames, compression_type, num_parallel_reads)
        self._buffer_size = buffer_size

    def _read_file(self, path):
        return iterate_records(path, self._compression, self._buffer_size)


class CsvDataset(FileDataset):
    """A dataset of the records of CSV files, each a tuple of tensors typed by its default.

    Args:
        filenames: a path or a list of paths.
        record_defaults: one default per output column, as in `kiln.io.decode_csv` (an empty
            default makes the column required).
        compression_type: None (or ""), "GZIP" or "ZLIB".
        header: whether each file's first line is a header to skip.
        field_delim, use_quote_delim, na_value, select_cols: as in `kiln.io.decode_csv`.

    Example:

    >>> dataset = kiln.data.CsvDataset("housing.csv", [0.0] * 9, header=True)
    """

    def __init__(self, filenames, record_defaults, compression_type=None, header=False,
                 field_delim=",", use_quote_delim=True, na_value="", select_cols=None):
        super().__init__(filenames, compression_type)
        self._options = dict(record_defaults=record_defaults, header=header,
                             field_delim=field_delim, use_quote_delim=use_quote_delim,
                             na_value=na_value, select_cols=select_cols)

    def _read_file(self, path):
        return iterate_csv(path, compression_type=self._compression, **self._options)


class SqlDataset(Dataset):
    """A dataset of the rows of an SQL query (the book's "reading from SQL databases").

    Args:
        driver: ``"sqlite"`` (standard library) or an open DB-API connection.
        data_source_name: the SQLite file; None with a connection.
        query: the SQL query; it runs again on every iteration.
        output_types: the dtype of each column (``"string"``, ``"int64"``, ``"float32"``, ...).

    Example:

    >>> dataset = kiln.data.SqlDataset("sqlite", "my.db", "SELECT name, age FROM people",
    ...                                ("string", "int64"))
    """

    def __init__(self, driver, data_source_name, query, output_types):
        self._arguments = (driver, data_source_name, query, output_types)
        iterate_sql(*self._arguments)  # checks the arguments now; runs the query when iterated

    def _iterate(self, context):
        return iterate_sql(*self._arguments)

    def _cardinality(self):
        return UNKNOWN_CARDINALITY

    def _describe(self):
        return f"SqlDataset({self._arguments[2]!r})"
