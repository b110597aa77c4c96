"""Recurrent cells: one time step of SimpleRNN, LSTM and GRU, and StackedRNNCells.

A cell is a layer with a `state_size` (an int, or a list of ints for several states) whose
`call(inputs, states, training=None)` takes one time step `(batch, features)` and the list of
states `(batch, size)`, and returns `(output, new_states)`. `kiln.layers.RNN` runs any cell over a
sequence; `SimpleRNN`, `LSTM` and `GRU` run these cells, on torch's fused kernels when they can.

The weights are stored in Keras' layouts and gate orders (LSTM: i, f, c, o; GRU: z, r, h), so
`get_weights()` / `set_weights()` exchange weights with Keras unchanged.
"""

import numbers

import torch

from kiln import activations, constraints, initializers, regularizers
from kiln.engine.layer import Layer


class SimpleRNNCell(Layer):
    """The cell of a fully connected RNN: `h = activation(x W + h_prev U + b)`.

    `W` is the `kernel`, `U` the `recurrent_kernel` and `b` the `bias`.

    Args:
        units: positive int, the size of the output and of the state.
        activation: activation of the output (default ``"tanh"``).
        use_bias: whether to add a bias vector.
        kernel_initializer: initializer of the input kernel `(input_dim, units)`
            (default ``"glorot_uniform"``).
        recurrent_initializer: initializer of the recurrent kernel `(units, units)`
            (default ``"orthogonal"``).
        bias_initializer: initializer of the bias `(units,)` (default ``"zeros"``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: penalties added to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: projections after each update.
        dropout: fraction of the inputs dropped while training (one mask per sequence).
        recurrent_dropout: fraction of the previous state dropped while training.

    Example:

    >>> cell = kiln.layers.SimpleRNNCell(4)
    >>> output, states = cell(torch.ones(2, 3), [torch.zeros(2, 4)])
    >>> output.shape
    torch.Size([2, 4])
    """

    _gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1:
            raise ValueError(f"Argument `units` of {owner} must be a positive integer, but "
                             f"received: {units!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _rate(dropout, "dropout", owner)
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout", owner)
        self._dropout_masks = None

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) expects one time step "
                             f"of shape (batch, features), but received input shape "
                             f"{input_shape}.")
        width = self._gates * self.units
        self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer,
                        regularizer=self.recurrent_regularizer,
                        constraint=self.recurrent_constraint)
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), self._bias_initializer_for_build(),
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        else:
            self.bias = None

    def call(self, inputs, states, training=None):
        state = _first_state(states)
        inputs, state_in = self._apply_dropout(inputs, state, training)
        outputs = torch.addmm(self.bias, inputs, self.kernel) if self.use_bias \
            else inputs @ self.kernel
        outputs = self.activation(outputs + state_in @ self.recurrent_kernel)
        return outputs, [outputs]

    def get_initial_state(self, batch_size, dtype=None, device=None):
        """Returns the zero states for `batch_size` sequences, as a list."""
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) \
            else [self.state_size]
        return [torch.zeros(batch_size, size, dtype=dtype or self._dtype, device=device)
                for size in sizes]

    def reset_dropout_mask(self):
        """Forgets the dropout masks, so that the next sequence draws new ones."""
        self._dropout_masks = None

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": serialize_or_none(regularizers, self.kernel_regularizer),
                "recurrent_regularizer": serialize_or_none(regularizers,
                                                            self.recurrent_regularizer),
                "bias_regularizer": serialize_or_none(regularizers, self.bias_regularizer),
                "kernel_constraint": serialize_or_none(constraints, self.kernel_constraint),
                "recurrent_constraint": serialize_or_none(constraints,
                                                           self.recurrent_constraint),
                "bias_constraint": serialize_or_none(constraints, self.bias_constraint),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout}

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer_for_build(self):
        return self.bias_initializer

    def _apply_dropout(self, inputs, state, training):
        """Applies this sequence's dropout masks (drawn at its first step) while training."""
        if not training or (not self.dropout and not self.recurrent_dropout):
            return inputs, state
        masks = self._dropout_masks
        if masks is None or masks[0] != inputs.shape[0]:
            masks = self._dropout_masks = (inputs.shape[0], _dropout_mask(inputs, self.dropout),
                                           _dropout_mask(state, self.recurrent_dropout))
        _, input_mask, state_mask = masks
        return (inputs if input_mask is None else inputs * input_mask,
                state if state_mask is None else state * state_mask)


class LSTMCell(SimpleRNNCell):
    """The cell of a long short-term memory layer (Hochreiter & Schmidhuber, 1997).

    With `z = x @ kernel + h_prev @ recurrent_kernel + bias` split into four gates in Keras'
    order i, f, c, o: `c = f * c_prev + i * activation(z_c)` and `h = o * activation(c)`, where
    i, f, o go through `recurrent_activation`. The states are `[h, c]`.

    Args:
        units: positive int, the size of the output and of each state.
        activation: activation of the candidate and of the output (default ``"tanh"``).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        unit_forget_bias: whether to initialize the forget gate's bias to ones (as Keras).
        **kwargs: the other arguments of `SimpleRNNCell` (use_bias, initializers,
            regularizers, constraints, dropout, recurrent_dropout).

    Example:

    >>> cell = kiln.layers.LSTMCell(4)
    >>> output, (h, c) = cell(torch.ones(2, 3), [torch.zeros(2, 4), torch.zeros(2, 4)])
    """

    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def call(self, inputs, states, training=None):
        h_prev, c_prev = states
        inputs, h_in = self._apply_dropout(inputs, h_prev, training)
        z = torch.addmm(self.bias, inputs, self.kernel) if self.use_bias \
            else inputs @ self.kernel
        z_i, z_f, z_c, z_o = (z + h_in @ self.recurrent_kernel).chunk(4, dim=-1)
        gate = self.recurrent_activation
        c = gate(z_f) * c_prev + gate(z_i) * self.activation(z_c)
        h = gate(z_o) * self.activation(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}

    def _bias_initializer_for_build(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        initializer, units = self.bias_initializer, self.units

        def forget_gate_ones(shape, dtype=None):
            return torch.cat([torch.as_tensor(initializer((units,), dtype=dtype), dtype=dtype),
                              torch.ones(units, dtype=dtype),
                              torch.as_tensor(initializer((2 * units,), dtype=dtype),
                                              dtype=dtype)])
        return forget_gate_ones


class GRUCell(SimpleRNNCell):
    """The cell of a gated recurrent unit layer (Cho et al., 2014), in Keras' formulation.

    Gates in Keras' order z (update), r (reset), h (candidate):
    `h = z * h_prev + (1 - z) * activation(x W_h + r * (h_prev U_h + b_rh) + b_h)` with
    `reset_after=True` (the default, torch's and cuDNN's formulation; the bias then has shape
    `(2, 3 * units)`: input bias and recurrent bias), or
    `activation(x W_h + (r * h_prev) U_h + b_h)` with `reset_after=False` (bias `(3 * units,)`).

    Args:
        units: positive int, the size of the output and of the state.
        activation: activation of the candidate (default ``"tanh"``).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        reset_after: whether the reset gate applies after the recurrent matrix product.
        **kwargs: the other arguments of `SimpleRNNCell`.

    Example:

    >>> cell = kiln.layers.GRUCell(4)
    >>> output, states = cell(torch.ones(2, 3), [torch.zeros(2, 4)])
    """

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def call(self, inputs, states, training=None):
        h_prev = _first_state(states)
        inputs, h_in = self._apply_dropout(inputs, h_prev, training)
        input_bias, recurrent_bias = self._split_bias()
        x_z, x_r, x_h = _affine(inputs, self.kernel, input_bias).chunk(3, dim=-1)
        gate = self.recurrent_activation
        if self.reset_after:
            h_z, h_r, h_h = _affine(h_in, self.recurrent_kernel, recurrent_bias).chunk(3, dim=-1)
            z, r = gate(x_z + h_z), gate(x_r + h_r)
            candidate = self.activation(x_h + r * h_h)
        else:
            units = self.units
            h_z, h_r = (h_in @ self.recurrent_kernel[:, :2 * units]).chunk(2, dim=-1)
            z, r = gate(x_z + h_z), gate(x_r + h_r)
            candidate = self.activation(x_h + (r * h_in) @ self.recurrent_kernel[:, 2 * units:])
        h = z * h_prev + (1 - z) * candidate
        return h, [h]

    def get_config(self):
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _split_bias(self):
        if not self.use_bias:
            return None, None
        if self.reset_after:
            return self.bias[0], self.bias[1]
        return self.bias, None


class StackedRNNCells(Layer):
    """Runs several cells one after the other at each time step, as one cell.

    The states are the concatenation of the cells' state lists; the output is the last cell's.

    Args:
        cells: list of cells (layers with `state_size`).

    Example:

    >>> cells = [kiln.layers.SimpleRNNCell(8), kiln.layers.LSTMCell(4)]
    >>> layer = kiln.layers.RNN(kiln.layers.StackedRNNCells(cells))
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells or not all(hasattr(cell, "state_size") for cell in cells):
            raise ValueError(f"Argument `cells` of StackedRNNCells must be a non-empty list of "
                             f"cells with a `state_size`, but received: {cells!r}.")
        self.cells = torch.nn.ModuleList(cells)
        self._state_counts = [len(state_sizes(cell)) for cell in cells]

    @property
    def state_size(self):
        return [size for cell in self.cells for size in state_sizes(cell)]

    @property
    def output_size(self):
        return cell_output_size(self.cells[-1])

    def build(self, input_shape):
        for cell in self.cells:
            if isinstance(cell, Layer):
                cell._build_with(tuple(input_shape))
            input_shape = (input_shape[0], cell_output_size(cell))

    def call(self, inputs, states, training=None):
        new_states, start = [], 0
        for cell, count in zip(self.cells, self._state_counts):
            inputs, cell_states = cell(inputs, list(states[start:start + count]),
                                       training=training)
            new_states += [cell_states] if isinstance(cell_states, torch.Tensor) \
                else list(cell_states)
            start += count
        return inputs, new_states

    def get_config(self):
        from kiln import layers
        return {**super().get_config(), "cells": [layers.serialize(cell) for cell in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from kiln import layers
        config = dict(config)
        config["cells"] = [layers.deserialize(cell, custom_objects) for cell in config["cells"]]
        return cls(**config)


def cell_output_size(cell):
    """The size of a cell's output: its `output_size`, else its first state's size."""
    size = getattr(cell, "output_size", None)
    return size if size is not None else state_sizes(cell)[0]


def state_sizes(cell):
    """A cell's state sizes as a list (one int per state)."""
    size = cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


def _first_state(states):
    return states if isinstance(states, torch.Tensor) else states[0]


def _affine(inputs, kernel, bias):
    return inputs @ kernel if bias is None else torch.addmm(bias, inputs, kernel)


def _dropout_mask(like, rate):
    if not rate:
        return None
    return torch.nn.functional.dropout(torch.ones_like(like), rate, training=True)


def _rate(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"Argument `{name}` of {owner} must be a float in [0, 1), but "
                         f"received: {value!r}.")
    return float(value)


def serialize_or_none(module, obj):
    return None if obj is None else module.serialize(obj)
