"""CSV decoding into tensors: `decode_csv` for lines, `iterate_csv` for whole files.

Column types come from the record defaults, as in TensorFlow: a float default gives a float32
column, an int an int64 column, a str or bytes a string column (values stay `bytes`); a tensor
default gives its own dtype (float32, float64, int32 or int64). An empty default (``[]`` or
``torch.tensor([])``, float32) makes the field required; so does a type (``float``, ``int``,
``str``, ``bytes``) or a torch dtype given instead of a value.

Text is handled internally as Latin-1, which maps each byte to one character: splitting and the
standard library's `csv` parser then work on any bytes, and string fields come back as the
exact bytes of the input (UTF-8 text stays UTF-8).

Speed: `decode_csv` runs once per line in the book's pipeline, so a record whose columns all
share one numeric dtype (the book's case), with no quotes and no missing field, takes a fast
path: the bytes are split and converted by the builtins `float` / `int` straight into an
`array.array`, which becomes one tensor (`torch.frombuffer`, no copy) unbound into the column
values. A list of such records (a chunk of lines in a vectorized `map`, see
`kiln.data.vectorize`) is converted in one go into a ``(records, columns)`` tensor: by pandas' C
parser when pandas >= 3 is installed and the chunk is long (its float64 values are those of
`float`, 7x faster), else by `float` over the joined fields.
Anything else (or anything the fast path cannot convert) goes through the general path, which
gives the same values and names the faulty field in its errors.
"""

import array
import csv
import io
import operator
import os

import torch

from kiln.io._dtypes import STRING, RowTensors, dtype_name
from kiln.io.tfrecord import (
    DECOMPRESSION_ERRORS,
    DataLossError,
    compression_type_string,
    open_compressed,
)

_CSV_DTYPES = (torch.float32, torch.float64, torch.int32, torch.int64)
_NUMPY_FLOATS = {torch.float32: "float32", torch.float64: "float64"}
_REQUIRED = object()
_CONVERTERS = {
    STRING: lambda field: field.encode("latin-1"),
    torch.float32: float,
    torch.float64: float,
    torch.int32: int,
    torch.int64: int,
}
_TYPE_DTYPES = {float: torch.float32, int: torch.int64, str: STRING, bytes: STRING}
# `array.array` type codes of the dtypes a record of one numeric dtype is read into (those whose
# C type has the dtype's size on this platform).
_ARRAY_TYPECODES = {
    dtype: code
    for dtype, code in ((torch.float32, "f"), (torch.float64, "d"), (torch.int32, "i"),
                        (torch.int64, "q"))
    if array.array(code).itemsize == dtype.itemsize
}
# What a fast-path conversion raises on a field it cannot take (the general path then explains).
_FAST_PATH_ERRORS = (ValueError, OverflowError, IndexError)
# decode_csv runs once per line, usually with equal defaults rebuilt on each call (as in the
# book's parse_csv_line): it reuses the decoders built for the same defaults and options.
_DECODERS = {}
_MAX_CACHED_DECODERS = 64
# The defaults, options and decoder of the last call whose defaults are all immutable values or
# empty tensors: the next call with the same objects (or new empty tensors of the same dtypes,
# as the book's parse_csv_line makes) reuses the decoder without building the cache key.
_last_call = ((), None, None)
_IMMUTABLE_DEFAULT_TYPES = (float, int, str, bytes, type, torch.dtype)


class CsvDecoder:
    """Decodes CSV records into tensors with fixed column types; what `decode_csv` uses.

    Build one decoder and call it on every line: the record defaults are checked once.

    Args:
        record_defaults: one default per output column (see the module docstring).
        field_delim: the one-character field separator.
        use_quote_delim: whether double quotes delimit fields (``"a,b"`` is one field, ``""``
            inside quotes is a quote); if False, quotes are ordinary characters.
        na_value: the field text that counts as missing (default: an empty field).
        select_cols: sorted indices of the columns to keep, one per record default; None keeps
            all columns and then every record must have exactly ``len(record_defaults)`` fields.

    Example:

    >>> decode = kiln.io.CsvDecoder([0.0, 0, ""])
    >>> decode("1.5,2,abc")
    [tensor(1.5000), tensor(2), b'abc']
    """

    def __init__(
        self, record_defaults, field_delim=",", use_quote_delim=True, na_value="", select_cols=None
    ):
        if not isinstance(record_defaults, (list, tuple)) or not record_defaults:
            raise ValueError(
                "Invalid record_defaults: expected a non-empty list, but received "
                f"{record_defaults!r}."
            )
        if not isinstance(field_delim, str) or len(field_delim) != 1 or field_delim in '"\r\n':
            raise ValueError(
                "Invalid field_delim: expected one character other than a quote or a newline, but "
                f"received {field_delim!r}."
            )
        if not isinstance(na_value, str):
            raise ValueError(f"Invalid na_value: expected a str, but received {na_value!r}.")
        columns = [_column(default, index) for index, default in enumerate(record_defaults)]
        self._dtypes = tuple(dtype for dtype, _ in columns)
        self._defaults = tuple(default for _, default in columns)
        self._converters = tuple(_CONVERTERS[dtype] for dtype in self._dtypes)
        self._select_cols = _check_select_cols(select_cols, len(columns))
        self._pick = operator.itemgetter(*self._select_cols) if self._select_cols else None
        self._min_fields = self._select_cols[-1] + 1 if self._select_cols else len(columns)
        self._delimiter = field_delim
        self._quote = '"' if use_quote_delim else None
        self._na_value = na_value
        self._fast = na_value == "" and STRING not in self._dtypes
        self._row = RowTensors(self._dtypes)
        self._delimiter_bytes = field_delim.encode("latin-1", errors="replace")
        self._quote_bytes = b'"' if use_quote_delim else None
        single_dtype = self._dtypes[0] if len(set(self._dtypes)) == 1 else None
        self._typecode = (
            _ARRAY_TYPECODES.get(single_dtype) if self._fast and ord(field_delim) < 256 else None
        )
        self._dialect = {
            "delimiter": field_delim,
            "quotechar": '"',
            "quoting": csv.QUOTE_MINIMAL if use_quote_delim else csv.QUOTE_NONE,
            "strict": True,
        }

    def __call__(self, records):
        """Decodes one record (str or bytes) or a list of them.

        Returns:
            A list with one value per column: 0-d tensors (bytes for strings) for one record,
            1-D tensors (lists of bytes) for a list of records.
        """
        if isinstance(records, (str, bytes)):
            if self._typecode is not None:
                values = self._fast_values(records)
                if values is not None:
                    return list(torch.frombuffer(values, dtype=self._dtypes[0]).unbind())
            return list(self.decode_fields(self._split(records), _Record(records)))
        rows_of = getattr(records, "rows_of", None)
        if rows_of is not None:  # one record of a chunk, in a vectorized map (kiln.data)
            return rows_of(self(records.strings))
        if not isinstance(records, (list, tuple)):
            raise ValueError(
                "Invalid records: expected a str, bytes or a list of them, but received "
                f"{records!r}."
            )
        if self._typecode is not None and self._pick is None:
            table = self._fast_table(records)
            if table is not None:
                return list(table.unbind(1))
        rows = [self._values(self._split(record), _Record(record)) for record in records]
        try:
            return self._row.columns(rows)
        except ValueError as error:
            raise ValueError(f"Cannot decode the CSV records: {error}.") from None

    def decode_fields(self, fields, where):
        """Converts the text fields of one record to a tuple of 0-d tensors (bytes for strings).

        Args:
            fields: the record's fields as Latin-1 text, as split by the CSV rules.
            where: names the record in error messages, e.g. ``"'data.csv', line 3"``.

        Raises:
            ValueError: for a wrong number of fields, a missing required field or a field that
                is not a number of its column's type, naming the field and `where`.
        """
        values = self._values(fields, where)
        try:
            return self._row(values)
        except ValueError as error:
            raise ValueError(f"Cannot decode {where}: {error}.") from None

    def read_file(self, path, compression_type=None, header=False):
        """Yields the records of a CSV file as tuples of tensors; see `iterate_csv`."""
        compression_type = compression_type_string(compression_type)
        return self._file_rows(os.fspath(path), compression_type, header)

    def _file_rows(self, path, compression_type, header):
        with open_compressed(path, compression_type) as binary:
            reader = csv.reader(
                io.TextIOWrapper(binary, encoding="latin-1", newline=""), **self._dialect
            )
            try:
                if header:
                    next(reader, None)
                for fields in reader:
                    if fields:
                        yield self.decode_fields(fields, _Line(path, reader.line_num))
            except csv.Error as error:
                raise ValueError(
                    f"Malformed CSV in {path!r}, line {reader.line_num}: {error}."
                ) from None
            except DECOMPRESSION_ERRORS as error:
                raise DataLossError(
                    f"Cannot read the {compression_type} stream of {path!r} after line "
                    f"{reader.line_num}: {error}",
                    path,
                ) from None

    def _fast_values(self, record):
        """Returns the record's values as an `array.array` of the column dtype, or None when the
        record needs the general path (quotes, a missing or invalid field, a wrong count)."""
        if type(record) is not bytes:
            record = record.encode("utf-8") if isinstance(record, str) else record
            if type(record) is not bytes:
                return None
        if self._quote_bytes is not None and self._quote_bytes in record:
            return None
        fields = record.split(self._delimiter_bytes)
        try:
            if self._pick is not None:
                fields = self._pick(fields) if len(self._dtypes) > 1 else (self._pick(fields),)
            elif len(fields) != len(self._dtypes):
                return None
            return array.array(self._typecode, map(self._converters[0], fields))
        except _FAST_PATH_ERRORS:
            return None

    def _fast_table(self, records):
        """Returns the records' values as one ``(records, columns)`` tensor, or None when some
        record needs the general path (see `_fast_values`)."""
        if self._dtypes[0].is_floating_point and len(records) >= 64:
            table = _pandas_table(records, self._delimiter, len(self._dtypes))
            if table is not None:
                return torch.from_numpy(table.astype(_NUMPY_FLOATS[self._dtypes[0]]))
        if not records or not all(type(record) is bytes for record in records):
            return None
        delimiter = self._delimiter_bytes
        joined = delimiter.join(records)
        separators = len(self._dtypes) - 1
        if (self._quote_bytes is not None and self._quote_bytes in joined) or any(
            record.count(delimiter) != separators for record in records
        ):
            return None
        try:
            values = array.array(self._typecode, map(self._converters[0], joined.split(delimiter)))
        except _FAST_PATH_ERRORS:
            return None
        return torch.frombuffer(values, dtype=self._dtypes[0]).view(len(records), -1)

    def _values(self, fields, where):
        if len(fields) != len(self._dtypes) and (
            self._pick is None or len(fields) < self._min_fields
        ):
            expected = len(self._dtypes) if self._pick is None else f"at least {self._min_fields}"
            raise ValueError(f"Expected {expected} fields but received {len(fields)} in {where}.")
        if self._pick is not None:
            fields = self._pick(fields)
            if len(self._dtypes) == 1:
                fields = (fields,)
        if self._fast:
            try:
                return [convert(field) for convert, field in zip(self._converters, fields)]
            except ValueError:
                pass
        return [self._value(index, field, where) for index, field in enumerate(fields)]

    def _split(self, record):
        if isinstance(record, bytes):
            text = record.decode("latin-1")
        elif isinstance(record, str):
            text = record.encode("utf-8").decode("latin-1")
        else:
            raise ValueError(f"Invalid CSV record: expected str or bytes, but received {record!r}.")
        if self._quote is not None and self._quote in text:
            try:
                return next(csv.reader([text], **self._dialect))
            except csv.Error as error:
                raise ValueError(f"Malformed CSV record {record!r}: {error}.") from None
        return text.split(self._delimiter)

    def _value(self, index, field, where):
        column = self._select_cols[index] if self._select_cols else index
        if field == self._na_value:
            default = self._defaults[index]
            if default is _REQUIRED:
                raise ValueError(f"Field {column} is required but missing in {where}.")
            return default
        try:
            return self._converters[index](field)
        except ValueError:
            raise ValueError(
                f"Field {column} in {where} is not a valid {dtype_name(self._dtypes[index])}: "
                f"{field.encode('latin-1')!r}."
            ) from None


def _pandas_table(records, delimiter, columns):
    """Parses records of `columns` numbers with pandas' C parser (7x faster than `float` per
    field, with the same float64 values from pandas 3 on), or returns None: no pandas >= 3, or
    some field is not a plain number."""
    try:
        import pandas
    except ImportError:
        return None
    if int(pandas.__version__.split(".")[0]) < 3:
        return None
    try:
        text = b"\n".join(records)
    except TypeError:  # str records: the general path
        return None
    if any(character in text for character in (b" ", b"\t", b"\r", b'"')):
        return None
    try:
        table = pandas.read_csv(io.BytesIO(text), sep=delimiter, header=None, dtype="float64",
                                engine="c", names=range(columns), na_filter=False).to_numpy()
    except (ValueError, pandas.errors.ParserError):
        return None
    # a record with a missing or extra field raised; an empty record was skipped
    return table if table.shape == (len(records), columns) else None


def decode_csv(
    records, record_defaults, field_delim=",", use_quote_delim=True, na_value="", select_cols=None
):
    """Converts CSV records to tensors, one per column, like `tf.io.decode_csv`.

    Args:
        records: one record (str or bytes), or a list of records.
        record_defaults: one default per output column; its type sets the column's type (float
            → float32, int → int64, str/bytes → bytes, a tensor → its dtype). An empty default
            (``[]``, ``torch.tensor([])``) makes the field required.
        field_delim: the one-character field separator.
        use_quote_delim: whether double quotes delimit fields.
        na_value: the field text that counts as missing (default: an empty field).
        select_cols: sorted indices of the columns to keep, one per record default.

    Returns:
        A list with one value per column: 0-d tensors (bytes for strings) for one record, 1-D
        tensors (lists of bytes) for a list of records.

    Raises:
        ValueError: for a record with the wrong number of fields (naming expected and received),
            a missing required field or a malformed value (naming the field index and the record).

    Example:

    >>> n_inputs = 8
    >>> defs = [0.0] * n_inputs + [torch.tensor([])]
    >>> fields = kiln.io.decode_csv("1,2,3,4,5,6,7,8,9", record_defaults=defs)
    >>> x, y = torch.stack(fields[:-1]), torch.stack(fields[-1:])
    >>> y
    tensor([9.])
    """
    global _last_call
    options = (field_delim, use_quote_delim, na_value, select_cols)
    last_defaults, last_options, decoder = _last_call
    if select_cols is not None or options != last_options or not _same_defaults(
        record_defaults, last_defaults
    ):
        decoder = _cached_decoder(record_defaults, options)
        if select_cols is None and _memorable(record_defaults):
            _last_call = (tuple(record_defaults), options, decoder)
    return decoder(records)


def iterate_csv(
    path,
    record_defaults,
    compression_type=None,
    header=False,
    field_delim=",",
    use_quote_delim=True,
    na_value="",
    select_cols=None,
):
    """Yields the records of a CSV file as tuples of tensors, like TensorFlow's `CsvDataset`.

    Quoted fields may contain the delimiter and newlines. Blank lines are skipped.

    Args:
        path: the file to read.
        record_defaults: one default per output column, as in `decode_csv`.
        compression_type: ``"GZIP"``, ``"ZLIB"``, or ``""`` / None.
        header: whether the first line is a header to skip.
        field_delim, use_quote_delim, na_value, select_cols: as in `decode_csv`.

    Returns:
        A generator of tuples with one 0-d tensor (bytes for strings) per column. The file is
        opened when the first record is asked for.

    Raises:
        ValueError: (while iterating) for a malformed record, naming the file and line.

    Example:

    >>> for x0, x1, label in kiln.io.iterate_csv("data.csv", [0.0, 0.0, 0], header=True):
    ...     ...
    """
    decoder = CsvDecoder(record_defaults, field_delim, use_quote_delim, na_value, select_cols)
    return decoder.read_file(path, compression_type, header)


class _Record:
    """Names a CSV record in error messages; formatted only when an error is raised."""

    __slots__ = ("record",)

    def __init__(self, record):
        self.record = record

    def __str__(self):
        return f"CSV record {self.record!r}"


class _Line:
    """Names a line of a CSV file in error messages; formatted only when an error is raised."""

    __slots__ = ("line", "path")

    def __init__(self, path, line):
        self.path = path
        self.line = line

    def __str__(self):
        return f"{self.path!r}, line {self.line}"


def _cached_decoder(record_defaults, options):
    """Returns the decoder for these defaults and options, built once per equal cache key."""
    key = _cache_key(record_defaults, options)
    decoder = _DECODERS.get(key) if key is not None else None
    if decoder is None:
        decoder = CsvDecoder(record_defaults, *options)
        if key is not None:
            if len(_DECODERS) >= _MAX_CACHED_DECODERS:
                _DECODERS.clear()
            _DECODERS[key] = decoder
    return decoder


def _memorable(record_defaults):
    """Whether `_same_defaults` can later recognize these defaults by identity."""
    return type(record_defaults) in (list, tuple) and all(
        type(default) in _IMMUTABLE_DEFAULT_TYPES
        or (type(default) is torch.Tensor and not default.numel())
        for default in record_defaults
    )


def _same_defaults(record_defaults, memorized):
    """Whether `record_defaults` define the columns the `_memorable` defaults `memorized` do:
    the same immutable objects, and empty tensors of the same dtypes."""
    if type(record_defaults) not in (list, tuple) or len(record_defaults) != len(memorized):
        return False
    for default, known in zip(record_defaults, memorized):
        if type(default) is torch.Tensor:
            if type(known) is not torch.Tensor or default.dtype != known.dtype or default.numel():
                return False
        elif default is not known:
            return False
    return True


def _cache_key(record_defaults, options):
    """Returns a hashable key equal for equal defaults and options, or None to skip the cache."""
    if type(record_defaults) not in (list, tuple):
        return None
    default_keys = []
    for default in record_defaults:
        kind = type(default)
        if kind is float:
            default_keys.append(default.hex())  # tells 0.0 from -0.0, and equal for nan
        elif kind in (int, str, bytes, type, torch.dtype):
            default_keys.append((kind, default))
        elif kind is torch.Tensor and default.numel() <= 1:
            value = default.item() if default.numel() else None
            default_keys.append((default.dtype, value.hex() if type(value) is float else value))
        elif kind in (list, tuple) and not default:
            default_keys.append(list)
        else:
            return None
    select_cols = options[-1]
    try:
        key = (
            *options[:-1],
            None if select_cols is None else tuple(select_cols),
            tuple(default_keys),
        )
        hash(key)
    except TypeError:
        return None
    return key


def _column(default, index):
    """Returns the (dtype, default value or _REQUIRED) of a record default."""
    if isinstance(default, type) and default in _TYPE_DTYPES:
        return _TYPE_DTYPES[default], _REQUIRED
    if isinstance(default, torch.dtype) and default in _CSV_DTYPES:
        return default, _REQUIRED
    if isinstance(default, (list, tuple)) and len(default) <= 1:
        return _column(default[0], index) if default else (torch.float32, _REQUIRED)
    if isinstance(default, str):
        return STRING, default.encode("utf-8")
    if isinstance(default, bytes):
        return STRING, default
    if isinstance(default, float):
        return torch.float32, default
    if isinstance(default, int) and not isinstance(default, bool):
        return torch.int64, default
    if hasattr(default, "dtype") and hasattr(default, "shape") and not isinstance(default, type):
        tensor = torch.as_tensor(default)
        if tensor.dtype in _CSV_DTYPES and tensor.numel() == 0:
            return tensor.dtype, _REQUIRED
        if tensor.dtype in _CSV_DTYPES and tensor.numel() == 1:
            return tensor.dtype, tensor.item()
    raise ValueError(
        f"Invalid record_defaults[{index}]: expected a float, int, str or bytes default, a tensor "
        "of at most one float32, float64, int32 or int64 value, an empty list (a required float "
        f"field), or one of the types float, int, str, bytes, but received {default!r}."
    )


def _check_select_cols(select_cols, num_columns):
    if select_cols is None:
        return None
    if (
        not isinstance(select_cols, (list, tuple))
        or len(select_cols) != num_columns
        or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in select_cols)
        or list(select_cols) != sorted(set(select_cols))
    ):
        raise ValueError(
            f"Invalid select_cols: expected {num_columns} increasing non-negative column indices "
            f"(one per record default), but received {select_cols!r}."
        )
    return tuple(select_cols)
