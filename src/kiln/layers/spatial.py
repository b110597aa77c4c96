"""Spatial reshaping of images `(batch, height, width, channels)`: UpSampling2D, ZeroPadding2D
and Cropping2D."""

import numbers

import torch.nn.functional as F

from kiln.engine.layer import Layer
from kiln.layers.convolutional import _check_rank, _int_tuple


class UpSampling2D(Layer):
    """Enlarges images by repeating rows and columns (or by bilinear interpolation).

    Args:
        size: int or tuple of 2 ints, the factors for height and width (default `(2, 2)`).
        interpolation: ``"nearest"`` (repeat pixels) or ``"bilinear"`` (half-pixel centres,
            like TensorFlow 2's image resizing).

    Example:

    >>> kiln.layers.UpSampling2D(2)(torch.zeros(1, 7, 7, 16)).shape
    torch.Size([1, 14, 14, 16])
    """

    def __init__(self, size=(2, 2), interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = _int_tuple(size, 2, "size", "UpSampling2D")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"Argument `interpolation` of UpSampling2D must be 'nearest' or "
                             f"'bilinear', but received: {interpolation!r}.")
        self.interpolation = interpolation
        self._align_corners = None if interpolation == "nearest" else False

    def build(self, input_shape):
        _check_rank(self, input_shape, 2)

    def call(self, inputs):
        outputs = F.interpolate(inputs.permute(0, 3, 1, 2), scale_factor=self.size,
                                mode=self.interpolation, align_corners=self._align_corners)
        return outputs.permute(0, 2, 3, 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(None if n is None else n * f for n, f in
                                         zip(input_shape[1:3], self.size)) + (input_shape[3],)

    def get_config(self):
        return {**super().get_config(), "size": self.size,
                "interpolation": self.interpolation}


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around images.

    Args:
        padding: int (the same on all sides), tuple of 2 ints `(rows, columns)` (the same on
            both sides of each axis), or `((top, bottom), (left, right))`. Default `(1, 1)`.

    Example:

    >>> kiln.layers.ZeroPadding2D(((1, 2), (3, 4)))(torch.zeros(1, 5, 5, 2)).shape
    torch.Size([1, 8, 12, 2])
    """

    def __init__(self, padding=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.padding = _margins(padding, "padding", "ZeroPadding2D")
        (top, bottom), (left, right) = self.padding
        self._pad = (0, 0, left, right, top, bottom)

    def build(self, input_shape):
        _check_rank(self, input_shape, 2)

    def call(self, inputs):
        return F.pad(inputs, self._pad)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(None if n is None else n + sum(pair) for n, pair in
                                         zip(input_shape[1:3], self.padding)) + (input_shape[3],)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


class Cropping2D(Layer):
    """Removes rows and columns at the borders of images.

    Args:
        cropping: int (the same on all sides), tuple of 2 ints `(rows, columns)`, or
            `((top, bottom), (left, right))`. Default `((0, 0), (0, 0))`.

    Example:

    >>> kiln.layers.Cropping2D(((2, 2), (4, 4)))(torch.zeros(1, 28, 28, 3)).shape
    torch.Size([1, 24, 20, 3])
    """

    def __init__(self, cropping=((0, 0), (0, 0)), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _margins(cropping, "cropping", "Cropping2D")
        (top, bottom), (left, right) = self.cropping
        self._index = (slice(None), slice(top, -bottom or None), slice(left, -right or None))

    def build(self, input_shape):
        _check_rank(self, input_shape, 2)
        self.compute_output_shape(input_shape)

    def call(self, inputs):
        return inputs[self._index]

    def compute_output_shape(self, input_shape):
        spatial = []
        for n, pair in zip(input_shape[1:3], self.cropping):
            if n is not None and n <= sum(pair):
                raise ValueError(f"Layer {self.name!r} cannot crop {self.cropping} from inputs "
                                 f"of shape {input_shape}: nothing would remain.")
            spatial.append(None if n is None else n - sum(pair))
        return (input_shape[0],) + tuple(spatial) + (input_shape[3],)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


# ---------------------------------------------------------------------------- private helpers

def _margins(value, argument, cls):
    """int | (rows, cols) | ((top, bottom), (left, right)) -> ((top, bottom), (left, right))."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        pairs = tuple((v, v) if isinstance(v, numbers.Integral) else tuple(v) for v in value)
    except TypeError:
        pairs = ()
    if len(pairs) != 2 or any(len(p) != 2 or any(
            isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 0 for m in p)
            for p in pairs):
        raise ValueError(f"Argument `{argument}` of {cls} must be an int, a tuple of 2 ints or "
                         f"a tuple of 2 tuples of 2 ints, all >= 0, but received: {value!r}.")
    return tuple(tuple(int(m) for m in p) for p in pairs)

