"""`tf.train.Example` protocol buffers and their parsing into torch tensors.

The message classes `Example`, `Features`, `Feature`, `BytesList`, `FloatList`, `Int64List`,
`FeatureList`, `FeatureLists` and `SequenceExample` are wire-compatible with TensorFlow's: same
package (``tensorflow``), message names and field numbers as its ``example.proto`` and
``feature.proto``, so TensorFlow parses what kiln serializes and the other way round. They are
built at import time by the `protobuf` runtime (``pip install kiln[io]``) from a descriptor
declared below, in a private descriptor pool so that they never clash with TensorFlow's own
classes in the same process. They behave like any generated protobuf class:

>>> person = kiln.io.Example(features=kiln.io.Features(feature={
...     "name": kiln.io.Feature(bytes_list=kiln.io.BytesList(value=[b"Alice"])),
...     "id": kiln.io.Feature(int64_list=kiln.io.Int64List(value=[123])),
...     "emails": kiln.io.Feature(bytes_list=kiln.io.BytesList(value=[b"a@b.com", b"c@d.com"])),
... }))
>>> serialized = person.SerializeToString()
>>> kiln.io.Example.FromString(serialized) == person
True

`parse_single_example` and `parse_example` turn serialized examples into tensors, as described
by `FixedLenFeature` and `VarLenFeature`.
"""

import math

import torch

from kiln.io._dtypes import STRING, TENSOR_ERRORS, dtype_name, resolve_dtype

try:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf.message import DecodeError
except ImportError as error:
    raise ImportError(
        "kiln.io.Example and its parsing need the protobuf package: pip install 'kiln[io]'."
    ) from error


class FixedLenFeature:
    """Describes a feature with a fixed number of values, parsed into a dense tensor.

    Args:
        shape: the shape of the parsed value, e.g. ``[]`` for a scalar or ``[3]``.
        dtype: ``"string"``, ``"int64"`` or ``"float32"`` (or `torch.int64`, `torch.float32`).
        default_value: used when an example lacks the feature: a scalar (repeated to fill
            `shape`) or a nested list of `shape`. None makes the feature required.

    Example:

    >>> description = {
    ...     "name": kiln.io.FixedLenFeature([], "string", default_value=""),
    ...     "id": kiln.io.FixedLenFeature([], "int64", default_value=0),
    ... }
    """

    def __init__(self, shape, dtype, default_value=None):
        self.shape = _check_shape(shape)
        self.dtype = resolve_dtype(dtype, _DTYPES, "FixedLenFeature dtype")
        self.default_value = default_value
        self._kind = _KINDS[self.dtype]
        self._size = math.prod(self.shape)
        self._default = None if default_value is None else self._flat_default(default_value)

    def __repr__(self):
        return (
            f"FixedLenFeature(shape={list(self.shape)}, dtype={dtype_name(self.dtype)!r}, "
            f"default_value={self.default_value!r})"
        )

    def _flat_default(self, default_value):
        flat = _flatten(default_value)
        if len(flat) == 1:
            flat = flat * self._size
        if len(flat) != self._size:
            raise ValueError(
                f"Invalid default_value for a FixedLenFeature of shape {list(self.shape)}: "
                f"expected a scalar or {self._size} values, but received {default_value!r}."
            )
        if self.dtype == STRING:
            return [
                value.encode("utf-8") if isinstance(value, str) else bytes(value) for value in flat
            ]
        try:
            return torch.tensor(flat, dtype=self.dtype).tolist()
        except TENSOR_ERRORS as error:
            raise ValueError(
                f"Invalid default_value for a FixedLenFeature of dtype {dtype_name(self.dtype)}: "
                f"{default_value!r} ({error})."
            ) from None


class VarLenFeature:
    """Describes a feature with any number of values, parsed into a `SparseTensor`.

    Args:
        dtype: ``"string"``, ``"int64"`` or ``"float32"`` (or `torch.int64`, `torch.float32`).

    Example:

    >>> description = {"emails": kiln.io.VarLenFeature("string")}
    >>> parsed = kiln.io.parse_single_example(person.SerializeToString(), description)
    >>> parsed["emails"].values
    [b'a@b.com', b'c@d.com']
    """

    def __init__(self, dtype):
        self.dtype = resolve_dtype(dtype, _DTYPES, "VarLenFeature dtype")
        self._kind = _KINDS[self.dtype]

    def __repr__(self):
        return f"VarLenFeature(dtype={dtype_name(self.dtype)!r})"


class SparseTensor:
    """The values of a variable-length feature with their positions, like `tf.sparse.SparseTensor`.

    Args:
        indices: int64 tensor of shape ``(n, rank)``, the position of each value.
        values: a tensor of ``n`` values, or a list of ``n`` bytes for a string feature.
        dense_shape: int64 tensor of shape ``(rank,)``.

    Example:

    >>> parsed["emails"].to_dense(default_value=b"")
    [b'a@b.com', b'c@d.com']
    """

    def __init__(self, indices, values, dense_shape):
        self._indices = indices
        self.values = values
        self._dense_shape = dense_shape

    @classmethod
    def _full_vector(cls, values):
        """A 1-D SparseTensor with every position set; its indices are built only when read."""
        sparse = cls(None, values, None)
        sparse._length = len(values)
        return sparse

    @property
    def indices(self):
        """int64 tensor of shape ``(n, rank)``: the position of each value."""
        if self._indices is None:
            self._indices = torch.arange(self._length).unsqueeze(1)
        return self._indices

    @property
    def dense_shape(self):
        """int64 tensor of shape ``(rank,)``: the shape of the dense value."""
        if self._dense_shape is None:
            self._dense_shape = torch.tensor([self._length])
        return self._dense_shape

    @property
    def shape(self):
        """The dense shape as a tuple of ints."""
        if self._dense_shape is None:
            return (self._length,)
        return tuple(self._dense_shape.tolist())

    def to_dense(self, default_value=None):
        """Returns the dense value: a tensor, or nested lists of bytes for a string feature.

        Args:
            default_value: fills the positions without a value; defaults to 0, or ``b""`` for
                strings.
        """
        shape = self.shape
        if isinstance(self.values, torch.Tensor):
            dense = torch.full(
                shape, 0 if default_value is None else default_value, dtype=self.values.dtype
            )
            dense[tuple(self.indices.t())] = self.values
            return dense
        filler = b"" if default_value is None else default_value
        flat = [filler] * math.prod(shape)
        strides = torch.tensor([math.prod(shape[axis + 1 :]) for axis in range(len(shape))])
        for position, value in zip((self.indices * strides).sum(dim=1).tolist(), self.values):
            flat[position] = value
        return _reshape(flat, shape)

    def __repr__(self):
        return (
            f"SparseTensor(indices={self.indices}, values={self.values}, "
            f"dense_shape={self.dense_shape})"
        )


def sparse_to_dense(sp_input, default_value=None):
    """Returns the dense value of a `SparseTensor`, like `tf.sparse.to_dense`.

    Args:
        sp_input: a `SparseTensor`, e.g. a parsed `VarLenFeature`.
        default_value: fills the positions without a value; defaults to 0, or ``b""`` for strings.

    Example:

    >>> kiln.io.sparse_to_dense(parsed["emails"], default_value=b"")
    [b'a@b.com', b'c@d.com']
    """
    if not isinstance(sp_input, SparseTensor):
        raise ValueError(f"Invalid sp_input: expected a SparseTensor, but received {sp_input!r}.")
    return sp_input.to_dense(default_value)


def parse_single_example(serialized, features):
    """Parses one serialized `Example` into a dict of tensors, like `tf.io.parse_single_example`.

    Args:
        serialized: the bytes of one `Example`.
        features: dict mapping feature names to `FixedLenFeature` or `VarLenFeature`.

    Returns:
        A dict with the same keys: a tensor of the feature's shape for a numeric
        `FixedLenFeature` (bytes, or nested lists of bytes, for a string one), a `SparseTensor`
        for a `VarLenFeature`.

    Raises:
        ValueError: for bytes that are not an `Example`, a required feature that is missing, a
            feature of another type, or a number of values that does not fit the shape.

    Example:

    >>> description = {
    ...     "name": kiln.io.FixedLenFeature([], "string", default_value=""),
    ...     "id": kiln.io.FixedLenFeature([], "int64", default_value=0),
    ...     "emails": kiln.io.VarLenFeature("string"),
    ... }
    >>> parsed = kiln.io.parse_single_example(person.SerializeToString(), description)
    >>> parsed["name"], parsed["id"]
    (b'Alice', tensor(123))
    """
    _check_description(features)
    feature_map = _feature_map(serialized, "the serialized example")
    parsed = {}
    for key, spec in features.items():
        values = _values(feature_map, key, spec, "the example")
        if isinstance(spec, VarLenFeature):
            parsed[key] = SparseTensor._full_vector(_vector(values, spec.dtype))
        else:
            parsed[key] = _dense(_fixed_values(values, key, spec, "the example"), spec)
    return parsed


def parse_example(serialized, features):
    """Parses a batch of serialized `Example`s into a dict of batched tensors.

    Like `tf.io.parse_example`: use it after `batch()`, which is faster than parsing each
    example on its own.

    Args:
        serialized: a list (or tuple) of the bytes of several `Example`s.
        features: dict mapping feature names to `FixedLenFeature` or `VarLenFeature`.

    Returns:
        A dict with the same keys: a tensor of shape ``(batch_size, *shape)`` for a numeric
        `FixedLenFeature` (a list of per-example values for a string one), a `SparseTensor` with
        ``dense_shape`` ``(batch_size, longest)`` for a `VarLenFeature`.

    Raises:
        ValueError: as `parse_single_example`, naming the example's index in the batch.

    Example:

    >>> batch = [person.SerializeToString()] * 2
    >>> kiln.io.parse_example(batch, description)["id"]
    tensor([123, 123])
    """
    _check_description(features)
    if isinstance(serialized, (bytes, bytearray, str)) or not hasattr(serialized, "__len__"):
        raise ValueError(
            "Invalid serialized: expected a list of serialized examples (use "
            f"parse_single_example for one), but received {type(serialized).__name__}."
        )
    feature_maps = [
        _feature_map(example, f"serialized example {index}")
        for index, example in enumerate(serialized)
    ]
    batch_size = len(feature_maps)
    parsed = {}
    for key, spec in features.items():
        batch_values = [
            _values(feature_map, key, spec, f"example {index} of the batch")
            for index, feature_map in enumerate(feature_maps)
        ]
        if isinstance(spec, VarLenFeature):
            parsed[key] = _batched_sparse(batch_values, spec.dtype)
        elif spec.dtype == STRING:
            parsed[key] = [
                _dense(_fixed_values(values, key, spec, f"example {index} of the batch"), spec)
                for index, values in enumerate(batch_values)
            ]
        else:
            flat = []
            for index, values in enumerate(batch_values):
                flat.extend(_fixed_values(values, key, spec, f"example {index} of the batch"))
            parsed[key] = torch.tensor(flat, dtype=spec.dtype).reshape(batch_size, *spec.shape)
    return parsed


def _message_classes():
    """Builds the message classes from a descriptor written out field by field."""
    field = descriptor_pb2.FieldDescriptorProto
    optional, repeated = field.LABEL_OPTIONAL, field.LABEL_REPEATED

    def make_field(
        name, number, field_type, label=optional, type_name=None, packed=False, oneof=None
    ):
        proto = field(
            name=name, number=number, type=field_type, label=label, json_name=_camel(name)
        )
        if type_name is not None:
            proto.type_name = f".tensorflow.{type_name}"
        if packed:
            proto.options.packed = True
        if oneof is not None:
            proto.oneof_index = oneof
        return proto

    def make_message(name, fields, nested=(), oneofs=(), map_entry=False):
        message = descriptor_pb2.DescriptorProto(name=name, field=fields, nested_type=nested)
        for oneof in oneofs:
            message.oneof_decl.add(name=oneof)
        if map_entry:
            message.options.map_entry = True
        return message

    def make_map(owner, field_name, value_type):
        entry_name = _camel(field_name)[0].upper() + _camel(field_name)[1:] + "Entry"
        entry = make_message(
            entry_name,
            [
                make_field("key", 1, field.TYPE_STRING),
                make_field("value", 2, field.TYPE_MESSAGE, type_name=value_type),
            ],
            map_entry=True,
        )
        map_field = make_field(field_name, 1, field.TYPE_MESSAGE, repeated, f"{owner}.{entry_name}")
        return make_message(owner, [map_field], nested=[entry])

    def make_list(name, field_type):
        packed = field_type != field.TYPE_BYTES
        return make_message(name, [make_field("value", 1, field_type, repeated, packed=packed)])

    messages = [
        make_list("BytesList", field.TYPE_BYTES),
        make_list("FloatList", field.TYPE_FLOAT),
        make_list("Int64List", field.TYPE_INT64),
        make_message(
            "Feature",
            [
                make_field(kind, number, field.TYPE_MESSAGE, type_name=type_name, oneof=0)
                for number, (kind, type_name) in enumerate(
                    [
                        ("bytes_list", "BytesList"),
                        ("float_list", "FloatList"),
                        ("int64_list", "Int64List"),
                    ],
                    start=1,
                )
            ],
            oneofs=["kind"],
        ),
        make_map("Features", "feature", "Feature"),
        make_message(
            "FeatureList", [make_field("feature", 1, field.TYPE_MESSAGE, repeated, "Feature")]
        ),
        make_map("FeatureLists", "feature_list", "FeatureList"),
        make_message(
            "Example", [make_field("features", 1, field.TYPE_MESSAGE, type_name="Features")]
        ),
        make_message(
            "SequenceExample",
            [
                make_field("context", 1, field.TYPE_MESSAGE, type_name="Features"),
                make_field("feature_lists", 2, field.TYPE_MESSAGE, type_name="FeatureLists"),
            ],
        ),
    ]
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="kiln/io/tensorflow_example.proto",
        package="tensorflow",
        syntax="proto3",
        message_type=messages,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return {
        message.name: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"tensorflow.{message.name}")
        )
        for message in messages
    }


def _camel(name):
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


_CLASSES = _message_classes()
BytesList = _CLASSES["BytesList"]
FloatList = _CLASSES["FloatList"]
Int64List = _CLASSES["Int64List"]
Feature = _CLASSES["Feature"]
Features = _CLASSES["Features"]
FeatureList = _CLASSES["FeatureList"]
FeatureLists = _CLASSES["FeatureLists"]
Example = _CLASSES["Example"]
SequenceExample = _CLASSES["SequenceExample"]

_DTYPES = ("string", "int64", "float32")
_KINDS = {STRING: "bytes_list", torch.int64: "int64_list", torch.float32: "float_list"}


def _check_shape(shape):
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, (list, tuple, torch.Size)) or not all(
        isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in shape
    ):
        raise ValueError(
            f"Invalid shape: expected a list of non-negative integers such as [] or [3], but "
            f"received {shape!r}."
        )
    return tuple(shape)


def _check_description(features):
    if not isinstance(features, dict) or not all(
        isinstance(spec, (FixedLenFeature, VarLenFeature)) for spec in features.values()
    ):
        raise ValueError(
            "Invalid features: expected a dict mapping names to FixedLenFeature or VarLenFeature, "
            f"but received {features!r}."
        )


def _feature_map(serialized, what):
    if not isinstance(serialized, bytes):
        if not isinstance(serialized, (bytearray, memoryview)):
            raise ValueError(
                f"Invalid {what}: expected bytes, but received {type(serialized).__name__}."
            )
        serialized = bytes(serialized)
    try:
        return Example.FromString(serialized).features.feature
    except DecodeError as error:
        raise ValueError(f"Could not parse {what} as a tf.train.Example: {error}.") from None


def _values(feature_map, key, spec, where):
    """Returns the values of feature `key`, an empty tuple when it is absent."""
    if key not in feature_map:
        return ()
    feature = feature_map[key]
    kind = feature.WhichOneof("kind")
    if kind is None:
        return ()
    if kind != spec._kind:
        raise ValueError(
            f"Feature {key!r} in {where} holds a {kind}, but the description {spec!r} expects a "
            f"{spec._kind}."
        )
    return getattr(feature, kind).value


def _fixed_values(values, key, spec, where):
    """Returns the flat values of a FixedLenFeature, its default when the feature is absent."""
    if len(values) == spec._size:
        return values
    if not values:
        if spec._default is None:
            raise ValueError(
                f"Feature {key!r} is missing from {where}, and its description {spec!r} has no "
                "default_value."
            )
        return spec._default
    raise ValueError(
        f"Feature {key!r} in {where} has {len(values)} values, but its description {spec!r} "
        f"expects {spec._size} (shape {list(spec.shape)})."
    )


def _dense(values, spec):
    if not spec.shape:
        return values[0] if spec.dtype == STRING else torch.tensor(values[0], dtype=spec.dtype)
    if spec.dtype == STRING:
        return _reshape(list(values), spec.shape)
    return torch.tensor(values, dtype=spec.dtype).reshape(spec.shape)


def _vector(values, dtype):
    return list(values) if dtype == STRING else torch.tensor(values, dtype=dtype)


def _batched_sparse(batch_values, dtype):
    counts = torch.tensor([len(values) for values in batch_values])
    rows = torch.repeat_interleave(torch.arange(len(batch_values)), counts)
    starts = torch.cumsum(counts, 0) - counts
    columns = torch.arange(len(rows)) - torch.repeat_interleave(starts, counts)
    flat = [value for values in batch_values for value in values]
    longest = int(counts.max()) if len(batch_values) else 0
    return SparseTensor(
        torch.stack([rows, columns], dim=1),
        _vector(flat, dtype),
        torch.tensor([len(batch_values), longest]),
    )


def _flatten(value):
    if isinstance(value, (list, tuple)):
        return [item for part in value for item in _flatten(part)]
    if isinstance(value, torch.Tensor):
        return value.reshape(-1).tolist()
    return [value]


def _reshape(flat, shape):
    """Nests a flat list into lists of `shape`."""
    for size in reversed(shape[1:]):
        flat = [flat[start : start + size] for start in range(0, len(flat), size)]
    return flat
