"""Convolution layers: Conv1D, Conv2D, Conv3D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose.

Inputs and outputs are channels-last, `(batch, *spatial, channels)`, as in Keras; kernels are
stored in Keras' layouts (a `Conv2D` kernel is `(kh, kw, in / groups, filters)`), so
`get_weights()`, `set_weights()` and `state_dict()` agree with Keras. Inside, the input is viewed
channels-first with a permute (free for 4-D tensors in torch's `channels_last` memory format),
the kernel is permuted to torch's layout (also free: its memory is laid out the way torch's
kernels read it), and the result is permuted back.
"""

import numbers

import torch.nn.functional as F

from kiln import activations, constraints, initializers, regularizers
from kiln.engine.layer import Layer
from kiln.layers.core import (kernel_and_bias_config, serialize_or_none,
                              set_kernel_and_bias_arguments)

_CONV_OPS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_TRANSPOSE_OPS = {2: F.conv_transpose2d}
_SPATIAL_NAMES = {1: "steps", 2: "height, width", 3: "depth, height, width"}


class _Conv(Layer):
    """The shared code of Conv1D, Conv2D, Conv3D and Conv2DTranspose (subclasses set `_rank`)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.filters = _positive_int(filters, "filters", cls)
        self.kernel_size = _int_tuple(kernel_size, self._rank, "kernel_size", cls)
        self.strides = _int_tuple(strides, self._rank, "strides", cls)
        allowed = ("valid", "same", "causal") if self._rank == 1 else ("valid", "same")
        self.padding = _padding(padding, allowed, cls)
        self.data_format = _data_format(data_format, cls)
        self.dilation_rate = _int_tuple(dilation_rate, self._rank, "dilation_rate", cls)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{cls} cannot combine `strides` > 1 with `dilation_rate` > 1, but "
                             f"received strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}.")
        self.groups = _positive_int(groups, "groups", cls)
        if self.filters % self.groups:
            raise ValueError(f"Argument `filters` of {cls} must be divisible by `groups` "
                             f"({self.groups}), but received: {self.filters}.")
        set_kernel_and_bias_arguments(self, activation, use_bias, kernel_initializer,
                                      bias_initializer, kernel_regularizer, bias_regularizer,
                                      kernel_constraint, bias_constraint)
        self._window = _Window(self._rank, self.kernel_size, self.strides, self.padding,
                               self.dilation_rate)
        self._kernel_order = _TORCH_KERNEL_ORDER[self._rank]

    def build(self, input_shape):
        channels = _check_input(self, input_shape, self._rank)
        if channels % self.groups:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) needs input channels "
                             f"divisible by groups={self.groups}, but the input shape "
                             f"{input_shape} has {channels} channels.")
        self._window.output_shape(input_shape[1:-1], self.name)
        kernel_shape = self.kernel_size + (channels // self.groups, self.filters)
        kernel = self.add_weight("kernel", kernel_shape, self.kernel_initializer,
                                 regularizer=self.kernel_regularizer,
                                 constraint=self.kernel_constraint)
        _lay_out_as_torch_kernel(kernel)
        _add_bias(self, self.filters)
        _build_activation(self, input_shape)

    def call(self, inputs):
        if inputs.dtype != self.kernel.dtype:
            inputs = inputs.to(self.kernel.dtype)
        outputs = self._window.convolve(inputs, self.kernel.permute(self._kernel_order),
                                        self.bias, self.groups)
        if not self._linear_activation:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        spatial = self._window.output_shape(input_shape[1:-1], self.name)
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                **kernel_and_bias_config(self)}


class Conv1D(_Conv):
    """A 1-D convolution over sequences `(batch, steps, channels)`.

    Args:
        filters: positive int, the number of output channels.
        kernel_size: int or tuple of 1 int, the window length.
        strides: int or tuple of 1 int (default 1).
        padding: ``"valid"`` (no padding), ``"same"`` (output length `ceil(steps / strides)`)
            or ``"causal"`` (zeros on the left only, so output `t` never sees inputs after `t`).
        data_format: None or ``"channels_last"`` (kiln's layers are channels-last).
        dilation_rate: int or tuple of 1 int, the gap between kernel taps (default 1).
        groups: int dividing both the input channels and `filters` (default 1).
        activation: name, function or layer applied to the output (default: none).
        use_bias: whether to add a bias vector.
        kernel_initializer: default ``"glorot_uniform"``; bias_initializer: default ``"zeros"``.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties added to the loss.
        kernel_constraint, bias_constraint: projections applied after each update.

    The kernel has shape `(kernel_size, in_channels / groups, filters)`.

    Example:

    >>> layer = kiln.layers.Conv1D(20, kernel_size=2, padding="causal", dilation_rate=4)
    >>> layer(torch.zeros(8, 50, 1)).shape
    torch.Size([8, 50, 20])
    """

    _rank = 1


class Conv2D(_Conv):
    """A 2-D convolution over images `(batch, height, width, channels)`.

    Takes the same arguments as `Conv1D` (each of `kernel_size`, `strides` and `dilation_rate`
    an int or a tuple of 2 ints), with `padding` ``"valid"`` or ``"same"``; ``"same"`` with
    strides gives `ceil(size / stride)` outputs per axis, padding the extra zero at the end as
    TensorFlow does. The kernel has shape `(kh, kw, in_channels / groups, filters)`.

    Example:

    >>> conv = kiln.layers.Conv2D(filters=32, kernel_size=7)
    >>> conv(torch.zeros(2, 70, 120, 3)).shape
    torch.Size([2, 64, 114, 32])
    >>> conv.get_weights()[0].shape
    (7, 7, 3, 32)
    """

    _rank = 2


class Conv3D(_Conv):
    """A 3-D convolution over volumes `(batch, depth, height, width, channels)`.

    Takes the same arguments as `Conv2D` (tuples of 3 ints); the kernel has shape
    `(kd, kh, kw, in_channels / groups, filters)`.

    Example:

    >>> kiln.layers.Conv3D(8, 3)(torch.zeros(2, 10, 10, 10, 1)).shape
    torch.Size([2, 8, 8, 8, 8])
    """

    _rank = 3


class _DepthwiseBase(Layer):
    """The depthwise step shared by DepthwiseConv2D and SeparableConv2D."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.kernel_size = _int_tuple(kernel_size, 2, "kernel_size", cls)
        self.strides = _int_tuple(strides, 2, "strides", cls)
        self.padding = _padding(padding, ("valid", "same"), cls)
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier", cls)
        self.data_format = _data_format(data_format, cls)
        self.dilation_rate = _int_tuple(dilation_rate, 2, "dilation_rate", cls)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._linear_activation = self.activation is activations.linear
        self._window = _Window(2, self.kernel_size, self.strides, self.padding,
                               self.dilation_rate)

    def _build_depthwise(self, input_shape):
        channels = _check_input(self, input_shape, 2)
        self._window.output_shape(input_shape[1:-1], self.name)
        self.add_weight("depthwise_kernel", self.kernel_size + (channels, self.depth_multiplier),
                        self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                        constraint=self.depthwise_constraint)
        self._channels = channels
        return channels

    def _depthwise(self, inputs, bias):
        if inputs.dtype != self.depthwise_kernel.dtype:
            inputs = inputs.to(self.depthwise_kernel.dtype)
        return self._window.convolve(inputs, _depthwise_torch_kernel(self.depthwise_kernel),
                                     bias, self._channels)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "depth_multiplier": self.depth_multiplier, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "depthwise_regularizer": serialize_or_none(regularizers,
                                                           self.depthwise_regularizer),
                "bias_regularizer": serialize_or_none(regularizers, self.bias_regularizer),
                "activity_regularizer": serialize_or_none(regularizers,
                                                          self.activity_regularizer),
                "depthwise_constraint": serialize_or_none(constraints, self.depthwise_constraint),
                "bias_constraint": serialize_or_none(constraints, self.bias_constraint)}


class DepthwiseConv2D(_DepthwiseBase):
    """A depthwise 2-D convolution: each input channel is convolved with its own filters.

    Args:
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints (default 1).
        padding: ``"valid"`` or ``"same"``.
        depth_multiplier: number of output channels per input channel (default 1).
        data_format: None or ``"channels_last"`` (kiln's layers are channels-last).
        dilation_rate: int or tuple of 2 ints (default 1).
        activation: name, function or layer applied to the output (default: none).
        use_bias: whether to add a bias vector.
        depthwise_initializer: default ``"glorot_uniform"``; bias_initializer: ``"zeros"``.
        depthwise_regularizer, bias_regularizer, activity_regularizer: penalties.
        depthwise_constraint, bias_constraint: projections applied after each update.

    The kernel `depthwise_kernel` has shape `(kh, kw, in_channels, depth_multiplier)`; output
    channel `c * depth_multiplier + m` comes from input channel `c`, as in Keras.

    Example:

    >>> kiln.layers.DepthwiseConv2D(3, depth_multiplier=2)(torch.zeros(1, 8, 8, 4)).shape
    torch.Size([1, 6, 6, 8])
    """

    def build(self, input_shape):
        channels = self._build_depthwise(input_shape)
        _add_bias(self, channels * self.depth_multiplier)
        _build_activation(self, input_shape)

    def call(self, inputs):
        outputs = self._depthwise(inputs, self.bias)
        if not self._linear_activation:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        spatial = self._window.output_shape(input_shape[1:-1], self.name)
        channels = None if input_shape[-1] is None else input_shape[-1] * self.depth_multiplier
        return (input_shape[0],) + spatial + (channels,)


class SeparableConv2D(_DepthwiseBase):
    """A depthwise separable 2-D convolution: a depthwise convolution, then a 1x1 convolution.

    Args:
        filters: positive int, the number of output channels.
        kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier: as in
            `DepthwiseConv2D`, for the depthwise step.
        activation: name, function or layer applied to the output (default: none).
        use_bias: whether to add a bias vector (after the pointwise step).
        depthwise_initializer, pointwise_initializer: default ``"glorot_uniform"``;
            bias_initializer: default ``"zeros"``.
        depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer:
            penalties added to the loss.
        depthwise_constraint, pointwise_constraint, bias_constraint: projections applied
            after each update.

    The weights are `depthwise_kernel` `(kh, kw, in, depth_multiplier)`, `pointwise_kernel`
    `(1, 1, in * depth_multiplier, filters)` and `bias` `(filters,)`.

    Example:

    >>> kiln.layers.SeparableConv2D(64, 3, padding="same")(torch.zeros(1, 16, 16, 32)).shape
    torch.Size([1, 16, 16, 64])
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)
        self.filters = _positive_int(filters, "filters", type(self).__name__)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        channels = self._build_depthwise(input_shape)
        self.add_weight("pointwise_kernel", (1, 1, channels * self.depth_multiplier,
                                             self.filters),
                        self.pointwise_initializer, regularizer=self.pointwise_regularizer,
                        constraint=self.pointwise_constraint)
        _add_bias(self, self.filters)
        _build_activation(self, input_shape)

    def call(self, inputs):
        # The 1x1 convolution is a matrix product over the channels-last axis.
        outputs = F.linear(self._depthwise(inputs, None), self.pointwise_kernel[0, 0].T,
                           self.bias)
        if not self._linear_activation:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        spatial = self._window.output_shape(input_shape[1:-1], self.name)
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "pointwise_regularizer": serialize_or_none(regularizers,
                                                           self.pointwise_regularizer),
                "pointwise_constraint": serialize_or_none(constraints, self.pointwise_constraint)}


class Conv2DTranspose(_Conv):
    """A transposed 2-D convolution (a "deconvolution"): strides stretch the input.

    Takes `Conv2D`'s arguments (without `groups`) plus:

    Args:
        output_padding: None, or an int or tuple of 2 ints smaller than the strides: extra
            rows / columns added at the end of the output. With None the output size is
            `size * stride` for ``"same"`` and `(size - 1) * stride + max(kernel, stride)` for
            ``"valid"``, as in Keras.

    The kernel has Keras' layout `(kh, kw, filters, in_channels)`.

    Example:

    >>> kiln.layers.Conv2DTranspose(16, 3, strides=2, padding="same")(
    ...     torch.zeros(1, 7, 7, 32)).shape
    torch.Size([1, 14, 14, 16])
    """

    _rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate,
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                         **kwargs)
        cls = type(self).__name__
        if output_padding is None:
            self.output_padding = None
        else:
            self.output_padding = _int_tuple(output_padding, 2, "output_padding", cls,
                                             minimum=0)
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(f"Argument `output_padding` of {cls} must be smaller than the "
                                 f"strides {self.strides}, but received: {output_padding!r}.")
        self._window = _TransposedWindow(self.kernel_size, self.strides, self.padding,
                                         self.dilation_rate, self.output_padding)

    def build(self, input_shape):
        channels = _check_input(self, input_shape, 2)
        kernel = self.add_weight("kernel", self.kernel_size + (self.filters, channels),
                                 self.kernel_initializer, regularizer=self.kernel_regularizer,
                                 constraint=self.kernel_constraint)
        _lay_out_as_torch_kernel(kernel)
        _add_bias(self, self.filters)
        _build_activation(self, input_shape)

    def call(self, inputs):
        if inputs.dtype != self.kernel.dtype:
            inputs = inputs.to(self.kernel.dtype)
        outputs = self._window.convolve(inputs, self.kernel.permute(3, 2, 0, 1), self.bias)
        if not self._linear_activation:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        return {**config, "output_padding": self.output_padding}


# ---------------------------------------------------------------------------- private helpers

# From Keras' kernel layout (*window, in, out) to torch's (out, in, *window).
_TORCH_KERNEL_ORDER = {1: (2, 1, 0), 2: (3, 2, 0, 1), 3: (4, 3, 0, 1, 2)}
# From channels-last to channels-first and back, by rank.
_TO_CHANNELS_FIRST = {1: (0, 2, 1), 2: (0, 3, 1, 2), 3: (0, 4, 1, 2, 3)}
_TO_CHANNELS_LAST = {1: (0, 2, 1), 2: (0, 2, 3, 1), 3: (0, 2, 3, 4, 1)}


class _Window:
    """The sliding-window geometry of a convolution: padding, output shapes, the torch call."""

    def __init__(self, rank, kernel_size, strides, padding, dilation_rate):
        self.strides = strides
        self.dilation_rate = dilation_rate
        self.padding = padding
        self.effective = tuple((k - 1) * d + 1 for k, d in zip(kernel_size, dilation_rate))
        self.op = _CONV_OPS[rank]
        self.to_first = _TO_CHANNELS_FIRST[rank]
        self.to_last = _TO_CHANNELS_LAST[rank]
        self._pads_by_size = {}
        # The torch `padding` argument and, when the padding is asymmetric, an F.pad list.
        self.torch_padding, self.pad = 0, None
        if padding == "causal":
            self.pad = [self.effective[0] - 1, 0]
        elif padding == "same" and max(strides) == 1:
            self.torch_padding, self.pad = _split_padding(
                [_same_padding(None, e, 1) for e in self.effective])
        self.size_dependent = padding == "same" and max(strides) > 1

    def convolve(self, inputs, kernel, bias, groups):
        x = inputs.permute(self.to_first)
        torch_padding, pad = self.torch_padding, self.pad
        if self.size_dependent:
            sizes = x.shape[2:]
            plan = self._pads_by_size.get(sizes)
            if plan is None:
                plan = self._pads_by_size[sizes] = _split_padding(
                    [_same_padding(n, e, s) for n, e, s in zip(sizes, self.effective,
                                                               self.strides)])
            torch_padding, pad = plan
        if pad is not None:
            x = F.pad(x, pad)
        outputs = self.op(x, kernel, bias, self.strides, torch_padding, self.dilation_rate,
                          groups)
        return outputs.permute(self.to_last)

    def output_shape(self, sizes, layer_name):
        """The spatial output shape for spatial input `sizes`; ValueError if a window misses."""
        shape = []
        for n, e, s in zip(sizes, self.effective, self.strides):
            if n is None:
                shape.append(None)
            elif self.padding == "valid":
                if n < e:
                    raise ValueError(
                        f"Layer {layer_name!r}: the input's spatial shape {tuple(sizes)} is "
                        f"smaller than the (dilated) kernel {self.effective} with "
                        f"padding='valid'; use larger inputs or padding='same'.")
                shape.append((n - e) // s + 1)
            else:
                shape.append(-(-n // s))
        return tuple(shape)


class _TransposedWindow:
    """The geometry of a transposed 2-D convolution, following Keras' output sizes."""

    def __init__(self, kernel_size, strides, padding, dilation_rate, output_padding):
        self.strides = strides
        self.dilation_rate = dilation_rate
        self.effective = tuple((k - 1) * d + 1 for k, d in zip(kernel_size, dilation_rate))
        # Per axis: output size = (n - 1) * s + extra; the first `crop` positions of the full
        # transposed output are dropped. Torch crops `crop` at both ends and appends
        # `torch_output_padding`; `trim` (an index, or None) cuts back what is then too long.
        extras, crops = [], []
        for axis, (e, s) in enumerate(zip(self.effective, strides)):
            if output_padding is None:
                extra = max(e, s) if padding == "valid" else s
                crop = 0 if padding == "valid" else max(e - s, 0) // 2
            else:
                extra = (e if padding == "valid" else e % 2) + output_padding[axis]
                crop = 0 if padding == "valid" else e // 2
            extras.append(extra)
            crops.append(crop)
        self.extras = tuple(extras)
        self.torch_padding = tuple(crops)
        self.torch_output_padding = tuple(max(x - e + 2 * c, 0)
                                          for x, e, c in zip(extras, self.effective, crops))
        excess = [e - 2 * c + p - x for x, e, c, p in zip(
            extras, self.effective, crops, self.torch_output_padding)]
        self.trim = (slice(None), slice(None)) + tuple(
            slice(0, -n if n > 0 else None) for n in excess) if max(excess) > 0 else None

    def convolve(self, inputs, kernel, bias):
        outputs = F.conv_transpose2d(inputs.permute(0, 3, 1, 2), kernel, bias, self.strides,
                                     self.torch_padding, self.torch_output_padding, 1,
                                     self.dilation_rate)
        if self.trim is not None:
            outputs = outputs[self.trim]
        return outputs.permute(0, 2, 3, 1)

    def output_shape(self, sizes, layer_name):
        """The spatial output shape for spatial input `sizes` (`layer_name` unused here)."""
        return tuple(None if n is None else (n - 1) * s + x
                     for n, s, x in zip(sizes, self.strides, self.extras))


def _same_padding(size, effective_kernel, stride):
    """TensorFlow's "same" padding of one axis: (before, after), the extra one at the end."""
    if size is None:
        total = effective_kernel - 1
    else:
        total = max((-(-size // stride) - 1) * stride + effective_kernel - size, 0)
    return total // 2, total - total // 2


def _split_padding(pads):
    """Per-axis (before, after) pairs -> torch's symmetric `padding`, or an F.pad list."""
    if all(before == after for before, after in pads):
        return tuple(before for before, _ in pads), None
    return 0, [p for pair in reversed(pads) for p in pair]


def _lay_out_as_torch_kernel(kernel):
    """Keeps a Keras-shaped kernel `(*window, a, b)` in the memory order torch's convolutions read.

    The kernel keeps Keras' shape, but its values are laid out as `(b, *window, a)`: torch's
    `(b, a, *window)` view of it (`permute`) is then channels-last (2-D and 3-D) or, for 1-D,
    contiguous, so no convolution call copies the kernel. Moving, saving, loading and the
    optimizers' states all keep this layout.
    """
    rank = kernel.ndim - 2
    order = (rank + 1, rank, 0) if rank == 1 else (rank + 1, *range(rank), rank)
    inverse = tuple(order.index(axis) for axis in range(kernel.ndim))
    kernel.data = kernel.data.permute(order).contiguous().permute(inverse)


def _depthwise_torch_kernel(kernel):
    """(kh, kw, in, multiplier) -> torch's grouped layout (in * multiplier, 1, kh, kw)."""
    kh, kw, channels, multiplier = kernel.shape
    return kernel.reshape(kh, kw, 1, channels * multiplier).permute(3, 2, 0, 1)


def _check_input(layer, input_shape, rank):
    """Checks a channels-last input shape of the given spatial rank; returns its channels."""
    _check_rank(layer, input_shape, rank)
    if input_shape[-1] is None:
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) needs a known number "
                         f"of channels (last axis), but received input shape {input_shape}.")
    return input_shape[-1]


def _check_rank(layer, input_shape, rank):
    """Checks that a shape is (batch, *spatial, channels) with `rank` spatial axes."""
    if not isinstance(input_shape, tuple) or len(input_shape) != rank + 2:
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) expects inputs of rank {rank + 2}, "
            f"(batch, {_SPATIAL_NAMES[rank]}, channels), but received input shape "
            f"{input_shape}.")


def _add_bias(layer, units):
    if layer.use_bias:
        layer.add_weight("bias", (units,), layer.bias_initializer,
                         regularizer=layer.bias_regularizer, constraint=layer.bias_constraint)
    else:
        layer.bias = None


def _build_activation(layer, input_shape):
    if isinstance(layer.activation, Layer) and not layer.activation.built:
        layer.activation._build_with(layer.compute_output_shape(input_shape))  # e.g. PReLU


def _positive_int(value, argument, cls):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Argument `{argument}` of {cls} must be a positive integer, but "
                         f"received: {value!r}.")
    return int(value)


def _int_tuple(value, rank, argument, cls, minimum=1):
    """An int or a sequence of `rank` ints (each >= minimum) -> a tuple of `rank` ints."""
    values = (value,) * rank if isinstance(value, numbers.Integral) else value
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    if len(values) != rank or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                                  or v < minimum for v in values):
        raise ValueError(f"Argument `{argument}` of {cls} must be an integer >= {minimum} or a "
                         f"tuple of {rank} such integers, but received: {value!r}.")
    return tuple(int(v) for v in values)


def _data_format(value, cls):
    if value not in (None, "channels_last"):
        raise ValueError(f"Argument `data_format` of {cls} must be None or 'channels_last' "
                         f"(kiln's images are (batch, height, width, channels); permute "
                         f"channels-first data with x.permute(0, 2, 3, 1)), but received: "
                         f"{value!r}.")
    return "channels_last"


def _padding(value, allowed, cls):
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        raise ValueError(f"Argument `padding` of {cls} must be one of {list(allowed)}, but "
                         f"received: {value!r}.")
    return padding

