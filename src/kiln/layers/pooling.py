"""Pooling layers: max and average pooling over 1-3 spatial axes, and global pooling.

Inputs are channels-last, `(batch, *spatial, channels)`, as in Keras. "same" padding follows
TensorFlow: `ceil(size / stride)` outputs per axis, padded windows ignore the padding (a max
over real values, an average over the real values only). It is done with torch's own padding
and `ceil_mode`, so no padded copy of the input is made. Keras' short names (`MaxPool2D`,
`AvgPool2D`, `GlobalAvgPool2D`, `GlobalMaxPool2D`, ...) are aliases of the classes.

`GlobalAveragePooling1D` and `GlobalMaxPooling1D` pool over the real steps only when their input
carries a mask (`Embedding(mask_zero=True)`, `Masking`), and their output carries none.
"""

import torch
import torch.nn.functional as F

from kiln.engine.layer import BUILT_IN_LAYERS, Layer
from kiln.layers.convolutional import (_TO_CHANNELS_FIRST, _TO_CHANNELS_LAST, _check_rank,
                                       _data_format, _int_tuple, _padding)


class _Pooling(Layer):
    """The shared code of the max and average pooling layers (subclasses set `_rank`, `_kind`)."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.pool_size = _int_tuple(pool_size, self._rank, "pool_size", cls)
        self.strides = self.pool_size if strides is None else _int_tuple(
            strides, self._rank, "strides", cls)
        self.padding = _padding(padding, ("valid", "same"), cls)
        self.data_format = _data_format(data_format, cls)
        self._op = _POOL_OPS[self._kind, self._rank]
        self._to_first = _TO_CHANNELS_FIRST[self._rank]
        self._to_last = _TO_CHANNELS_LAST[self._rank]
        self._plans = {}

    def build(self, input_shape):
        _check_rank(self, input_shape, self._rank)
        self.compute_output_shape(input_shape)

    def call(self, inputs):
        x = inputs.permute(self._to_first)
        if self.padding == "valid":
            return self._op(x, self.pool_size, self.strides).permute(self._to_last)
        sizes = x.shape[2:]
        plan = self._plans.get(sizes)
        if plan is None:
            plan = self._plans[sizes] = _same_plan(sizes, self.pool_size, self.strides)
        padding, ceil_mode, crop = plan
        outputs = self._op(x, self.pool_size, self.strides, padding, ceil_mode=ceil_mode)
        if crop is not None:
            outputs = outputs[crop]
        return outputs.permute(self._to_last)

    def compute_output_shape(self, input_shape):
        spatial = []
        for n, k, s in zip(input_shape[1:-1], self.pool_size, self.strides):
            if n is None:
                spatial.append(None)
            elif self.padding == "same":
                spatial.append(-(-n // s))
            elif n < k:
                raise ValueError(
                    f"Layer {self.name!r}: the input's spatial shape {tuple(input_shape[1:-1])} "
                    f"is smaller than the pool size {self.pool_size} with padding='valid'.")
            else:
                spatial.append((n - k) // s + 1)
        return (input_shape[0],) + tuple(spatial) + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    """Max pooling over the steps of sequences `(batch, steps, channels)`.

    Args:
        pool_size: int or tuple of 1 int, the window length (default 2).
        strides: int or tuple of 1 int; default `pool_size`.
        padding: ``"valid"`` (windows inside the input) or ``"same"``
            (`ceil(steps / strides)` outputs).
        data_format: None or ``"channels_last"`` (kiln's layers are channels-last).

    Example:

    >>> kiln.layers.MaxPooling1D(2)(torch.zeros(4, 10, 3)).shape
    torch.Size([4, 5, 3])
    """

    _rank = 1
    _kind = "max"


class MaxPooling2D(_Pooling):
    """Max pooling over images `(batch, height, width, channels)`.

    Args: as `MaxPooling1D`, with ints or tuples of 2 ints (default pool size `(2, 2)`).

    Example:

    >>> kiln.layers.MaxPooling2D(2)(torch.zeros(2, 70, 120, 32)).shape
    torch.Size([2, 35, 60, 32])
    """

    _rank = 2
    _kind = "max"


class MaxPooling3D(_Pooling):
    """Max pooling over volumes `(batch, depth, height, width, channels)`.

    Args: as `MaxPooling1D`, with ints or tuples of 3 ints.

    Example:

    >>> kiln.layers.MaxPooling3D(2)(torch.zeros(1, 8, 8, 8, 4)).shape
    torch.Size([1, 4, 4, 4, 4])
    """

    _rank = 3
    _kind = "max"


class AveragePooling1D(_Pooling):
    """Average pooling over the steps of sequences `(batch, steps, channels)`.

    Args: as `MaxPooling1D`. With ``"same"`` padding, windows that overlap the border average
    only the real values, as in Keras.

    Example:

    >>> kiln.layers.AveragePooling1D(2)(torch.ones(4, 10, 3)).shape
    torch.Size([4, 5, 3])
    """

    _rank = 1
    _kind = "avg"


class AveragePooling2D(_Pooling):
    """Average pooling over images `(batch, height, width, channels)`.

    Args: as `MaxPooling2D`.

    Example:

    >>> kiln.layers.AveragePooling2D(2)(torch.zeros(2, 70, 120, 32)).shape
    torch.Size([2, 35, 60, 32])
    """

    _rank = 2
    _kind = "avg"


class AveragePooling3D(_Pooling):
    """Average pooling over volumes `(batch, depth, height, width, channels)`.

    Args: as `MaxPooling3D`.

    Example:

    >>> kiln.layers.AveragePooling3D(2)(torch.zeros(1, 8, 8, 8, 4)).shape
    torch.Size([1, 4, 4, 4, 4])
    """

    _rank = 3
    _kind = "avg"


class _GlobalPooling(Layer):
    """The shared code of the global pooling layers (subclasses set `_rank` and `_kind`)."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self._axes = tuple(range(1, self._rank + 1))
        self._reduce = torch.Tensor.mean if self._kind == "avg" else torch.Tensor.amax

    def build(self, input_shape):
        _check_rank(self, input_shape, self._rank)

    def call(self, inputs):
        return self._reduce(inputs, self._axes, self.keepdims)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0],) + (1,) * self._rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class _GlobalPooling1D(_GlobalPooling):
    """Global pooling over the steps of sequences; over the real steps only with a mask."""

    _rank = 1

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        return self._pool_steps(inputs, _step_mask(mask, inputs))

    def compute_mask(self, inputs, mask=None):
        """Pooling over the steps consumes the mask: the output has none (returns None)."""


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Averages sequences `(batch, steps, channels)` over the steps.

    Args:
        data_format: None or ``"channels_last"`` (kiln's layers are channels-last).
        keepdims: keep the pooled axis with size 1 (default False: output `(batch, channels)`).

    Call arguments:
        inputs: `(batch, steps, channels)` tensor.
        mask: optional `(batch, steps)` boolean tensor (by default the inputs' own mask): the
            average then runs over the True steps only. A sequence without any real step
            averages to zeros (Keras divides by zero there).

    Example:

    >>> kiln.layers.GlobalAveragePooling1D()(torch.zeros(4, 10, 3)).shape
    torch.Size([4, 3])
    """

    _kind = "avg"

    def _pool_steps(self, inputs, keep):
        weights = keep.to(inputs.dtype)
        total = (inputs * weights).sum(1, keepdim=self.keepdims)
        return total / weights.sum(1, keepdim=self.keepdims).clamp_min(1)


class GlobalAveragePooling2D(_GlobalPooling):
    """Averages images `(batch, height, width, channels)` over height and width.

    Args:
        data_format: None or ``"channels_last"`` (kiln's layers are channels-last).
        keepdims: keep the pooled axes with size 1 (default False: output `(batch, channels)`).

    Example:

    >>> kiln.layers.GlobalAveragePooling2D()(torch.zeros(2, 7, 7, 512)).shape
    torch.Size([2, 512])
    """

    _rank = 2
    _kind = "avg"


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Takes the maximum of sequences `(batch, steps, channels)` over the steps.

    Args:
        data_format: None or ``"channels_last"``.
        keepdims: keep the pooled axis with size 1 (default False).

    Call arguments:
        inputs: `(batch, steps, channels)` tensor.
        mask: optional `(batch, steps)` boolean tensor (by default the inputs' own mask): the
            maximum then runs over the True steps only (Keras 2 ignores the mask, so padding
            takes part in its maximum). A sequence without any real step gives zeros.

    Example:

    >>> kiln.layers.GlobalMaxPooling1D()(torch.zeros(4, 10, 3)).shape
    torch.Size([4, 3])
    """

    _kind = "max"

    def _pool_steps(self, inputs, keep):
        lowest = torch.finfo(inputs.dtype).min if inputs.is_floating_point() \
            else torch.iinfo(inputs.dtype).min
        maximum = inputs.masked_fill(~keep, lowest).amax(1, keepdim=self.keepdims)
        return maximum.masked_fill(~keep.any(1, keepdim=self.keepdims), 0)


class GlobalMaxPooling2D(_GlobalPooling):
    """Takes the maximum of images `(batch, height, width, channels)` over height and width.

    Args:
        data_format: None or ``"channels_last"``.
        keepdims: keep the pooled axes with size 1 (default False).

    Example:

    >>> kiln.layers.GlobalMaxPooling2D(keepdims=True)(torch.zeros(2, 7, 7, 8)).shape
    torch.Size([2, 1, 1, 8])
    """

    _rank = 2
    _kind = "max"


# Keras' short aliases; they also resolve in saved configs.
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
BUILT_IN_LAYERS.update(
    MaxPool1D=MaxPool1D, MaxPool2D=MaxPool2D, MaxPool3D=MaxPool3D, AvgPool1D=AvgPool1D,
    AvgPool2D=AvgPool2D, AvgPool3D=AvgPool3D, GlobalAvgPool1D=GlobalAvgPool1D,
    GlobalAvgPool2D=GlobalAvgPool2D, GlobalMaxPool1D=GlobalMaxPool1D,
    GlobalMaxPool2D=GlobalMaxPool2D)


# ---------------------------------------------------------------------------- private helpers

def _avg_pool(op):
    """Torch's average pooling with padded positions left out of the averages."""
    def pool(x, kernel_size, stride, padding=0, ceil_mode=False):
        return op(x, kernel_size, stride, padding, ceil_mode, count_include_pad=False)
    return pool


_POOL_OPS = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d, ("max", 3): F.max_pool3d,
             ("avg", 1): _avg_pool(F.avg_pool1d), ("avg", 2): _avg_pool(F.avg_pool2d),
             ("avg", 3): _avg_pool(F.avg_pool3d)}


def _step_mask(mask, inputs):
    """A `(batch, steps)` mask as a boolean `(batch, steps, 1)` tensor on the inputs' device."""
    mask = torch.as_tensor(mask, device=inputs.device)
    if mask.dim() != 2 or tuple(mask.shape) != tuple(inputs.shape[:2]):
        raise ValueError(f"The mask of a global pooling layer must have shape (batch, steps) = "
                         f"{tuple(inputs.shape[:2])}, but received a mask of shape "
                         f"{tuple(mask.shape)}.")
    return mask.bool().unsqueeze(-1)


def _same_plan(sizes, pool_size, strides):
    """How torch pools with TensorFlow's "same" padding: (padding, ceil_mode, crop).

    TensorFlow pads `total = (ceil(n / s) - 1) * s + k - n` per axis, the odd one at the end.
    Torch pads symmetrically, so per axis: an even total is `total / 2` on both sides; with
    stride 1 pad `ceil(total / 2)` on both sides and drop the first output; with larger
    strides pad `floor(total / 2)` and let `ceil_mode` run the last window off the end.
    """
    padding, ceil_mode, crop = [], False, [slice(None), slice(None)]
    for n, k, s in zip(sizes, pool_size, strides):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        if total % 2 == 0 or s > 1:
            padding.append(total // 2)
            ceil_mode = ceil_mode or total % 2 == 1
            crop.append(slice(None))
        else:
            padding.append(total // 2 + 1)
            crop.append(slice(1, None))
    needs_crop = any(c.start for c in crop)
    return tuple(padding), ceil_mode, tuple(crop) if needs_crop else None

