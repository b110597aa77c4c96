"""Normalization layers: BatchNormalization and LayerNormalization.

Both normalize over the feature axes given by `axis` (default: the last, as in Keras) with
torch's fused kernels. BatchNormalization follows Keras exactly where torch differs: the moving
variance is updated with the batch's *biased* variance (torch's `running_var` uses the unbiased
one), `momentum` weighs the old value (torch's weighs the new one), and a frozen layer
(``trainable = False``) runs in inference mode even when called with ``training=True``.
"""

import math

import torch

from kiln import constraints, initializers, regularizers
from kiln.engine.layer import Layer
from kiln.layers.core import serialize_or_none
from kiln.utils.argument_checks import check_positive


class _ScaleAndOffset(Layer):
    """Base of the normalization layers: the axis, epsilon and the learned scale (gamma) and
    offset (beta) with their initializers, regularizers and constraints."""

    supports_masking = True  # element-wise or per step: a mask still holds

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                 beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                 **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis(axis, type(self).__name__)
        self.epsilon = check_positive(epsilon, "epsilon")
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": serialize_or_none(regularizers, self.beta_regularizer),
                "gamma_regularizer": serialize_or_none(regularizers, self.gamma_regularizer),
                "beta_constraint": serialize_or_none(constraints, self.beta_constraint),
                "gamma_constraint": serialize_or_none(constraints, self.gamma_constraint)}


class BatchNormalization(_ScaleAndOffset):
    """Normalizes each feature with the batch's statistics while training and with moving
    averages of them at inference, then scales by `gamma` and shifts by `beta`.

    While training, the output is ``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the
    mean and (biased) variance of the batch, and the moving statistics are updated as
    ``moving = moving * momentum + batch_statistic * (1 - momentum)``. At inference, and always
    when the layer is frozen (``layer.trainable = False``, as for transfer learning), the moving
    statistics replace the batch's and nothing is updated.

    The weights are, in Keras order, `gamma` and `beta` (trainable) and `moving_mean` and
    `moving_variance` (non-trainable), each shaped like the normalized axes: a
    ``BatchNormalization`` after ``Dense(300)`` has 1,200 parameters, 600 of them non-trainable.

    Args:
        axis: int or list of ints, the feature axes (default -1: channels-last, as in Keras).
            Statistics are computed over all the other axes.
        momentum: float in [0, 1], the weight of the old value in the moving averages.
        epsilon: positive float added to the variance to avoid dividing by zero.
        center: whether to add the learned offset `beta`.
        scale: whether to multiply by the learned factor `gamma`.
        beta_initializer, gamma_initializer: initializers of `beta` (zeros) and `gamma` (ones).
        moving_mean_initializer, moving_variance_initializer: initializers of the moving
            statistics (zeros and ones).
        beta_regularizer, gamma_regularizer: optional penalties on `beta` and `gamma`.
        beta_constraint, gamma_constraint: optional constraints on `beta` and `gamma`.

    Example:

    >>> model = kiln.Sequential([
    ...     kiln.layers.Input(shape=[28, 28]),
    ...     kiln.layers.Flatten(),
    ...     kiln.layers.Dense(300, kernel_initializer="he_normal", use_bias=False),
    ...     kiln.layers.BatchNormalization(),
    ...     kiln.layers.Activation("relu"),
    ...     kiln.layers.Dense(10, activation="softmax"),
    ... ])
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) \
                or not 0 <= momentum <= 1:
            raise ValueError(f"Argument `momentum` of BatchNormalization must be a number in "
                             f"[0, 1], but received: {momentum!r}.")
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape):
        axes, shape = _feature_axes(self, input_shape)
        _add_scale_and_offset(self, shape)
        self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", shape, self.moving_variance_initializer,
                        trainable=False)
        # torch's kernels take the features on axis 1. When they already are there (a
        # (batch, features) input, or channels-first images with axis=1) the input goes in as
        # is; otherwise the feature axes are moved last (a no-op for channels-last inputs) and
        # the rest is flattened into a (samples, features) matrix, a view of contiguous input.
        rank = len(input_shape)
        self._direct = axes == (1,)
        others = tuple(a for a in range(rank) if a not in axes)
        self._permutation = None if others + axes == tuple(range(rank)) else others + axes
        self._inverse_permutation = None if self._permutation is None else tuple(
            self._permutation.index(a) for a in range(rank))
        self._features = math.prod(shape)
        self._flat_weights = len(axes) > 1
        # Channels-last images (4-D or 5-D, features last) go in as torch's channels-first view
        # of the same memory (its channels_last format), which its kernels read fastest.
        self._channels_first_view = None
        if rank in (4, 5) and axes == (rank - 1,):
            self._channels_first_view = (0, rank - 1, *range(1, rank - 1))
            self._inverse_permutation = (0, *range(2, rank), 1)

    def call(self, inputs, training=None):
        if inputs.dtype != self.moving_mean.dtype:
            inputs = inputs.to(self.moving_mean.dtype)
        if self._direct:
            return self._normalize(inputs, training)
        if self._channels_first_view is not None:  # images: torch's channels_last kernels
            outputs = self._normalize(inputs.permute(self._channels_first_view), training)
            return outputs.permute(self._inverse_permutation)
        moved = inputs if self._permutation is None else inputs.permute(self._permutation)
        outputs = self._normalize(moved.reshape(-1, self._features), training).reshape(moved.shape)
        return outputs if self._permutation is None else outputs.permute(self._inverse_permutation)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(
                    self.moving_variance_initializer)}

    def _normalize(self, inputs, training):
        """Batch-normalizes `inputs`, whose features lie on axis 1."""
        gamma, beta, mean, variance = self.gamma, self.beta, self.moving_mean, self.moving_variance
        if self._flat_weights:
            gamma, beta, mean, variance = (None if w is None else w.reshape(-1)
                                           for w in (gamma, beta, mean, variance))
        if not (training and self._trainable):
            return torch.batch_norm(inputs, gamma, beta, mean, variance, False, 0.0,
                                    self.epsilon, True)
        # One fused kernel gives the output, the batch mean and 1 / sqrt(biased var + epsilon),
        # whose variance is recovered to float rounding (a constant feature may give -1e-10:
        # harmless, epsilon is added back before use). The moving statistics are then updated
        # in place in one multi-tensor op, outside autograd; `inverse_std` is left unmodified,
        # as the backward pass reads it.
        outputs, batch_mean, inverse_std = torch.native_batch_norm(
            inputs, gamma, beta, None, None, True, 0.0, self.epsilon)
        with torch.no_grad():
            batch_variance = inverse_std.pow(-2).sub_(self.epsilon)
            torch._foreach_lerp_((mean, variance), (batch_mean, batch_variance),
                                 1.0 - self.momentum)
        return outputs


class LayerNormalization(_ScaleAndOffset):
    """Normalizes each sample over its feature axes, then scales by `gamma` and shifts by `beta`.

    The output is ``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean and (biased)
    variance of each sample over `axis`; training and inference compute the same thing.

    Args:
        axis: int or list of ints, the axes to normalize over (default -1, the last).
        epsilon: positive float added to the variance to avoid dividing by zero.
        center: whether to add the learned offset `beta`.
        scale: whether to multiply by the learned factor `gamma`.
        beta_initializer, gamma_initializer: initializers of `beta` (zeros) and `gamma` (ones).
        beta_regularizer, gamma_regularizer: optional penalties on `beta` and `gamma`.
        beta_constraint, gamma_constraint: optional constraints on `beta` and `gamma`.

    Example:

    >>> layer = kiln.layers.LayerNormalization()
    >>> layer(torch.tensor([[1.0, 3.0]]))
    tensor([[-0.9995,  0.9995]])
    """

    def __init__(self, axis=-1, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         **kwargs)

    def build(self, input_shape):
        axes, shape = _feature_axes(self, input_shape)
        _add_scale_and_offset(self, shape)
        # torch's layer_norm normalizes over trailing axes: other axes are moved last first.
        rank = len(input_shape)
        trailing = tuple(range(rank - len(axes), rank))
        self._moved_from = None if axes == trailing else axes
        self._moved_to = trailing
        self._normalized_shape = shape

    def call(self, inputs):
        if inputs.dtype != self._dtype:
            inputs = inputs.to(self._dtype)
        if self._moved_from is None:
            return torch.nn.functional.layer_norm(inputs, self._normalized_shape, self.gamma,
                                                  self.beta, self.epsilon)
        moved = inputs.movedim(self._moved_from, self._moved_to)
        outputs = torch.nn.functional.layer_norm(moved, self._normalized_shape, self.gamma,
                                                 self.beta, self.epsilon)
        return outputs.movedim(self._moved_to, self._moved_from)

    def compute_output_shape(self, input_shape):
        return input_shape



def _check_axis(axis, layer_name):
    """Returns `axis` (an int or a non-empty list of distinct ints) as given, or raises."""
    axes = [axis] if isinstance(axis, int) else axis
    if not isinstance(axes, (list, tuple)) or not axes or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in axes) \
            or len(set(axes)) != len(axes):
        raise ValueError(f"Argument `axis` of {layer_name} must be an int or a list of distinct "
                         f"ints, but received: {axis!r}.")
    return axis if isinstance(axis, int) else list(axis)


def _feature_axes(layer, input_shape):
    """Resolves `layer.axis` for `input_shape`: the sorted positive axes and their sizes."""
    rank = len(input_shape)
    requested = [layer.axis] if isinstance(layer.axis, int) else layer.axis
    axes = sorted(a + rank if a < 0 else a for a in requested)
    if len(set(axes)) != len(axes) or not all(1 <= a < rank for a in axes):
        raise ValueError(
            f"Argument `axis` of {type(layer).__name__} is {layer.axis!r}, which does not name "
            f"distinct feature axes of inputs of shape {input_shape} (axis 0 is the batch)."
        )
    shape = tuple(input_shape[a] for a in axes)
    if None in shape:
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) needs known sizes on the axes it "
            f"normalizes ({layer.axis!r}), but received input shape {input_shape}."
        )
    return tuple(axes), shape


def _add_scale_and_offset(layer, shape):
    """Adds the `gamma` and `beta` weights a normalization layer uses (None when disabled)."""
    if layer.scale:
        layer.add_weight("gamma", shape, layer.gamma_initializer,
                         regularizer=layer.gamma_regularizer, constraint=layer.gamma_constraint)
    else:
        layer.gamma = None
    if layer.center:
        layer.add_weight("beta", shape, layer.beta_initializer,
                         regularizer=layer.beta_regularizer, constraint=layer.beta_constraint)
    else:
        layer.beta = None


class LocalResponseNormalization(Layer):
    """Local response normalization across channels, as AlexNet uses it (the book's
    `tf.nn.local_response_normalization`), on channels-last inputs.

    Each value is divided by `(bias + alpha * s) ** beta`, where `s` is the sum of the squares
    of the values at the same position in the `depth_radius` channels on either side (and its
    own), as TensorFlow defines it.

    Args:
        depth_radius: channels on each side included in the sum.
        bias: added to the scaled sum (must be > 0).
        alpha: scale of the sum of squares.
        beta: exponent.

    Example:

    >>> lrn = kiln.layers.LocalResponseNormalization(depth_radius=2, bias=1, alpha=0.00002,
    ...                                              beta=0.75)
    """

    def __init__(self, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5, **kwargs):
        super().__init__(**kwargs)
        if isinstance(depth_radius, bool) or not isinstance(depth_radius, int) or depth_radius < 0:
            raise ValueError(f"Argument `depth_radius` of LocalResponseNormalization must be an "
                             f"integer >= 0, but received: {depth_radius!r}.")
        self.depth_radius = depth_radius
        self.bias = check_positive(bias, "bias")
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs):
        size = 2 * self.depth_radius + 1
        channels_first = inputs.movedim(-1, 1)
        # torch divides alpha by the window size; TensorFlow does not.
        normalized = torch.nn.functional.local_response_norm(
            channels_first, size, alpha=self.alpha * size, beta=self.beta, k=self.bias)
        return normalized.movedim(1, -1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}
