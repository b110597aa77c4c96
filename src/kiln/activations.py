"""Activation functions on torch tensors, with Keras names, arguments and defaults.

Each function maps a tensor to a tensor of the same shape using torch's fused kernels, so an
activation costs one op on the training hot path. Layers resolve ``activation="relu"`` through
:func:`get`, which returns the function itself: calling it adds no overhead.

``swish`` and ``silu`` are the same function, as are ``hard_swish`` and ``hard_silu``. Note that
the *function* :func:`leaky_relu` defaults to a slope of 0.2 (as in Keras 3), while the
``LeakyReLU`` layer keeps the book's default ``alpha=0.3``.
"""

import torch
import torch.nn.functional as F

from kiln.saving import registry


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit, optionally leaky, capped and shifted.

    Returns ``x`` above `threshold` (capped at `max_value` when given) and
    ``negative_slope * (x - threshold)`` below it. With the defaults this is ``max(x, 0)``.

    Args:
        x: input tensor.
        negative_slope: slope below the threshold.
        max_value: optional cap on the output above the threshold.
        threshold: the value below which the output is damped.

    Returns:
        A tensor of the same shape as `x`.

    Example:

    >>> kiln.activations.relu(torch.tensor([-2.0, 1.0, 8.0]), max_value=6.0)
    tensor([0., 1., 6.])
    """
    if threshold == 0.0:
        x = F.leaky_relu(x, negative_slope) if negative_slope else F.relu(x)
        return x if max_value is None else x.clamp(max=max_value)
    above = x if max_value is None else x.clamp(max=max_value)
    return torch.where(x > threshold, above, (x - threshold) * negative_slope)


def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU: ``x`` for ``x >= 0``, ``negative_slope * x`` otherwise.

    Args:
        x: input tensor.
        negative_slope: slope for negative inputs.

    Example:

    >>> kiln.activations.leaky_relu(torch.tensor([-1.0, 2.0]))
    tensor([-0.2000,  2.0000])
    """
    return F.leaky_relu(x, negative_slope)


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        x: input tensor.
        alpha: value approached for large negative inputs (as ``-alpha``).

    Example:

    >>> kiln.activations.elu(torch.tensor([-1.0, 2.0]))
    tensor([-0.6321,  2.0000])
    """
    return F.elu(x, alpha)


def selu(x):
    """Scaled exponential linear unit (self-normalizing; use it with ``lecun_normal`` weights).

    ``scale * x`` for ``x > 0`` and ``scale * alpha * (exp(x) - 1)`` otherwise, with
    ``alpha ~= 1.6733`` and ``scale ~= 1.0507``.

    Example:

    >>> kiln.layers.Dense(100, activation="selu", kernel_initializer="lecun_normal")
    """
    return F.selu(x)


def gelu(x, approximate=False):
    """Gaussian error linear unit: ``x * Phi(x)``, with ``Phi`` the standard normal CDF.

    Args:
        x: input tensor.
        approximate: use the tanh approximation instead of the exact erf form.

    Example:

    >>> kiln.activations.gelu(torch.tensor([1.0]))
    tensor([0.8413])
    """
    return F.gelu(x, approximate="tanh" if approximate else "none")


def silu(x):
    """Swish / SiLU: ``x * sigmoid(x)``. Also available as ``swish``.

    Example:

    >>> kiln.activations.silu(torch.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7311])
    """
    return F.silu(x)


swish = silu


def mish(x):
    """Mish: ``x * tanh(softplus(x))``.

    Example:

    >>> kiln.activations.mish(torch.tensor([1.0]))
    tensor([0.8651])
    """
    return F.mish(x)


def sigmoid(x):
    """Logistic sigmoid: ``1 / (1 + exp(-x))``.

    Example:

    >>> kiln.activations.sigmoid(torch.tensor([0.0]))
    tensor([0.5000])
    """
    return torch.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent.

    Example:

    >>> kiln.activations.tanh(torch.tensor([0.0]))
    tensor([0.])
    """
    return torch.tanh(x)


def softmax(x, axis=-1):
    """Softmax: exponentials normalized to sum to 1 along `axis`.

    Args:
        x: input tensor.
        axis: the axis along which the outputs sum to 1.

    Example:

    >>> kiln.activations.softmax(torch.tensor([[0.0, 0.0]]))
    tensor([[0.5000, 0.5000]])
    """
    return torch.softmax(x, axis)


def log_softmax(x, axis=-1):
    """Logarithm of the softmax along `axis`, computed stably.

    Args:
        x: input tensor.
        axis: the axis along which the softmax is normalized.

    Example:

    >>> kiln.activations.log_softmax(torch.tensor([[0.0, 0.0]]))
    tensor([[-0.6931, -0.6931]])
    """
    return torch.log_softmax(x, axis)


def softplus(x):
    """Softplus: ``log(1 + exp(x))``.

    Example:

    >>> kiln.activations.softplus(torch.tensor([0.0]))
    tensor([0.6931])
    """
    return F.softplus(x)


def softsign(x):
    """Softsign: ``x / (1 + |x|)``.

    Example:

    >>> kiln.activations.softsign(torch.tensor([1.0]))
    tensor([0.5000])
    """
    return F.softsign(x)


def exponential(x):
    """Exponential: ``exp(x)``.

    Example:

    >>> kiln.activations.exponential(torch.tensor([0.0]))
    tensor([1.])
    """
    return torch.exp(x)


def hard_sigmoid(x):
    """Piecewise-linear sigmoid: ``relu6(x + 3) / 6`` (Keras 3 definition).

    Example:

    >>> kiln.activations.hard_sigmoid(torch.tensor([-4.0, 0.0, 4.0]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    return F.hardsigmoid(x)


def hard_silu(x):
    """Hard swish / hard SiLU: ``x * relu6(x + 3) / 6``. Also available as ``hard_swish``.

    Example:

    >>> kiln.activations.hard_silu(torch.tensor([-4.0, 1.0, 4.0]))
    tensor([-0.0000, 0.6667, 4.0000])
    """
    return F.hardswish(x)


hard_swish = hard_silu


def relu6(x):
    """ReLU capped at 6: ``min(max(x, 0), 6)``.

    Example:

    >>> kiln.activations.relu6(torch.tensor([-1.0, 3.0, 8.0]))
    tensor([0., 3., 6.])
    """
    return F.relu6(x)


def linear(x):
    """Identity activation: returns `x` unchanged (what ``activation=None`` means).

    Example:

    >>> kiln.activations.linear(torch.tensor([-1.0]))
    tensor([-1.])
    """
    return x


def get(identifier):
    """Returns an activation function from a name or a callable.

    Args:
        identifier: None (the identity, :func:`linear`), a name such as ``"relu"``, a dict as
            returned by :func:`serialize` for an activation object, or any callable, such as a
            function or a layer object like ``kiln.layers.LeakyReLU(alpha=0.2)``.

    Returns:
        A callable mapping a tensor to a tensor; a callable input is returned unchanged.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones) or any other input.

    Example:

    >>> kiln.activations.get("relu") is kiln.activations.relu
    True
    """
    if identifier is None:
        return linear
    return registry.get_object(identifier, deserialize, "activation", base_class=None)


def serialize(activation):
    """Returns the name of a built-in or registered activation, or the config of an object.

    Args:
        activation: an activation function, or a callable object with `get_config` (such as a
            layer used as an activation).

    Returns:
        The name (``"relu"``) for a function; ``{"class_name": ..., "config": ...}`` for an object.

    Example:

    >>> kiln.activations.serialize(kiln.activations.swish)
    'silu'
    """
    if activation in _NAME_OF:
        return _NAME_OF[activation]
    return registry.serialize_object(activation)


def deserialize(config, custom_objects=None):
    """Returns the activation a name or a :func:`serialize` dict refers to.

    Args:
        config: a name such as ``"relu"``, or ``{"class_name": ..., "config": ...}`` for an
            activation object (a registered class, one in `custom_objects`, or a kiln layer).
        custom_objects: optional mapping of names to custom functions or classes.

    Returns:
        The activation function, or a new activation object.

    Example:

    >>> kiln.activations.deserialize("swish") is kiln.activations.silu
    True
    """
    if isinstance(config, str):
        return registry.resolve(config, _BY_NAME, "activation", custom_objects)
    registry.check_config(config, "activation")
    cls = registry.get_registered_object(config["class_name"], custom_objects) or _layer_class(
        config["class_name"]
    )
    if cls is None:
        raise ValueError(
            f"Unknown activation class: {config['class_name']!r}. Register it with "
            "kiln.saving.register_serializable or pass it in `custom_objects`."
        )
    return cls.from_config(config.get("config") or {})


_BY_NAME = {
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
    "gelu": gelu,
    "silu": silu,
    "swish": silu,
    "mish": mish,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "softplus": softplus,
    "softsign": softsign,
    "exponential": exponential,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "relu6": relu6,
    "linear": linear,
}
# The canonical name of each function: the first name listed for it above.
_NAME_OF = {function: name for name, function in reversed(_BY_NAME.items())}


def _layer_class(class_name):
    """Returns the kiln layer class named `class_name` (a layer used as an activation), or None."""
    from kiln import layers  # imported here: the layers import this module

    found = getattr(layers, class_name, None)
    return found if isinstance(found, type) else None
