"""The Embedding layer: turns integer indices into dense vectors looked up in a trainable table."""

import numbers

import torch

from kiln import constraints, initializers, regularizers
from kiln.engine.layer import Layer


class Embedding(Layer):
    """Maps each integer index to a dense vector: row `index` of a trainable `embeddings` table.

    The table has shape `(input_dim, output_dim)`; an input of shape `(batch, ...)` of indices in
    `[0, input_dim)` becomes `(batch, ..., output_dim)`. Float inputs are cast to integers, as in
    Keras. The lookup is `torch.nn.functional.embedding`, so gradients only touch the rows used.

    An index outside `[0, input_dim)` raises a `ValueError` naming the layer and the valid range
    (Keras on GPU silently returns zeros instead). The check costs nothing on valid inputs: it is
    torch's own bounds check, whose error is translated.

    Args:
        input_dim: size of the vocabulary, i.e. the largest index plus one.
        output_dim: size of each embedding vector.
        embeddings_initializer: initializer of the table (default ``"uniform"``, that is
            `RandomUniform(-0.05, 0.05)` as in Keras).
        embeddings_regularizer: optional penalty on the table, added to the model's loss.
        embeddings_constraint: optional projection applied to the table after each step.
        mask_zero: whether index 0 is padding. Then the output carries the mask
            `inputs != 0` (also returned by `compute_mask(inputs)`), which the next layers
            use: recurrent layers skip the padding steps, `GlobalAveragePooling1D` averages
            the real steps only, and `fit` leaves padded steps of a sequence output out of
            the loss. Index 0 should then not be used for a real token (so `input_dim` is the
            vocabulary size plus one).

    Example:

    >>> embed = kiln.layers.Embedding(input_dim=10, output_dim=2)
    >>> embed(torch.tensor([[1, 4], [0, 9]])).shape
    torch.Size([2, 2, 2])
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.output_dim = _positive_int(output_dim, "output_dim")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero

    def build(self, input_shape):
        self.add_weight("embeddings", (self.input_dim, self.output_dim),
                        self.embeddings_initializer, regularizer=self.embeddings_regularizer,
                        constraint=self.embeddings_constraint)

    def call(self, inputs):
        if inputs.is_floating_point():
            inputs = inputs.long()
        try:
            return torch.nn.functional.embedding(inputs, self.embeddings)
        except (IndexError, RuntimeError) as error:
            raise ValueError(
                f"Layer {self.name!r} (Embedding) expects indices in [0, {self.input_dim}), but "
                f"received values from {int(inputs.min())} to {int(inputs.max())}."
            ) from error

    def compute_mask(self, inputs, mask=None):
        """Returns `inputs != 0` when `mask_zero` is set (True marks real tokens), else None."""
        if not self.mask_zero:
            return None
        return torch.as_tensor(inputs) != 0

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": serialize_or_none(regularizers,
                                                             self.embeddings_regularizer),
                "embeddings_constraint": serialize_or_none(constraints,
                                                            self.embeddings_constraint),
                "mask_zero": self.mask_zero}


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Argument `{name}` of Embedding must be a positive int, but received: "
                         f"{value!r}.")
    return int(value)


def serialize_or_none(module, obj):
    return None if obj is None else module.serialize(obj)
