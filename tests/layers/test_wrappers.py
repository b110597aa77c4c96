"""Tests of kiln.layers.wrappers: Bidirectional and TimeDistributed."""

import numpy as np
import pytest
import torch

import kiln
from kiln.layers import GRU, LSTM, Bidirectional, Dense, SimpleRNN, TimeDistributed
from tests.layers.layer_contract import check_layer_contract


def test_bidirectional_concat_equals_two_layers():
    layer = Bidirectional(GRU(4, return_sequences=True))
    x = torch.randn(2, 5, 3)
    output = layer(x)
    assert output.shape == (2, 5, 8)
    assert layer.backward_layer.go_backwards and layer.backward_layer.name.startswith("backward_")
    forward, backward = GRU(4, return_sequences=True), GRU(4, return_sequences=True)
    forward(x)
    backward(x)
    weights = layer.get_weights()
    forward.set_weights(weights[:3])
    backward.set_weights(weights[3:])
    expected_backward = backward(x.flip(1)).flip(1)  # back in chronological order
    torch.testing.assert_close(output, torch.cat([forward(x), expected_backward], -1))


@pytest.mark.parametrize("mode, combine", [("sum", np.add), ("mul", np.multiply),
                                           ("ave", lambda a, b: (a + b) / 2)])
def test_bidirectional_merge_modes(mode, combine):
    layer = Bidirectional(SimpleRNN(3), merge_mode=mode)
    x = torch.randn(4, 6, 2)
    output = layer(x).detach().numpy()
    parts = Bidirectional(SimpleRNN(3), merge_mode=None)
    parts(x)
    parts.set_weights(layer.get_weights())
    forward, backward = (p.detach().numpy() for p in parts(x))
    np.testing.assert_allclose(output, combine(forward, backward), atol=1e-6)


def test_bidirectional_states_and_symbolic_shapes():
    layer = Bidirectional(LSTM(4, return_state=True))
    outputs = layer(kiln.Input(shape=[None, 3]))
    assert [o.shape for o in outputs] == [(None, 8)] + [(None, 4)] * 4
    real = layer(torch.randn(2, 5, 3))
    assert len(real) == 5
    torch.testing.assert_close(real[0][:, :4], real[1])   # forward h
    torch.testing.assert_close(real[0][:, 4:], real[3])   # backward h
    initial = [torch.randn(2, 4) for _ in range(4)]
    with_initial = layer(torch.randn(2, 5, 3), initial_state=initial)
    assert with_initial[0].shape == (2, 8)


def test_bidirectional_contract_and_config():
    check_layer_contract(lambda: Bidirectional(LSTM(4, return_sequences=True)), (2, 5, 3),
                         (2, 5, 8), trainable_weights=6)
    custom = Bidirectional(GRU(3), backward_layer=GRU(3, go_backwards=True, name="back"))
    config = custom.get_config()
    assert config["backward_layer"]["config"]["name"] == "back"
    assert Bidirectional.from_config(config).get_config() == config


def test_bidirectional_takes_the_inner_input_shape():
    model = kiln.Sequential([Bidirectional(GRU(4), input_shape=[None, 2]), Dense(1)])
    assert model.output_shape == (None, 1)
    model = kiln.Sequential([Bidirectional(LSTM(4, input_shape=[None, 2])), Dense(1)])
    assert model.output_shape == (None, 1) and model.count_params() == 2 * 4 * (4 * 7) + 9


def test_bidirectional_bad_input():
    with pytest.raises(ValueError, match="layer"):
        Bidirectional(Dense(3))
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(GRU(3), merge_mode="max")
    with pytest.raises(ValueError, match="backward_layer"):
        Bidirectional(GRU(3), backward_layer=GRU(3, return_sequences=True))


def test_time_distributed_dense_equals_per_step_dense():
    layer = TimeDistributed(Dense(14))
    x = torch.randn(2, 5, 32)
    output = layer(x)
    assert output.shape == (2, 5, 14)
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(output.detach().numpy(), x.numpy() @ kernel + bias, atol=1e-5)
    check_layer_contract(lambda: TimeDistributed(Dense(7)), (2, 4, 3), (2, 4, 7),
                         trainable_weights=2)


def test_time_distributed_in_the_books_seq2seq_model():
    kiln.utils.set_random_seed(0)
    model = kiln.Sequential([
        SimpleRNN(8, return_sequences=True, input_shape=[None, 5]),
        TimeDistributed(Dense(14)),
    ])
    assert model.output_shape == (None, None, 14)
    x = np.random.default_rng(0).normal(size=(64, 10, 5)).astype(np.float32)
    y = np.repeat(x[:, :, :1], 14, axis=2)
    model.compile(loss="mse", optimizer="adam")
    losses = model.fit(x, y, epochs=3, verbose=0).history["loss"]
    assert losses[-1] < losses[0]


def test_time_distributed_bad_input():
    with pytest.raises(ValueError, match="rank >= 3"):
        TimeDistributed(Dense(2))(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="layer"):
        TimeDistributed("dense")


def test_model_with_recurrent_wrappers_saves_and_loads(tmp_path):
    model = kiln.Sequential([
        Bidirectional(LSTM(4, return_sequences=True), input_shape=[None, 3]),
        GRU(3, return_sequences=True),
        TimeDistributed(Dense(2)),
        kiln.layers.RNN([kiln.layers.SimpleRNNCell(2), kiln.layers.LSTMCell(2)]),
    ])
    x = np.random.default_rng(1).random((2, 5, 3)).astype(np.float32)
    model.save(tmp_path / "model.keras")
    restored = kiln.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
