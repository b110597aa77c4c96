"""Reshaping layers: Flatten and Reshape."""

import math

from kiln.engine.layer import Layer


class Flatten(Layer):
    """Flattens each sample to one axis: `(batch, d1, d2, ...)` becomes `(batch, d1 * d2 * ...)`.

    Example:

    >>> kiln.layers.Flatten()(torch.zeros(32, 28, 28)).shape
    torch.Size([32, 784])
    """

    def call(self, inputs):
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape):
        dims = input_shape[1:]
        return (input_shape[0], None if None in dims else math.prod(dims))


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (one entry may be -1, inferred).

    Args:
        target_shape: the new shape of one sample, without the batch axis.

    Example:

    >>> kiln.layers.Reshape((28, 28))(torch.zeros(32, 784)).shape
    torch.Size([32, 28, 28])
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            self.target_shape = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError(f"Argument `target_shape` of Reshape must be a tuple of ints, but "
                             f"received: {target_shape!r}.") from None
        if self.target_shape.count(-1) > 1 or any(d < -1 or d == 0 for d in self.target_shape):
            raise ValueError(f"Argument `target_shape` of Reshape must hold positive ints and at "
                             f"most one -1, but received: {target_shape!r}.")

    def build(self, input_shape):
        size = math.prod(d for d in input_shape[1:]) if None not in input_shape[1:] else None
        known = math.prod(d for d in self.target_shape if d != -1)
        if size is not None and (size % known if -1 in self.target_shape else size != known):
            raise ValueError(f"Layer {self.name!r} cannot reshape inputs of shape {input_shape} "
                             f"({size} values per sample) to {self.target_shape}.")

    def call(self, inputs):
        return inputs.reshape((inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        if -1 not in self.target_shape:
            return (input_shape[0],) + self.target_shape
        if None in input_shape[1:]:
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(input_shape[1:]) // math.prod(d for d in self.target_shape if d != -1)
        return (input_shape[0],) + tuple(size if d == -1 else d for d in self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
