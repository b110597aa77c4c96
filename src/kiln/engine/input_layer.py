"""`Input` and `InputLayer`: the entry points of functional and Sequential models."""

import torch

from kiln.engine import naming
from kiln.engine.keras_tensor import KerasTensor, Node
from kiln.engine.layer import Layer

# The dtype of text inputs (str / bytes, lists or numpy arrays of them), which torch lacks.
STRING = "string"

_INPUT_DTYPES = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
    "float64": torch.float64, "int32": torch.int32, "int64": torch.int64, "uint8": torch.uint8,
    "bool": torch.bool,
}


class InputLayer(Layer):
    """The layer behind `kiln.Input`: declares the shape of a model's input.

    In a `Sequential` model it can stand first to give the input shape, as in the book's
    `model.add(kiln.layers.InputLayer(input_shape=[28, 28]))`.

    Args:
        shape: shape of one sample, without the batch axis (`input_shape` is the Keras 2 name).
        batch_size: optional fixed batch size.
        dtype: dtype of the input (default ``"float32"``; ints for indices; ``"string"`` for
            text, fed as lists or numpy arrays of str, e.g. to a StringLookup).
        name: optional name; inputs are named ``input_1``, ``input_2``, ... otherwise (Keras 2).

    Example:

    >>> model = kiln.Sequential([kiln.layers.InputLayer(input_shape=[28, 28]),
    ...                          kiln.layers.Flatten()])
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None,
                 batch_input_shape=None, **kwargs):
        if shape is not None and input_shape is not None:
            raise ValueError("Pass only one of `shape` and `input_shape` to InputLayer.")
        shape = shape if shape is not None else input_shape
        if batch_input_shape is not None:
            batch_size, shape = batch_input_shape[0], batch_input_shape[1:]
        if shape is None:
            raise ValueError("InputLayer needs a `shape` (one sample's shape, e.g. shape=[28, 28]).")
        name = name or naming.unique_name("input", always_numbered=True)
        super().__init__(name=name, input_shape=shape, batch_size=batch_size, **kwargs)
        self.input_dtype = _input_dtype(dtype)
        self.output = KerasTensor(self._batch_input_shape, self.input_dtype, name=self.name)
        Node(self, (), {}, self.output)
        self.built = True
        self._build_input_shape = self._batch_input_shape
        self._output_shape = self._batch_input_shape

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {"batch_input_shape": self._batch_input_shape, "dtype": dtype_name(self.input_dtype),
                "name": self.name}


def Input(shape=None, batch_size=None, name=None, dtype=None):
    """Creates a symbolic input tensor for the functional API.

    Args:
        shape: shape of one sample, without the batch axis, e.g. ``[28, 28]`` or ``[None]``.
        batch_size: optional fixed batch size.
        name: optional name (also the key of this input when `fit` gets a dict).
        dtype: dtype of the input (default ``"float32"``).

    Returns:
        A `KerasTensor` to call layers on and to pass to `kiln.Model(inputs=...)`.

    Example:

    >>> input_ = kiln.Input(shape=[8])
    >>> output = kiln.layers.Dense(1)(input_)
    >>> model = kiln.Model(inputs=[input_], outputs=[output])
    """
    return InputLayer(shape=shape, batch_size=batch_size, name=name, dtype=dtype).output


def _input_dtype(dtype):
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in ("string", str, object):
        return STRING
    if dtype in _INPUT_DTYPES:
        return _INPUT_DTYPES[dtype]
    raise ValueError(f"Invalid input dtype {dtype!r}; expected one of "
                     f"{sorted(_INPUT_DTYPES) + [STRING]}.")


def dtype_name(dtype):
    """The name of an input dtype: ``"float32"``, ``"int64"``, ``"string"``."""
    return str(dtype).replace("torch.", "")
