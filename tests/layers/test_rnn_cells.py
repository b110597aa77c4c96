"""Tests of kiln.layers.rnn_cells and of RNN running custom and stacked cells."""

import numpy as np
import pytest
import torch

import kiln
from kiln.layers import (GRU, GRUCell, LSTM, LSTMCell, RNN, SimpleRNN, SimpleRNNCell,
                         StackedRNNCells)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def set_random(layer, seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    return [w.astype(np.float64) for w in weights]


class LNSimpleRNNCell(kiln.layers.Layer):
    """The book's layer-normalized cell (chapter 15)."""

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.state_size = units
        self.output_size = units
        self.simple_rnn_cell = SimpleRNNCell(units, activation=None)
        self.layer_norm = kiln.layers.LayerNormalization()
        self.activation = kiln.activations.get(activation)

    def call(self, inputs, states):
        outputs, new_states = self.simple_rnn_cell(inputs, states)
        norm_outputs = self.activation(self.layer_norm(outputs))
        return norm_outputs, [norm_outputs]


def test_simple_rnn_cell_step():
    cell = SimpleRNNCell(3)
    cell.build((None, 2))
    kernel, recurrent, bias = set_random(cell)
    x, h = np.array([[0.5, -1.0]]), np.array([[0.1, 0.2, -0.3]])
    output, states = cell(torch.tensor(x, dtype=torch.float32), [torch.tensor(h).float()])
    expected = np.tanh(x @ kernel + h @ recurrent + bias)
    np.testing.assert_allclose(output.detach().numpy(), expected, atol=1e-6)
    assert states[0] is output and cell.state_size == 3


def test_lstm_cell_step_gate_order():
    cell = LSTMCell(2)
    cell.build((None, 3))
    kernel, recurrent, bias = set_random(cell, 1)
    x, h, c = np.ones((1, 3)), np.full((1, 2), 0.5), np.full((1, 2), -0.5)
    z = x @ kernel + h @ recurrent + bias
    i, f, g, o = sigmoid(z[:, :2]), sigmoid(z[:, 2:4]), np.tanh(z[:, 4:6]), sigmoid(z[:, 6:])
    new_c = f * c + i * g
    output, (new_h, cell_state) = cell(torch.ones(1, 3), [torch.tensor(h).float(),
                                                          torch.tensor(c).float()])
    np.testing.assert_allclose(cell_state.detach().numpy(), new_c, atol=1e-6)
    np.testing.assert_allclose(output.detach().numpy(), o * np.tanh(new_c), atol=1e-6)
    assert cell.state_size == [2, 2]


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_cell_step(reset_after):
    cell = GRUCell(2, reset_after=reset_after)
    cell.build((None, 3))
    kernel, recurrent, bias = set_random(cell, 2)
    x, h = np.array([[1.0, -2.0, 0.5]]), np.array([[0.3, -0.1]])
    input_bias, recurrent_bias = (bias[0], bias[1]) if reset_after else (bias, 0 * bias)
    xs, hs = x @ kernel + input_bias, h @ recurrent + recurrent_bias
    z, r = sigmoid(xs[:, :2] + hs[:, :2]), sigmoid(xs[:, 2:4] + hs[:, 2:4])
    if reset_after:
        candidate = np.tanh(xs[:, 4:] + r * hs[:, 4:])
    else:
        candidate = np.tanh(xs[:, 4:] + (r * h) @ recurrent[:, 4:])
    output, _ = cell(torch.tensor(x).float(), [torch.tensor(h).float()])
    np.testing.assert_allclose(output.detach().numpy(), z * h + (1 - z) * candidate, atol=1e-6)


@pytest.mark.parametrize("cell_class, layer_class", [(SimpleRNNCell, SimpleRNN),
                                                     (LSTMCell, LSTM), (GRUCell, GRU)])
def test_rnn_of_cell_equals_fused_layer(cell_class, layer_class):
    rnn = RNN(cell_class(4), return_sequences=True, return_state=True)
    layer = layer_class(4, return_sequences=True, return_state=True)
    x = torch.randn(3, 6, 2)
    rnn(x)
    layer(x)
    set_random(rnn)
    layer.set_weights(rnn.get_weights())
    for mine, fused in zip(rnn(x), layer(x)):
        torch.testing.assert_close(mine, fused, atol=1e-5, rtol=1e-5)


def test_book_layer_normalized_cell_builds_symbolically_and_trains():
    kiln.utils.set_random_seed(42)
    model = kiln.Sequential([
        RNN(LNSimpleRNNCell(16), return_sequences=True, input_shape=[None, 1]),
        kiln.layers.Dense(1),
    ])
    # 16 + 256 + 16 (cell) + 32 (layer norm) + 17 (dense): built before any data.
    assert model.count_params() == 337
    series = np.sin(np.arange(240, dtype=np.float32) / 5)
    x = np.stack([series[i:i + 20] for i in range(200)])[..., None]
    y = np.stack([series[i + 1:i + 21] for i in range(200)])[..., None]
    model.compile(loss="mse", optimizer=kiln.optimizers.Adam(learning_rate=0.01))
    losses = model.fit(x, y, epochs=4, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


def test_stacked_cells_equal_stacked_layers():
    stacked = RNN([SimpleRNNCell(5), GRUCell(3)], return_state=True)
    x = torch.randn(2, 4, 2)
    output, h1, h2 = stacked(x)
    assert isinstance(stacked.cell, StackedRNNCells)
    assert stacked.cell.state_size == [5, 3] and stacked.cell.output_size == 3
    first, second = SimpleRNN(5, return_sequences=True), GRU(3)
    second(first(x))
    first.set_weights(stacked.get_weights()[:3])
    second.set_weights(stacked.get_weights()[3:])
    torch.testing.assert_close(output, second(first(x)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h2, output)
    assert h1.shape == (2, 5)


def test_cell_dropout_mask_is_fixed_within_a_sequence():
    cell = SimpleRNNCell(3, dropout=0.5, kernel_initializer="ones",
                         recurrent_initializer="zeros", activation="linear")
    layer = RNN(cell, return_sequences=True)
    kiln.utils.set_random_seed(1)
    x = torch.ones(4, 6, 8)
    outputs = layer(x, training=True)
    # Each step sees the same inputs and the same mask: identical outputs across time.
    torch.testing.assert_close(outputs, outputs[:, :1].expand_as(outputs))
    assert not torch.allclose(outputs, layer(x))


def test_cell_configs_round_trip():
    for cell in (SimpleRNNCell(3, dropout=0.2), LSTMCell(3, unit_forget_bias=False),
                 GRUCell(3, reset_after=False, recurrent_activation="hard_sigmoid"),
                 StackedRNNCells([SimpleRNNCell(2), LSTMCell(3)])):
        config = cell.get_config()
        assert type(cell).from_config(config).get_config() == config
    restored = kiln.layers.deserialize(kiln.layers.serialize(RNN([GRUCell(2), LSTMCell(3)])))
    assert restored.cell.state_size == [2, 3, 3]


def test_bad_cells():
    with pytest.raises(ValueError, match="units"):
        LSTMCell(-1)
    with pytest.raises(ValueError, match="recurrent_dropout"):
        GRUCell(2, recurrent_dropout=-0.1)
    with pytest.raises(ValueError, match="cells"):
        StackedRNNCells([])
    with pytest.raises(ValueError, match="rank 3"):
        RNN(SimpleRNNCell(2))(torch.zeros(3, 4))
