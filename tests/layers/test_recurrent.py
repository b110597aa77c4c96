"""Tests of kiln.layers.recurrent: SimpleRNN, LSTM, GRU and RNN against numpy references of
Keras' equations, on both the fused path and the cell loop."""

import numpy as np
import pytest
import torch

import kiln
from kiln.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from tests.layers.layer_contract import check_layer_contract

RNG = np.random.default_rng(0)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_simple_rnn(x, weights, h=None):
    kernel, recurrent, bias = weights
    h = np.zeros((x.shape[0], kernel.shape[1])) if h is None else h
    outputs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        outputs.append(h)
    return np.stack(outputs, 1), [h]


def numpy_lstm(x, weights, h=None, c=None):
    kernel, recurrent, bias = weights
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units)) if h is None else h
    c = np.zeros((x.shape[0], units)) if c is None else c
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1), [h, c]


def numpy_gru(x, weights, h=None, reset_after=True):
    kernel, recurrent, bias = weights
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units)) if h is None else h
    input_bias, recurrent_bias = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    outputs = []
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t] @ kernel + input_bias, 3, axis=1)
        hz, hr, hh = np.split(h @ recurrent + recurrent_bias, 3, axis=1)
        z, r = sigmoid(xz + hz), sigmoid(xr + hr)
        if reset_after:
            candidate = np.tanh(xh + r * hh)
        else:
            candidate = np.tanh(xh + (r * h) @ recurrent[:, 2 * units:])
        h = z * h + (1 - z) * candidate
        outputs.append(h)
    return np.stack(outputs, 1), [h]


CASES = {
    "simple_rnn": (SimpleRNN, {}, 1, numpy_simple_rnn),
    "lstm": (LSTM, {}, 4, numpy_lstm),
    "gru": (GRU, {}, 3, numpy_gru),
    "gru_reset_before": (GRU, {"reset_after": False}, 3,
                         lambda x, w, h=None: numpy_gru(x, w, h, reset_after=False)),
}


def random_weights(layer, scale=0.5):
    weights = [RNG.normal(0, scale, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    return [w.astype(np.float64) for w in weights]


def make(name, units=4, input_dim=3, **kwargs):
    cls, extra, _, reference = CASES[name]
    layer = cls(units, **extra, **kwargs)
    layer.build((None, None, input_dim))
    return layer, random_weights(layer), reference


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("loop", [False, True])
def test_matches_numpy_reference(name, loop):
    layer, weights, reference = make(name, return_sequences=True, return_state=True)
    fused = layer._fused_kernel is not None
    assert fused == (name != "gru_reset_before")
    x = RNG.normal(size=(2, 6, 3)).astype(np.float32)
    if loop:
        layer._fused_kernel = None  # the cell loop
    sequence, *states = layer(torch.from_numpy(x))
    expected_sequence, expected_states = reference(x.astype(np.float64), weights)
    np.testing.assert_allclose(sequence.detach().numpy(), expected_sequence, atol=1e-5)
    assert len(states) == len(expected_states)
    for state, expected in zip(states, expected_states):
        np.testing.assert_allclose(state.detach().numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_go_backwards_and_initial_state(name):
    layer, weights, reference = make(name, return_sequences=True, go_backwards=True)
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    initial = [RNG.normal(size=(2, 4)).astype(np.float32)
               for _ in range(2 if name == "lstm" else 1)]
    output = layer(torch.from_numpy(x), initial_state=[torch.from_numpy(s) for s in initial])
    expected, _ = reference(x[:, ::-1].astype(np.float64), weights,
                            *[s.astype(np.float64) for s in initial])
    np.testing.assert_allclose(output.detach().numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("name", ["simple_rnn", "lstm", "gru"])
def test_fused_gradients_equal_loop_gradients(name):
    layer, _, _ = make(name)
    x = torch.randn(3, 7, 3)
    gradients = []
    for _ in ("fused", "loop"):
        loss = (layer(x) ** 2).sum()
        gradients.append(torch.autograd.grad(loss, layer.trainable_weights))
        layer._fused_kernel = None
    for fused, looped in zip(*gradients):
        torch.testing.assert_close(fused, looped, atol=1e-5, rtol=1e-4)


def test_mask_keeps_previous_state_and_output():
    layer, weights, _ = make("lstm", return_sequences=True, return_state=True)
    x = RNG.normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[True, True, False, True], [True, False, False, False]])
    sequence, h, c = layer(torch.from_numpy(x), mask=torch.from_numpy(mask))
    # Sample 0 skips step 2; sample 1 only sees step 0.
    full_0, _ = numpy_lstm(x[:1, [0, 1, 3]].astype(np.float64), weights)
    _, (h1, c1) = numpy_lstm(x[1:, :1].astype(np.float64), weights)
    np.testing.assert_allclose(sequence[0, [0, 1, 3]].detach().numpy(), full_0[0], atol=1e-5)
    np.testing.assert_allclose(sequence[0, 2].detach().numpy(), full_0[0, 1], atol=1e-5)
    np.testing.assert_allclose(sequence[1].detach().numpy(), np.repeat(h1, 4, 0), atol=1e-5)
    np.testing.assert_allclose(c[1].detach().numpy(), c1[0], atol=1e-5)


def test_custom_activation_uses_the_loop():
    layer = SimpleRNN(4, activation="relu")
    assert layer._fused_kernel is torch._VF.rnn_relu
    layer = LSTM(4, activation="relu")
    assert layer._fused_kernel is None
    layer.build((None, None, 3))
    weights = random_weights(layer)
    x = RNG.normal(size=(2, 3, 3)).astype(np.float32)
    kernel, recurrent, bias = weights
    h = c = np.zeros((2, 4))
    for t in range(3):
        i, f, g, o = np.split(x[:, t] @ kernel + h @ recurrent + bias, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.maximum(g, 0)
        h = sigmoid(o) * np.maximum(c, 0)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(), h, atol=1e-5)


def test_keras_weight_layouts_and_unit_forget_bias():
    lstm, gru, simple = LSTM(5), GRU(5), SimpleRNN(5)
    for layer in (lstm, gru, simple):
        layer.build((None, None, 3))
    assert [w.shape for w in lstm.get_weights()] == [(3, 20), (5, 20), (20,)]
    assert [w.shape for w in gru.get_weights()] == [(3, 15), (5, 15), (2, 15)]
    assert [w.shape for w in simple.get_weights()] == [(3, 5), (5, 5), (5,)]
    np.testing.assert_array_equal(lstm.get_weights()[2], np.r_[np.zeros(5), np.ones(5),
                                                               np.zeros(10)])
    recurrent = simple.get_weights()[1]
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(5), atol=1e-5)  # orthogonal
    assert lstm.units == 5 and lstm.kernel is lstm.cell.kernel


def test_dropout_only_while_training():
    layer = LSTM(4, dropout=0.5, return_sequences=True)
    x = torch.randn(8, 5, 3)
    torch.testing.assert_close(layer(x), layer(x))
    assert not torch.allclose(layer(x, training=True), layer(x))
    looped = GRU(4, recurrent_dropout=0.3)
    assert looped._fused_kernel is None
    assert not torch.allclose(looped(x, training=True), looped(x))


def test_stateful_continues_and_resets():
    layer = GRU(4, stateful=True, return_sequences=True)
    reference = GRU(4, return_sequences=True)
    x = torch.randn(2, 6, 3)
    first = layer(x[:, :3])
    reference.build((None, None, 3))
    reference.set_weights(layer.get_weights())
    second = layer(x[:, 3:])
    torch.testing.assert_close(torch.cat([first, second], 1), reference(x))
    assert layer.states[0].shape == (2, 4)
    layer.reset_states()
    torch.testing.assert_close(layer(x[:, :3]), first)
    with pytest.raises(ValueError, match="batch"):
        layer(x[:1, :3])


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_layer_contract(cls):
    check_layer_contract(lambda: cls(4, return_sequences=True), (2, 5, 3), (2, 5, 4),
                         trainable_weights=3)
    check_layer_contract(lambda: cls(4, use_bias=False), (2, 5, 3), (2, 4), trainable_weights=2)


def test_return_state_symbolic_shapes_and_config():
    layer = LSTM(6, return_state=True, dropout=0.1, kernel_regularizer="l2", name="enc")
    outputs = layer(kiln.Input(shape=[None, 3]))
    assert [o.shape for o in outputs] == [(None, 6)] * 3
    config = layer.get_config()
    clone = LSTM.from_config(config)
    assert clone.get_config() == config
    assert config["units"] == 6 and config["dropout"] == 0.1 and "cell" not in config
    rnn = RNN(kiln.layers.GRUCell(3), return_sequences=True)
    rnn_config = rnn.get_config()
    assert RNN.from_config(rnn_config).get_config()["cell"]["config"]["units"] == 3
    assert len(layer(torch.randn(2, 4, 3))) == 3 and len(layer.losses) == 1


def test_bad_input():
    for cls in (SimpleRNN, LSTM, GRU):
        with pytest.raises(ValueError, match="units"):
            cls(0)
    with pytest.raises(ValueError, match="dropout"):
        LSTM(3, dropout=1.5)
    with pytest.raises(ValueError, match=r"'my_lstm'.*rank 3"):
        LSTM(3, name="my_lstm")(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="initial_state"):
        LSTM(3)(torch.zeros(2, 4, 5), initial_state=[torch.zeros(2, 3)])
    with pytest.raises(ValueError, match="cell"):
        RNN("lstm")


def test_book_rnns_train_on_a_series():
    kiln.utils.set_random_seed(42)
    time = np.arange(400, dtype=np.float32)
    series = np.sin(time / 6) + 0.1 * np.cos(time / 2)
    windows = np.stack([series[i:i + 21] for i in range(300)])
    x, y = windows[:, :20, None], windows[:, 20:]
    for model in (
        kiln.Sequential([kiln.layers.SimpleRNN(1, input_shape=[None, 1])]),
        kiln.Sequential([kiln.layers.SimpleRNN(16, return_sequences=True, input_shape=[None, 1]),
                         kiln.layers.LSTM(16), kiln.layers.Dense(1)]),
        kiln.Sequential([kiln.layers.GRU(16, input_shape=[None, 1]), kiln.layers.Dense(1)]),
    ):
        model.compile(loss="mse", optimizer=kiln.optimizers.Adam(learning_rate=0.02))
        history = model.fit(x, y, epochs=4, verbose=0)
        losses = history.history["loss"]
        assert losses[-1] < 0.5 * losses[0], losses


def test_embedding_mask_passed_explicitly_ignores_padding():
    embedding = kiln.layers.Embedding(10, 4, mask_zero=True)
    layer = GRU(3)
    ids = torch.tensor([[5, 2, 7, 0, 0], [1, 0, 0, 0, 0]])
    output = layer(embedding(ids), mask=embedding.compute_mask(ids))
    torch.testing.assert_close(output[0], layer(embedding(ids[:1, :3]))[0])
    torch.testing.assert_close(output[1], layer(embedding(ids[1:, :1]))[0])
