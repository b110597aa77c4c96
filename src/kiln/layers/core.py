"""Core layers: Dense, Activation, Masking, Lambda, and TorchModuleWrapper for any torch module."""

import numbers

import torch

from kiln import activations, constraints, initializers, regularizers
from kiln.engine.layer import Layer


class Dense(Layer):
    """A fully connected layer: `activation(inputs @ kernel + bias)`.

    The kernel is stored in Keras' layout `(input_dim, units)`, so `get_weights()` and the
    torch `state_dict()` agree with Keras.

    Args:
        units: positive int, the number of outputs.
        activation: name, function or layer applied to the output (default: none).
        use_bias: whether to add a bias vector.
        kernel_initializer: initializer of the kernel (default ``"glorot_uniform"``).
        bias_initializer: initializer of the bias (default ``"zeros"``).
        kernel_regularizer, bias_regularizer: penalties added to the loss.
        activity_regularizer: penalty on the layer's output, added to the loss.
        kernel_constraint, bias_constraint: projections applied after each update.

    Example:

    >>> layer = kiln.layers.Dense(300, activation="relu")
    >>> layer(torch.zeros(32, 784)).shape
    torch.Size([32, 300])
    """

    supports_masking = True  # applied per step, so a mask on (batch, steps) still holds

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1:
            raise ValueError(f"Argument `units` of Dense must be a positive integer, but "
                             f"received: {units!r}.")
        self.units = int(units)
        set_kernel_and_bias_arguments(self, activation, use_bias, kernel_initializer,
                                      bias_initializer, kernel_regularizer, bias_regularizer,
                                      kernel_constraint, bias_constraint)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Layer {self.name!r} (Dense) needs inputs with a known last axis "
                             f"of rank >= 2, but received input shape {input_shape}.")
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        else:
            self.bias = None
        if isinstance(self.activation, Layer) and not self.activation.built:
            self.activation._build_with(tuple(input_shape[:-1]) + (self.units,))  # e.g. PReLU

    def call(self, inputs):
        if inputs.dtype != self.kernel.dtype:
            inputs = inputs.to(self.kernel.dtype)
        outputs = torch.nn.functional.linear(inputs, self.kernel.T, self.bias)
        if not self._linear_activation:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, **kernel_and_bias_config(self)}


class Activation(Layer):
    """Applies an activation function to its input.

    Args:
        activation: name (``"relu"``), function, or layer.

    Example:

    >>> kiln.layers.Activation("relu")(torch.tensor([[-1.0, 2.0]]))
    tensor([[0., 2.]])
    """

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Masking(Layer):
    """Marks the time steps whose features all equal `mask_value` as padding, and zeroes them.

    On inputs `(batch, steps, features)` the mask is `any(inputs != mask_value, axis=-1)`: a
    step is real when at least one of its features differs from `mask_value`. The output is
    the input with the padding steps set to zero, and it carries the mask, so that the next
    layers skip those steps (recurrent layers keep their state over them, the loss of a
    sequence output ignores them).

    Args:
        mask_value: the value that marks padding (default 0.0).

    Example:

    >>> inputs = torch.tensor([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]])
    >>> masking = kiln.layers.Masking(mask_value=0.0)
    >>> masking.compute_mask(inputs)
    tensor([[ True, False,  True]])
    >>> model = kiln.Sequential([kiln.layers.Masking(input_shape=[None, 2]),
    ...                          kiln.layers.LSTM(8)])
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
            raise TypeError(f"Argument `mask_value` of Masking must be a number, but received: "
                            f"{mask_value!r}.")
        self.mask_value = float(mask_value)

    def call(self, inputs):
        keep = self.compute_mask(inputs).unsqueeze(-1)
        return inputs * keep.to(inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        """Returns `any(inputs != mask_value, axis=-1)`: True for the real steps."""
        return (inputs != self.mask_value).any(dim=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class Lambda(Layer):
    """Wraps a function of torch tensors as a layer.

    As in Keras, the output carries no mask unless `mask` says which: a Lambda may change the
    time axis, so the input's mask is not passed on by default.

    Args:
        function: callable taking the inputs (and `**arguments`), returning tensors.
        output_shape: optional output shape (without batch axis); otherwise found by a trial run.
        mask: optional callable `mask(inputs, input_mask)` returning the output's mask (e.g.
            `lambda inputs, mask: mask` for a per-step function).
        arguments: optional dict of keyword arguments passed to `function`.

    Example:

    >>> double = kiln.layers.Lambda(lambda x: 2 * x)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Argument `function` of Lambda must be callable, but received: "
                             f"{function!r}.")
        if mask is not None and not callable(mask):
            raise ValueError(f"Argument `mask` of Lambda must be None or a callable "
                             f"`mask(inputs, input_mask)`, but received: {mask!r}.")
        self.function = function
        self.mask = mask
        self.supports_masking = mask is not None
        self.arguments = dict(arguments or {})
        self._declared_output_shape = None if output_shape is None else tuple(output_shape)

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def compute_mask(self, inputs, mask=None):
        """Returns `self.mask(inputs, mask)`, or None when the Lambda has no `mask`."""
        return None if self.mask is None else self.mask(inputs, mask)

    def _has_static_output_shape(self):
        return self._declared_output_shape is not None

    def compute_output_shape(self, input_shape):
        if self._declared_output_shape is None:
            return Layer.compute_output_shape(self, input_shape)
        return (input_shape[0],) + self._declared_output_shape

    def get_config(self):
        raise NotImplementedError(
            f"Lambda layer {self.name!r} wraps Python code, which kiln never serializes (loading "
            "it would run code from a file). Write a Layer subclass and register it instead."
        )


class TorchModuleWrapper(Layer):
    """Uses any `torch.nn.Module` as a kiln layer (Sequential wraps modules automatically).

    Args:
        module: the torch module; its parameters become the layer's weights.

    Example:

    >>> model = kiln.Sequential([torch.nn.Linear(8, 30), kiln.layers.Dense(1)])
    """

    def __init__(self, module, **kwargs):
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"TorchModuleWrapper expects a torch.nn.Module, but received: "
                             f"{module!r}.")
        super().__init__(**kwargs)
        self.module = module.train(False)

    def call(self, inputs, training=None):
        if self.module.training != bool(training):
            self.module.train(bool(training))
        return self.module(inputs)

    def get_config(self):
        raise NotImplementedError(
            f"TorchModuleWrapper {self.name!r} holds an arbitrary torch module, which has no "
            "config; save its weights with state_dict() instead."
        )


def set_kernel_and_bias_arguments(layer, activation, use_bias, kernel_initializer,
                                  bias_initializer, kernel_regularizer, bias_regularizer,
                                  kernel_constraint, bias_constraint):
    """Resolves and stores the arguments of the layers with a kernel and a bias (Dense and the
    convolutions)."""
    layer.activation = activations.get(activation)
    layer.use_bias = bool(use_bias)
    layer.kernel_initializer = initializers.get(kernel_initializer)
    layer.bias_initializer = initializers.get(bias_initializer)
    layer.kernel_regularizer = regularizers.get(kernel_regularizer)
    layer.bias_regularizer = regularizers.get(bias_regularizer)
    layer.kernel_constraint = constraints.get(kernel_constraint)
    layer.bias_constraint = constraints.get(bias_constraint)
    layer._linear_activation = layer.activation is activations.linear


def kernel_and_bias_config(layer):
    """The config entries of the arguments `set_kernel_and_bias_arguments` stored."""
    return {"activation": activations.serialize(layer.activation), "use_bias": layer.use_bias,
            "kernel_initializer": initializers.serialize(layer.kernel_initializer),
            "bias_initializer": initializers.serialize(layer.bias_initializer),
            "kernel_regularizer": serialize_or_none(regularizers, layer.kernel_regularizer),
            "bias_regularizer": serialize_or_none(regularizers, layer.bias_regularizer),
            "activity_regularizer": serialize_or_none(regularizers, layer.activity_regularizer),
            "kernel_constraint": serialize_or_none(constraints, layer.kernel_constraint),
            "bias_constraint": serialize_or_none(constraints, layer.bias_constraint)}


def serialize_or_none(module, obj):
    """`module.serialize(obj)`, or None when there is no object (e.g. no regularizer)."""
    return None if obj is None else module.serialize(obj)
