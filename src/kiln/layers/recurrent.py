"""Recurrent layers: RNN (any cell over a sequence), SimpleRNN, LSTM and GRU.

Inputs are `(batch, time, features)`; the time length may vary between calls (`None`). With the
default activations and no recurrent dropout, `SimpleRNN`, `LSTM` and `GRU` run on torch's fused
kernels (the ones behind `torch.nn.RNN` / `LSTM` / `GRU`, cuDNN on GPU) with their weights viewed
from the Keras-layout variables, so they train at torch's speed while `get_weights()` still
speaks Keras. Otherwise they loop over the time steps through their cell.

Masks come from the inputs (`Embedding(mask_zero=True)`, `Masking`) or from `mask=`. Masked steps
keep the previous states and repeat the previous output (zeros before the first real step), as
in Keras. A mask whose real steps form one block per sequence (padding after the sequence, as
TextVectorization and `padding="post"` make, or before it, as `padding="pre"` and
`go_backwards` make) still runs on the fused kernel (see `SimpleRNN._run_spans`); Keras' cuDNN
path takes right padding only. Other masks (holes inside a sequence) loop over the steps.
"""

import torch

from kiln import activations
from kiln.engine.layer import Layer
from kiln.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells, \
    cell_output_size, state_sizes

_VF = torch._VF
_SATURATED = 1e4  # a gate pre-activation whose sigmoid is exactly 1 (its negative: 0)


class RNN(Layer):
    """Runs a recurrent cell over the time axis of its inputs.

    Args:
        cell: a cell (a layer with `state_size`, optionally `output_size`, whose
            `call(inputs, states)` returns `(output, new_states)`), or a list of cells (stacked).
        return_sequences: return the output of every time step `(batch, time, units)` rather
            than the last one `(batch, units)`.
        return_state: also return the final states: `[output, *states]`.
        go_backwards: process the sequence in reverse (the returned sequence is reversed too).
        stateful: keep the final states of a batch as the initial states of the next call
            (sample i of a batch continues sample i of the previous one); `reset_states()`
            forgets them.
        unroll: accepted for Keras compatibility and ignored (loops are not unrolled).
        zero_output_for_mask: output zeros at masked steps instead of repeating the previous
            output.

    Call arguments:
        inputs: `(batch, time, features)` tensor.
        mask: optional `(batch, time)` boolean tensor; False steps are skipped. By default the
            mask that the inputs carry (from `Embedding(mask_zero=True)` or `Masking`).
        training: whether dropout applies.
        initial_state: optional list of initial state tensors (one per state).

    Example:

    >>> class LNSimpleRNNCell(kiln.layers.Layer):
    ...     def __init__(self, units, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.state_size = self.output_size = units
    ...         self.cell = kiln.layers.SimpleRNNCell(units, activation=None)
    ...         self.norm = kiln.layers.LayerNormalization()
    ...     def call(self, inputs, states):
    ...         outputs, _ = self.cell(inputs, states)
    ...         outputs = torch.tanh(self.norm(outputs))
    ...         return outputs, [outputs]
    >>> layer = kiln.layers.RNN(LNSimpleRNNCell(32), return_sequences=True)
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not isinstance(cell, torch.nn.Module) or not hasattr(cell, "state_size"):
            raise ValueError(f"Argument `cell` of {type(self).__name__} must be a layer with a "
                             f"`state_size` attribute, but received: {cell!r}.")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._states = None

    @property
    def states(self):
        """The states kept between calls by a stateful layer (None before the first call)."""
        return self._states

    def reset_states(self, states=None):
        """Forgets the kept states (the next call starts from zeros), or sets them to `states`."""
        self._states = None if states is None else [torch.as_tensor(s) for s in states]

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) expects inputs of "
                             f"rank 3 (batch, time, features) with known features, but received "
                             f"input shape {input_shape}.")
        step_shape = (input_shape[0], input_shape[-1])
        if isinstance(self.cell, Layer):
            self.cell._build_with(step_shape)
        if any(isinstance(m, Layer) and not m.built for m in self.cell.modules()):
            self._run_one_step(step_shape)  # builds a custom cell's lazily built sublayers

    def call(self, inputs, mask=None, training=None, initial_state=None):
        if inputs.dtype != self._dtype:
            inputs = inputs.to(self._dtype)
        states = self._starting_states(inputs, initial_state)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is not None:
            mask = torch.as_tensor(mask, dtype=torch.bool, device=inputs.device)
        if self.go_backwards:
            inputs = inputs.flip(1)
            mask = None if mask is None else mask.flip(1)
        sequence, last, states = self._run(inputs, states, mask, training)
        if self.stateful:
            self._states = [state.detach() for state in states]
        output = sequence if self.return_sequences else last
        return [output, *states] if self.return_state else output

    def compute_mask(self, inputs, mask=None):
        """The output sequence keeps the input's mask (reversed with `go_backwards`, since the
        sequence is); a last output and the states carry none."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = None
        if self.return_sequences and mask is not None:
            output_mask = mask.flip(1) if self.go_backwards else mask
        if self.return_state:
            return [output_mask] + [None] * len(state_sizes(self.cell))
        return output_mask

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        size = cell_output_size(self.cell)
        output = (batch, input_shape[1], size) if self.return_sequences else (batch, size)
        if not self.return_state:
            return output
        return [output] + [(batch, state) for state in state_sizes(self.cell)]

    def get_config(self):
        from kiln import layers
        return {**self._flags_config(), "cell": layers.serialize(self.cell)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from kiln import layers
        config = dict(config)
        cell = config.pop("cell")
        return cls(layers.deserialize(cell, custom_objects), **config)

    def _flags_config(self):
        return {**Layer.get_config(self), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}

    def _starting_states(self, inputs, initial_state):
        """The states to start from: `initial_state`, the kept states, or zeros (None)."""
        if initial_state is not None:
            states = [initial_state] if isinstance(initial_state, torch.Tensor) \
                else list(initial_state)
            expected = len(state_sizes(self.cell))
            if len(states) != expected:
                raise ValueError(f"Layer {self.name!r} expects `initial_state` to be a list of "
                                 f"{expected} tensors, but received {len(states)}.")
            return states
        if self.stateful and self._states is not None:
            if self._states[0].shape[0] != inputs.shape[0]:
                raise ValueError(
                    f"Stateful layer {self.name!r} keeps states for batches of "
                    f"{self._states[0].shape[0]} sequences, but received a batch of "
                    f"{inputs.shape[0]}: use a fixed batch size, or call reset_states().")
            return self._states
        return None

    def _run(self, inputs, states, mask, training):
        """Runs the sequence; returns (sequence of outputs, last output, final states)."""
        return self._loop(inputs, states, mask, training)

    def _loop(self, inputs, states, mask, training):
        cell = self.cell
        if states is None:
            states = self._zero_states(inputs)
        for module in cell.modules():
            if hasattr(module, "reset_dropout_mask"):
                module.reset_dropout_mask()
        outputs, previous = [], None
        for step, step_inputs in enumerate(inputs.unbind(1)):
            output, new_states = cell(step_inputs, states, training=training)
            new_states = [new_states] if isinstance(new_states, torch.Tensor) \
                else list(new_states)
            if mask is not None:
                keep = mask[:, step].unsqueeze(-1)
                new_states = [torch.where(keep, new, old) for new, old in zip(new_states, states)]
                if previous is None or self.zero_output_for_mask:
                    previous = torch.zeros_like(output)
                output = torch.where(keep, output, previous)
                previous = output
            states = new_states
            outputs.append(output)
        if not outputs:
            raise ValueError(f"Layer {self.name!r} received a sequence with 0 time steps.")
        sequence = torch.stack(outputs, 1) if self.return_sequences else None
        return sequence, outputs[-1], states

    def _run_one_step(self, step_shape):
        with torch.no_grad():
            zeros = torch.zeros(1, step_shape[-1], dtype=self._dtype)
            self.cell(zeros, self._zero_states(zeros), training=False)

    def _zero_states(self, inputs):
        return [inputs.new_zeros(inputs.shape[0], size) for size in state_sizes(self.cell)]


class SimpleRNN(RNN):
    """A fully connected RNN layer: the output is fed back as the next step's state.

    Runs on torch's fused `rnn_tanh` / `rnn_relu` kernel when the activation is tanh or relu and
    there is no recurrent dropout, also with a mask of padding before or after each sequence.

    Args:
        units: positive int, the size of the output and of the state.
        activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
        recurrent_constraint, bias_constraint, dropout, recurrent_dropout: as `SimpleRNNCell`.
        return_sequences, return_state, go_backwards, stateful, unroll: as `RNN`.
        activity_regularizer, name, dtype, input_shape...: as any `Layer`.

    Example:

    >>> model = kiln.Sequential([
    ...     kiln.layers.SimpleRNN(32, return_sequences=True, input_shape=[None, 1]),
    ...     kiln.layers.SimpleRNN(32),
    ...     kiln.layers.Dense(1),
    ... ])
    """

    _cell_class = SimpleRNNCell

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, **kwargs):
        cell_arguments = dict(
            units=units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout)
        self._init_layer(cell_arguments, return_sequences, return_state, go_backwards, stateful,
                         unroll, kwargs)

    def _init_layer(self, cell_arguments, return_sequences, return_state, go_backwards,
                    stateful, unroll, kwargs):
        """Builds the cell, then the RNN around it (shared by SimpleRNN, LSTM and GRU)."""
        cell_arguments["dtype"] = kwargs.get("dtype")
        cell_arguments["trainable"] = kwargs.get("trainable", True)
        cell_arguments["name"] = f"{kwargs['name']}_cell" if kwargs.get("name") else None
        cell = self._cell_class(**cell_arguments)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self._fused_kernel = self._choose_fused_kernel()

    def __getattr__(self, name):
        # As Keras, the layer exposes its cell's arguments and weights (layer.units, .kernel).
        if name in _CELL_ATTRIBUTES and "cell" in self.__dict__.get("_modules", {}):
            return getattr(self._modules["cell"], name)
        return super().__getattr__(name)

    def _choose_fused_kernel(self):
        cell = self.cell
        if cell.recurrent_dropout:
            return None
        if cell.activation is activations.tanh:
            return _VF.rnn_tanh
        if cell.activation is activations.relu:
            return _VF.rnn_relu
        return None

    def _run(self, inputs, states, mask, training):
        spans = None if mask is None or self._fused_kernel is None else _single_spans(mask)
        if self._fused_kernel is None or (mask is not None and spans is None):
            return self._loop(inputs, states, mask, training)
        cell = self.cell
        if training and cell.dropout:
            inputs = inputs * torch.nn.functional.dropout(
                inputs.new_ones(inputs.shape[0], 1, inputs.shape[2]), cell.dropout, True)
        hidden = self._fused_states(inputs, states)
        if spans is not None:
            return self._run_spans(inputs, hidden, mask, *spans)
        sequence, *final = self._fused_call(inputs, hidden, self._fused_weights())
        final = [state[0] for state in final]
        return sequence, final[0], final

    def _run_spans(self, inputs, hidden, mask, starts, lengths):
        """Runs the fused kernel on a batch whose real steps form one block per sequence
        (from `starts`, `lengths` steps long); returns what `_loop` would.

        Each block is first moved to the start of its row, so that the padding comes last and
        cannot reach the real steps; the kernel runs on over the padding, whose outputs are
        dropped, and the final states are those of step `length - 1`. (torch's packed
        sequences would skip the padding, but their backward pass on CPU is slower than
        running on.)
        """
        steps = inputs.shape[1]
        positions = torch.arange(steps, device=inputs.device)
        if bool(starts.any()):  # padding first: move each sequence's block to the start
            index = (positions + starts.unsqueeze(1)).clamp_max(steps - 1)
            inputs = inputs.gather(1, index.unsqueeze(-1).expand(-1, -1, inputs.shape[2]))
        last_step = (lengths - 1).clamp_min(0)
        sequence, final = self._fused_spans_call(inputs, hidden, lengths, last_step)
        initial = [hidden] if isinstance(hidden, torch.Tensor) else list(hidden)
        empty = (lengths == 0).unsqueeze(1)  # no real step: the states stay as they were
        final = [torch.where(empty, state[0], new) for state, new in zip(initial, final)]
        keep_last = mask[:, -1:] if self.zero_output_for_mask else ~empty
        last = final[0] * keep_last.to(final[0].dtype)
        if not self.return_sequences:
            return None, last, final
        # Step t of sequence b is its real step t - start, clamped to the last one (repeated).
        offset = positions.unsqueeze(0) - starts.unsqueeze(1)
        index = offset.clamp_min(0).minimum(last_step.unsqueeze(1))
        sequence = sequence.gather(1, index.unsqueeze(-1).expand(-1, -1, sequence.shape[2]))
        keep = mask if self.zero_output_for_mask else (offset >= 0) & ~empty
        return sequence * keep.unsqueeze(-1).to(sequence.dtype), last, final

    def _fused_spans_call(self, inputs, hidden, lengths, last_step):
        """The kernel's outputs on sequences padded at the end (right up to each length), and
        the final states: here the output of step `last_step`, which is the state."""
        sequence, *_ = self._fused_call(inputs, hidden, self._fused_weights())
        return sequence, [_at_steps(sequence, last_step)]

    def _fused_states(self, inputs, states):
        if states is None:
            return inputs.new_zeros(1, inputs.shape[0], self.cell.units)
        return states[0].unsqueeze(0)

    def _fused_call(self, inputs, hidden, weights):
        # cuDNN computes gradients only when run in its training mode, and reads the weights
        # from one contiguous buffer: packing them costs one copy (which cuDNN would otherwise
        # make itself, with a warning, at every call).
        if inputs.is_cuda:
            weights = _packed(weights)
        return self._fused_kernel(inputs, hidden, weights, self.cell.use_bias, 1, 0.0,
                                  torch.is_grad_enabled(), False, True)

    def _fused_weights(self):
        """torch's (w_ih, w_hh, b_ih, b_hh) as views of the Keras-layout variables."""
        cell = self.cell
        weights = [cell.kernel.T, cell.recurrent_kernel.T]
        if cell.use_bias:
            weights += [cell.bias, torch.zeros_like(cell.bias)]
        return weights

    def get_config(self):
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {**self._flags_config(), **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LSTM(SimpleRNN):
    """Long short-term memory layer (Hochreiter & Schmidhuber, 1997); states `[h, c]`.

    Weights in Keras' layout: kernel `(input_dim, 4 * units)` and recurrent kernel
    `(units, 4 * units)` with gates in the order i, f, c, o; bias `(4 * units,)`. With the
    default activations and no recurrent dropout it runs on torch's fused LSTM kernel.

    Args:
        units: positive int, the size of the output and of each state.
        activation: default ``"tanh"``; recurrent_activation: default ``"sigmoid"``.
        unit_forget_bias: initialize the forget gate's bias to ones (default True).
        **kwargs: as `SimpleRNN` (initializers, regularizers, constraints, dropout,
            recurrent_dropout, return_sequences, return_state, go_backwards, stateful, ...).

    Example:

    >>> model = kiln.Sequential([
    ...     kiln.layers.LSTM(32, return_sequences=True, input_shape=[None, 5]),
    ...     kiln.layers.Dense(14),
    ... ])
    """

    _cell_class = LSTMCell

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        cell_arguments = {key: kwargs.pop(key) for key in _CELL_ARGUMENTS if key in kwargs}
        cell_arguments.update(units=units, activation=activation,
                              recurrent_activation=recurrent_activation,
                              unit_forget_bias=unit_forget_bias)
        self._init_layer(cell_arguments, return_sequences, return_state, go_backwards, stateful,
                         unroll, kwargs)

    def _choose_fused_kernel(self):
        cell = self.cell
        if cell.recurrent_dropout or cell.activation is not activations.tanh or \
                cell.recurrent_activation is not activations.sigmoid:
            return None
        return _VF.lstm

    def _fused_states(self, inputs, states):
        if states is None:
            zeros = inputs.new_zeros(1, inputs.shape[0], self.cell.units)
            return zeros, zeros
        return states[0].unsqueeze(0), states[1].unsqueeze(0)

    def _fused_spans_call(self, inputs, hidden, lengths, last_step):
        """As `SimpleRNN`'s, with the cell state carried over the padding: an extra input,
        1 on the padding, shuts the input gate and opens the forget gate there (sigmoid of
        -/+1e4 is exactly 0 / 1 in floating point), so the kernel's final cell state is that
        of the last real step, and the padding receives no gradient."""
        units = self.cell.units
        padding = torch.arange(inputs.shape[1], device=inputs.device) >= lengths.unsqueeze(1)
        gate_column = inputs.new_zeros(4 * units, 1)
        gate_column[:units], gate_column[units:2 * units] = -_SATURATED, _SATURATED
        kernel, *others = self._fused_weights()
        inputs = torch.cat([inputs, padding.unsqueeze(-1).to(inputs.dtype)], -1)
        sequence, _, c = self._fused_call(inputs, hidden, [torch.cat([kernel, gate_column], 1),
                                                           *others])
        return sequence, [_at_steps(sequence, last_step), c[0]]


class GRU(SimpleRNN):
    """Gated recurrent unit layer (Cho et al., 2014), in Keras' formulation.

    Weights in Keras' layout: kernel `(input_dim, 3 * units)` and recurrent kernel
    `(units, 3 * units)` with gates in the order z, r, h; bias `(2, 3 * units)` (input and
    recurrent biases) with `reset_after=True`, else `(3 * units,)`. With the default activations,
    `reset_after=True` and no recurrent dropout it runs on torch's fused GRU kernel
    (which computes the same function, its gates reordered).

    Args:
        units: positive int, the size of the output and of the state.
        activation: default ``"tanh"``; recurrent_activation: default ``"sigmoid"``.
        reset_after: apply the reset gate after the recurrent matrix product (default True).
        **kwargs: as `SimpleRNN`.

    Example:

    >>> layer = kiln.layers.GRU(32, return_sequences=True)
    >>> layer(torch.zeros(4, 10, 5)).shape
    torch.Size([4, 10, 32])
    """

    _cell_class = GRUCell

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        cell_arguments = {key: kwargs.pop(key) for key in _CELL_ARGUMENTS if key in kwargs}
        cell_arguments.update(units=units, activation=activation,
                              recurrent_activation=recurrent_activation, reset_after=reset_after)
        self._init_layer(cell_arguments, return_sequences, return_state, go_backwards, stateful,
                         unroll, kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        units = self.cell.units
        # Keras' gate order z, r, h -> torch's r, z, n.
        order = torch.cat([torch.arange(units, 2 * units), torch.arange(units),
                           torch.arange(2 * units, 3 * units)])
        self.register_buffer("_torch_gate_order", order, persistent=False)

    def _choose_fused_kernel(self):
        cell = self.cell
        if cell.recurrent_dropout or not cell.reset_after or \
                cell.activation is not activations.tanh or \
                cell.recurrent_activation is not activations.sigmoid:
            return None
        return _VF.gru

    def _fused_weights(self):
        cell, order = self.cell, self._torch_gate_order
        weights = [cell.kernel.index_select(1, order).T,
                   cell.recurrent_kernel.index_select(1, order).T]
        if cell.use_bias:
            weights += cell.bias.index_select(1, order).unbind(0)
        return weights


def _packed(weights):
    """The weights copied into one contiguous buffer, as views of it in the same order."""
    buffer = torch.cat([w.reshape(-1) for w in weights])
    return [part.view(w.shape) for part, w in zip(buffer.split([w.numel() for w in weights]),
                                                   weights)]


def _at_steps(sequence, steps):
    """`sequence[b, steps[b]]` for each sequence b of a batch."""
    return sequence[torch.arange(sequence.shape[0], device=sequence.device), steps]


def _single_spans(mask):
    """`(starts, lengths)` when the True steps of each row of `mask` form one block (empty
    rows start at the end), else None."""
    steps = mask.shape[1]
    lengths = mask.sum(1)
    starts = torch.where(lengths > 0, mask.to(torch.uint8).argmax(1), steps)
    positions = torch.arange(steps, device=mask.device)
    block = (positions >= starts.unsqueeze(1)) & (positions < (starts + lengths).unsqueeze(1))
    return (starts, lengths) if torch.equal(block, mask) else None


_CELL_ARGUMENTS = (
    "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
    "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout")
_CELL_ATTRIBUTES = frozenset(_CELL_ARGUMENTS + (
    "units", "activation", "recurrent_activation", "unit_forget_bias", "reset_after", "kernel",
    "recurrent_kernel", "bias"))
