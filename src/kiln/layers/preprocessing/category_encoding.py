"""The CategoryEncoding layer: one-hot, multi-hot and count encodings of integer categories.

`encode_categorical` is the encoding itself, shared with the other categorical layers
(Discretization, StringLookup, IntegerLookup, Hashing, TextVectorization) for their
`output_mode`.
"""

import numbers

import torch

from kiln.engine.layer import Layer

_MODES = ("one_hot", "multi_hot", "count")


class CategoryEncoding(Layer):
    """Encodes integer categories in `[0, num_tokens)` as one-hot, multi-hot or count vectors.

    Inputs of shape `(batch,)` or `(batch, 1)` give one-hot rows in every mode; inputs of shape
    `(batch, k)` (k categorical features per sample) give one multi-hot or count row per sample.
    As in Keras 3, a rank-1 input is one sample in `"multi_hot"` and `"count"` modes (one
    vector of size `num_tokens`) and a batch of single categories in `"one_hot"` mode.

    An index outside `[0, num_tokens)` raises a `ValueError` naming the layer and the values
    (torch's own bounds check, translated: free on valid inputs).

    Args:
        num_tokens: the number of categories; inputs must lie in `[0, num_tokens)`.
        output_mode: ``"multi_hot"`` (default: 1 for each category present), ``"one_hot"``
            (one row per input value, the last axis replaced when it has size 1) or
            ``"count"`` (how many times each category occurs in the sample).
        sparse: if True, returns a torch sparse COO tensor.

    Call arguments:
        inputs: integer tensor (floats are cast to integers).
        count_weights: optional tensor shaped like `inputs`; in ``"count"`` mode each
            occurrence adds its weight instead of 1.

    Example:

    >>> onehot_layer = kiln.layers.CategoryEncoding(num_tokens=3)
    >>> onehot_layer(np.array([[1, 0], [2, 2], [2, 0]]))
    tensor([[1., 1., 0.],
            [0., 0., 1.],
            [1., 0., 1.]])
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, numbers.Integral) \
                or num_tokens < 1:
            raise ValueError(f"Argument `num_tokens` of CategoryEncoding must be a positive int, "
                             f"but received: {num_tokens!r}.")
        self.num_tokens = int(num_tokens)
        self.output_mode = check_output_mode(output_mode, _MODES, "CategoryEncoding")
        self.sparse = bool(sparse)

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"Layer {self.name!r} (CategoryEncoding) takes `count_weights` only "
                             f"with output_mode='count', not {self.output_mode!r}.")
        return encode_categorical(inputs, self.output_mode, self.num_tokens, self._dtype,
                                  self.name, count_weights=count_weights, sparse=self.sparse)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode, "sparse": self.sparse}


def check_output_mode(output_mode, modes, owner):
    """Returns `output_mode` if it is one of `modes`, else raises a ValueError naming `owner`."""
    if output_mode not in modes:
        raise ValueError(f"Argument `output_mode` of {owner} must be one of {list(modes)}, but "
                         f"received: {output_mode!r}.")
    return output_mode


def encode_categorical(indices, output_mode, depth, dtype, layer_name, count_weights=None,
                       idf_weights=None, sparse=False):
    """Encodes integer `indices` (rank 0 to 2) in `[0, depth)` as `output_mode` vectors.

    Args:
        indices: integer tensor (floats are cast).
        output_mode: ``"int"`` (returned as int64), ``"one_hot"``, ``"multi_hot"``, ``"count"``
            or ``"tf_idf"`` (counts times `idf_weights`).
        depth: the size of the encoded axis.
        dtype: the float dtype of the encoding.
        layer_name: named in the error raised for an index outside `[0, depth)`.
        count_weights: optional weights of the occurrences, shaped like `indices`.
        idf_weights: float tensor of shape `(depth,)`, for ``"tf_idf"``.
        sparse: whether to return a sparse COO tensor.
    """
    if output_mode == "int":
        return indices.long()
    if indices.is_floating_point():
        indices = indices.long()
    if indices.ndim == 0:
        indices = indices.reshape(1)
    if indices.ndim > 2:
        raise ValueError(f"Layer {layer_name!r} encodes inputs of rank 1 or 2 in "
                         f"output_mode={output_mode!r}, but received an input of shape "
                         f"{tuple(indices.shape)}.")
    try:
        if output_mode == "one_hot":
            if indices.ndim == 2 and indices.shape[1] == 1:
                indices = indices.reshape(-1)
            encoded = torch.nn.functional.one_hot(indices.long(), depth).to(dtype)
        else:
            encoded = _bincount_rows(indices, output_mode, depth, dtype, count_weights)
            if output_mode == "tf_idf":
                encoded = encoded * idf_weights.to(encoded.device)
    except RuntimeError as error:
        raise ValueError(
            f"Layer {layer_name!r} expects category indices in [0, {depth}), but received values "
            f"from {int(indices.min())} to {int(indices.max())}."
        ) from error
    return encoded.to_sparse() if sparse else encoded


def encoded_shape(input_shape, output_mode, depth):
    """The output shape of `encode_categorical` for inputs of `input_shape`."""
    input_shape = tuple(input_shape)
    if output_mode == "int":
        return input_shape
    if output_mode == "one_hot":
        if len(input_shape) >= 2 and input_shape[-1] == 1:
            input_shape = input_shape[:-1]
        return (input_shape or (1,)) + (depth,)
    return input_shape[:-1] + (depth,)


def _bincount_rows(indices, output_mode, depth, dtype, count_weights):
    """Multi-hot or count vectors of the rows of `indices` (a rank-1 input is one row)."""
    rows = indices.reshape(1, -1) if indices.ndim == 1 else indices
    rows = rows.long()
    encoded = torch.zeros(rows.shape[0], depth, dtype=dtype, device=rows.device)
    if output_mode == "multi_hot":
        encoded.scatter_(1, rows, 1.0)
    elif count_weights is None:
        encoded.scatter_add_(1, rows, torch.ones(rows.shape, dtype=dtype, device=rows.device))
    else:
        weights = torch.as_tensor(count_weights, dtype=dtype, device=rows.device)
        encoded.scatter_add_(1, rows, weights.reshape(rows.shape))
    return encoded.reshape(depth) if indices.ndim == 1 else encoded
