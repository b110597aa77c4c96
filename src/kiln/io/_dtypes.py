"""Column types shared by the CSV, SQL and Example readers: dtype names and row-to-tensor building.

A column is either numeric (a torch dtype) or a string column, marked by :data:`STRING`, whose
values stay Python `bytes` as in a `TextLineDataset` line.
"""

import torch

from kiln.saving import registry

STRING = "string"

# What torch.tensor raises for a value that does not fit a dtype.
TENSOR_ERRORS = (RuntimeError, TypeError, ValueError, OverflowError)

_DTYPE_NAMES = {
    "string": STRING,
    "bool": torch.bool,
    "int32": torch.int32,
    "int64": torch.int64,
    "float32": torch.float32,
    "float64": torch.float64,
}


def resolve_dtype(dtype, allowed, argument):
    """Returns :data:`STRING` or a torch dtype for a dtype name or a torch dtype.

    Args:
        dtype: a name such as ``"int64"`` or ``"string"``, or a torch dtype.
        allowed: the names this reader supports, e.g. ``("string", "int64", "float32")``.
        argument: what to call the value in an error message, e.g. ``"output_types[2]"``.

    Raises:
        ValueError: for an unknown name or a dtype outside `allowed`.
    """
    table = {name: _DTYPE_NAMES[name] for name in allowed}
    if isinstance(dtype, str):
        return registry.resolve(dtype, table, f"dtype for {argument}")
    if isinstance(dtype, torch.dtype) and dtype in table.values():
        return dtype
    raise ValueError(
        f"Invalid {argument}: expected one of the dtypes {', '.join(allowed)} (a name or a torch "
        f"dtype), but received {dtype!r}."
    )


def dtype_name(dtype):
    """Returns the name of :data:`STRING` or a torch dtype, e.g. ``"float32"``."""
    return dtype if dtype == STRING else str(dtype).removeprefix("torch.")


class RowTensors:
    """Turns one row of Python values into a tuple of 0-d tensors, string columns kept as bytes.

    Columns of one dtype become a single tensor that is then unbound, which costs about a third
    of building one tensor per column.

    Args:
        dtypes: the dtype of each column, :data:`STRING` or a torch dtype.
    """

    def __init__(self, dtypes):
        self._dtypes = tuple(dtypes)
        numeric = sorted({dtype for dtype in self._dtypes if dtype != STRING}, key=str)
        self._single_dtype = (
            numeric[0] if len(numeric) == 1 and STRING not in self._dtypes else None
        )
        self._groups = tuple(
            (
                dtype,
                tuple(i for i, column_dtype in enumerate(self._dtypes) if column_dtype == dtype),
            )
            for dtype in numeric
        )

    def __call__(self, values):
        """Returns the tuple of tensors (and bytes) for `values`, one Python value per column.

        Raises:
            ValueError: naming the column when a value does not fit its dtype.
        """
        try:
            if self._single_dtype is not None:
                return torch.tensor(values, dtype=self._single_dtype).unbind()
            row = list(values)
            for dtype, positions in self._groups:
                tensors = torch.tensor([values[i] for i in positions], dtype=dtype).unbind()
                for position, tensor in zip(positions, tensors):
                    row[position] = tensor
            return tuple(row)
        except TENSOR_ERRORS:
            raise self._value_error(values) from None

    def columns(self, rows):
        """Returns one 1-D tensor (or list of bytes) per column for a list of value rows."""
        columns = list(zip(*rows)) if rows else [()] * len(self._dtypes)
        try:
            return [
                list(column) if dtype == STRING else torch.tensor(column, dtype=dtype)
                for dtype, column in zip(self._dtypes, columns)
            ]
        except TENSOR_ERRORS:
            for index, row in enumerate(rows):
                try:
                    self(row)
                except ValueError as error:
                    raise ValueError(f"row {index}, {error}") from None
            raise

    def _value_error(self, values):
        for index, (dtype, value) in enumerate(zip(self._dtypes, values)):
            if dtype == STRING:
                continue
            try:
                torch.tensor(value, dtype=dtype)
            except TENSOR_ERRORS:
                return ValueError(
                    f"column {index}: value {value!r} does not fit the column dtype "
                    f"{dtype_name(dtype)}"
                )
        return ValueError(f"values {values!r} do not fit the column dtypes")
