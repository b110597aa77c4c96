"""Layer wrappers: Bidirectional (an RNN run both ways) and TimeDistributed (a layer per step)."""

import torch

from kiln.engine.layer import Layer
from kiln.layers.recurrent import RNN
from kiln.layers.rnn_cells import state_sizes

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges their outputs.

    The backward layer's output sequence is put back in chronological order before merging, so
    step t of the result sees the past (forward) and the future (backward) of step t.

    Args:
        layer: the forward recurrent layer (`SimpleRNN`, `LSTM`, `GRU` or `RNN`).
        merge_mode: how to combine the two outputs: ``"concat"`` (default, on the last axis),
            ``"sum"``, ``"mul"``, ``"ave"``, or None for the list `[forward, backward]`.
        backward_layer: optional backward layer; by default a fresh copy of `layer`'s config
            with `go_backwards` flipped.

    Call arguments:
        inputs, mask, training: as the wrapped layer (by default the mask the inputs carry,
            used by both directions).
        initial_state: the forward layer's states followed by the backward layer's.

    With `return_state=True` the result is `[output(s)..., *forward_states, *backward_states]`.

    Example:

    >>> layer = kiln.layers.Bidirectional(kiln.layers.GRU(8, return_sequences=True))
    >>> layer(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, RNN):
            raise ValueError(f"Argument `layer` of Bidirectional must be a recurrent layer "
                             f"(RNN, SimpleRNN, LSTM, GRU), but received: {layer!r}.")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Argument `merge_mode` of Bidirectional must be one of "
                             f"{list(_MERGE_MODES)}, but received: {merge_mode!r}.")
        self._custom_backward = backward_layer is not None
        if backward_layer is None:
            config = layer.get_config()
            config.update(name=f"backward_{layer.name}", go_backwards=not layer.go_backwards)
            backward_layer = type(layer).from_config(config)
        elif not isinstance(backward_layer, RNN) or \
                backward_layer.return_sequences != layer.return_sequences or \
                backward_layer.return_state != layer.return_state:
            raise ValueError(f"Argument `backward_layer` of Bidirectional must be a recurrent "
                             f"layer with the same return_sequences and return_state as "
                             f"`layer`, but received: {backward_layer!r}.")
        if self._batch_input_shape is None:  # Bidirectional(LSTM(10, input_shape=[None, 5]))
            self._batch_input_shape = layer._batch_input_shape
        self.forward_layer = layer
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode

    def build(self, input_shape):
        self.forward_layer._build_with(input_shape)
        self.backward_layer._build_with(input_shape)

    def call(self, inputs, mask=None, training=None, initial_state=None):
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        forward = self.forward_layer(inputs, mask=mask, training=training,
                                     initial_state=forward_state)
        backward = self.backward_layer(inputs, mask=mask, training=training,
                                       initial_state=backward_state)
        states = []
        if self.forward_layer.return_state:
            forward, *forward_states = forward
            backward, *backward_states = backward
            states = forward_states + backward_states
        if self.forward_layer.return_sequences:
            backward = backward.flip(1)
        output = _merge(self.merge_mode, forward, backward)
        if not states:
            return output
        return (output if self.merge_mode is None else [output]) + states

    def compute_mask(self, inputs, mask=None):
        """Output sequences keep the input's mask (in chronological order, as the merged
        output is); last outputs and states carry none."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.forward_layer.return_sequences else None
        output_masks = [output_mask] if self.merge_mode is not None else [output_mask] * 2
        if self.forward_layer.return_state:
            return output_masks + [None] * (2 * len(state_sizes(self.forward_layer.cell)))
        return output_masks[0] if self.merge_mode is not None else output_masks

    def compute_output_shape(self, input_shape):
        shapes = self.forward_layer.compute_output_shape(input_shape)
        output, states = (shapes[0], shapes[1:]) if self.forward_layer.return_state \
            else (shapes, [])
        if self.merge_mode == "concat":
            output = tuple(output[:-1]) + (2 * output[-1],)
        outputs = [output, output] if self.merge_mode is None else [output]
        if not states:
            return outputs[0] if self.merge_mode is not None else outputs
        return outputs + list(states) * 2

    def get_config(self):
        from kiln import layers
        config = {**super().get_config(), "layer": layers.serialize(self.forward_layer),
                  "merge_mode": self.merge_mode}
        if self._custom_backward:
            config["backward_layer"] = layers.serialize(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from kiln import layers
        config = dict(config)
        config["layer"] = layers.deserialize(config["layer"], custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = layers.deserialize(config["backward_layer"],
                                                          custom_objects)
        return cls(**config)


class TimeDistributed(Layer):
    """Applies a layer to every time step of its inputs independently.

    An input `(batch, time, ...)` is folded into `(batch * time, ...)` (a view when contiguous),
    run through the wrapped layer once, and unfolded: one call, not one per step.

    The input's mask `(batch, time)` passes on to the output; a wrapped layer that takes a
    `mask` receives it folded, and one that makes a mask (e.g. `Embedding(mask_zero=True)` on
    `(batch, time, words)`) gives the output its mask, unfolded.

    Args:
        layer: the layer applied at each step.

    Example:

    >>> layer = kiln.layers.TimeDistributed(kiln.layers.Dense(14))
    >>> layer(torch.zeros(2, 5, 32)).shape
    torch.Size([2, 5, 14])
    """

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, torch.nn.Module):
            raise ValueError(f"Argument `layer` of TimeDistributed must be a layer, but "
                             f"received: {layer!r}.")
        self.layer = layer

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 3:
            raise ValueError(f"Layer {self.name!r} (TimeDistributed) expects inputs of rank >= 3 "
                             f"(batch, time, ...), but received input shape {input_shape}.")
        if isinstance(self.layer, Layer):
            self.layer._build_with((None,) + tuple(input_shape[2:]))

    supports_masking = True

    def call(self, inputs, mask=None, training=None):
        batch, steps = inputs.shape[:2]
        kwargs = {"training": training}
        if mask is not None and _takes_mask(self.layer):
            kwargs["mask"] = _fold(mask)
        outputs = self.layer(_fold(inputs), **kwargs)
        return outputs.reshape((batch, steps) + tuple(outputs.shape[1:]))

    def compute_mask(self, inputs, mask=None):
        """The wrapped layer's mask of each step, unfolded to `(batch, time, ...)`; else the
        input's mask, reduced to `(batch, time)` (a step is real when any of its parts is)."""
        inner = self.layer.compute_mask(_fold(inputs), None if mask is None else _fold(mask)) \
            if isinstance(self.layer, Layer) else None
        if inner is not None:
            return inner.reshape(tuple(inputs.shape[:2]) + tuple(inner.shape[1:]))
        if mask is None:
            return None
        return mask.reshape(mask.shape[0], mask.shape[1], -1).any(-1)

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def get_config(self):
        from kiln import layers
        return {**super().get_config(), "layer": layers.serialize(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from kiln import layers
        config = dict(config)
        config["layer"] = layers.deserialize(config["layer"], custom_objects)
        return cls(**config)


def _fold(tensor):
    """`(batch, time, ...)` -> `(batch * time, ...)`."""
    return tensor.reshape((tensor.shape[0] * tensor.shape[1],) + tuple(tensor.shape[2:]))


def _takes_mask(layer):
    return isinstance(layer, Layer) and layer._mask_argument is not None


def _merge(mode, forward, backward):
    if mode == "concat":
        return torch.cat([forward, backward], -1)
    if mode == "sum":
        return forward + backward
    if mode == "mul":
        return forward * backward
    if mode == "ave":
        return (forward + backward) * 0.5
    return [forward, backward]
