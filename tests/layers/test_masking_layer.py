"""The Masking layer, and how the layers that take or pass masks use them: recurrent layers
(fused packed path and cell loop), Bidirectional, TimeDistributed, global pooling, merging."""

import os

import numpy as np
import pytest
import torch

import kiln
from kiln.layers import GRU, LSTM, Masking, SimpleRNN
from tests.layers.layer_contract import check_layer_contract
from tests.layers.test_recurrent import numpy_lstm

RNG = np.random.default_rng(3)

MASKS = {
    "post": [[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]],
    "pre": [[0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1]],
    "block": [[0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]],
    "empty_row": [[1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]],
    "holes": [[1, 0, 1, 0, 1, 1], [1, 1, 1, 1, 1, 1], [0, 1, 0, 0, 1, 0]],
}


def as_mask(rows):
    return torch.tensor(rows, dtype=torch.bool)


def looping_twin(layer):
    """A copy of `layer` with the same weights that always loops through its cell."""
    twin = type(layer).from_config(layer.get_config())
    twin.build((None, None, 3))
    twin.set_weights(layer.get_weights())
    twin._fused_kernel = None
    return twin


def masked_reference(x, mask, weights, zero_output=False):
    """Keras' masked LSTM in numpy: masked steps keep the states and repeat the last output
    (zeros before the first real step, or always zeros with `zero_output`)."""
    units = weights[1].shape[0]
    h, c = np.zeros((1, units)), np.zeros((1, units))
    outputs, previous = [], np.zeros((1, units))
    for t in range(x.shape[0]):
        if mask[t]:
            _, (h, c) = numpy_lstm(x[None, t:t + 1], weights, h, c)
            previous = h
            outputs.append(h[0])
        else:
            outputs.append(np.zeros(units) if zero_output else previous[0])
    return np.stack(outputs), h[0], c[0]


# ---------------------------------------------------------------------------- Masking

def test_masking_zeroes_padding_and_makes_the_mask():
    x = torch.tensor([[[1.0, 2.0], [-1.0, -1.0], [-1.0, 5.0]], [[-1.0, -1.0], [0.0, 0.0],
                                                                  [3.0, -1.0]]])
    layer = Masking(mask_value=-1.0)
    output = layer(x)
    expected_mask = (x.numpy() != -1.0).any(-1)
    np.testing.assert_array_equal(layer.compute_mask(x).numpy(), expected_mask)
    np.testing.assert_array_equal(output._keras_mask.numpy(), expected_mask)
    np.testing.assert_array_equal(output.numpy(), x.numpy() * expected_mask[..., None])


def test_masking_contract_and_errors():
    layer = check_layer_contract(lambda: Masking(0.5), (2, 4, 3), (2, 4, 3))
    assert layer.get_config()["mask_value"] == 0.5
    with pytest.raises(TypeError, match="mask_value"):
        Masking("zero")


def test_masking_before_lstm_ignores_padded_steps(tmp_path):
    model = kiln.Sequential([Masking(mask_value=0.0, input_shape=[None, 3]), LSTM(4)])
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    x[0, 3:] = 0.0  # post-padding
    x[1, :2] = 0.0  # pre-padding
    output = model(torch.from_numpy(x))
    torch.testing.assert_close(output[0], model(torch.from_numpy(x[:1, :3]))[0])
    torch.testing.assert_close(output[1], model(torch.from_numpy(x[1:, 2:]))[0])
    path = os.path.join(tmp_path, "masking.keras")
    model.save(path)
    torch.testing.assert_close(kiln.models.load_model(path)(torch.from_numpy(x)), output)


# ---------------------------------------------------------------------------- recurrent layers

@pytest.mark.parametrize("zero_output", [False, True])
def test_masked_lstm_matches_numpy_reference(zero_output):
    layer = LSTM(4, return_sequences=True, return_state=True, zero_output_for_mask=zero_output)
    layer.build((None, None, 3))
    weights = [w.astype(np.float64) for w in layer.get_weights()]
    x = RNG.normal(size=(3, 6, 3)).astype(np.float32)
    for name in ("post", "pre", "holes"):
        mask = np.array(MASKS[name], dtype=bool)
        sequence, h, c = layer(torch.from_numpy(x), mask=torch.from_numpy(mask))
        for row in range(3):
            expected = masked_reference(x[row].astype(np.float64), mask[row], weights,
                                        zero_output)
            for got, want in zip((sequence[row], h[row], c[row]), expected):
                np.testing.assert_allclose(got.detach().numpy(), want, atol=1e-5)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize("options", [
    {"return_sequences": True, "return_state": True},
    {"go_backwards": True, "return_sequences": True},
    {"zero_output_for_mask": True, "return_sequences": True, "return_state": True},
    {"stateful": True},
    {},
])
def test_fused_masked_path_equals_cell_loop(cls, mask_name, options):
    layer = cls(4, **options)
    layer.build((None, None, 3))
    twin = looping_twin(layer)
    x = torch.randn(3, 6, 3)
    mask = as_mask(MASKS[mask_name])
    initial = [torch.randn(3, 4) for _ in range(2 if cls is LSTM else 1)]
    for initial_state in (None, initial):
        got = layer(x, mask=mask, initial_state=initial_state)
        want = twin(x, mask=mask, initial_state=initial_state)
        for a, b in zip(*(r if isinstance(r, list) else [r] for r in (got, want))):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    if layer.stateful:  # the kept states (all of them) carry on to the next batch
        assert len(layer.states) == len(twin.states) == len(initial)
        torch.testing.assert_close(layer(x, mask=mask), twin(x, mask=mask), atol=1e-5,
                                   rtol=1e-4)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_fused_masked_gradients_equal_loop_gradients(cls):
    layer = cls(4, return_sequences=True)
    layer.build((None, None, 3))
    twin = looping_twin(layer)
    x = torch.randn(3, 6, 3, requires_grad=True)
    mask = as_mask(MASKS["pre"])
    gradients = []
    for model in (layer, twin):
        loss = (model(x, mask=mask) ** 2).sum()
        gradients.append(torch.autograd.grad(loss, [x] + model.trainable_weights))
    for fused, looped in zip(*gradients):
        torch.testing.assert_close(fused, looped, atol=1e-5, rtol=1e-4)


def test_rnn_compute_mask():
    mask = as_mask(MASKS["post"])
    x = torch.zeros(3, 6, 2)
    assert LSTM(2).compute_mask(x, mask) is None
    assert LSTM(2, return_sequences=True).compute_mask(x, mask) is mask
    np.testing.assert_array_equal(
        GRU(2, return_sequences=True, go_backwards=True).compute_mask(x, mask).numpy(),
        mask.flip(1).numpy())
    assert LSTM(2, return_state=True).compute_mask(x, mask) == [None, None, None]
    masks = GRU(2, return_sequences=True, return_state=True).compute_mask(x, mask)
    assert masks[0] is mask and masks[1:] == [None]


def test_stacked_masked_rnns_keep_the_mask():
    ids = torch.tensor([[3, 1, 4, 0], [0, 0, 2, 7]])
    model = kiln.Sequential([kiln.layers.Embedding(8, 3, mask_zero=True),
                             GRU(4, return_sequences=True), LSTM(2)])
    output = model(ids)
    torch.testing.assert_close(output[0], model(ids[:1, :3])[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(output[1], model(ids[1:, 2:])[0], atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------------------- wrappers

@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
def test_bidirectional_with_mask_equals_unpadded(merge_mode):
    layer = kiln.layers.Bidirectional(LSTM(3, return_sequences=True), merge_mode=merge_mode)
    x = torch.randn(2, 5, 4)
    x[0, 3:] = 0.0
    masked = Masking()(x)
    output = layer(masked)
    alone = layer(x[:1, :3])
    if merge_mode is None:
        torch.testing.assert_close(output[0][0, :3], alone[0][0], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(output[1][0, :3], alone[1][0], atol=1e-6, rtol=1e-5)
        assert output[1]._keras_mask is masked._keras_mask
    else:
        torch.testing.assert_close(output[0, :3], alone[0], atol=1e-6, rtol=1e-5)
        assert output._keras_mask is masked._keras_mask


def test_bidirectional_last_output_and_states_with_mask():
    layer = kiln.layers.Bidirectional(GRU(3, return_state=True))
    x = torch.randn(2, 5, 4)
    mask = torch.tensor([[True] * 3 + [False] * 2, [True] * 5])
    output, forward_h, backward_h = layer(x, mask=mask)
    alone, alone_forward, alone_backward = layer(x[:1, :3])
    for got, want in ((output, alone), (forward_h, alone_forward), (backward_h, alone_backward)):
        torch.testing.assert_close(got[0], want[0], atol=1e-6, rtol=1e-5)
    assert layer.compute_mask(x, mask) == [None, None, None]


def test_time_distributed_passes_folds_and_makes_masks():
    embedded = kiln.layers.Embedding(10, 4, mask_zero=True)(torch.tensor([[1, 2, 0]]))
    dense = kiln.layers.TimeDistributed(kiln.layers.Dense(2))(embedded)
    np.testing.assert_array_equal(dense._keras_mask.numpy(), [[True, True, False]])

    class SeesMask(kiln.layers.Layer):
        def call(self, inputs, mask=None):
            self.received = mask
            return inputs

    inner = SeesMask()
    kiln.layers.TimeDistributed(inner)(embedded)
    np.testing.assert_array_equal(inner.received.numpy(), [True, True, False])

    words = torch.tensor([[[1, 2, 0], [0, 0, 0]], [[3, 0, 0], [4, 5, 6]]])
    output = kiln.layers.TimeDistributed(kiln.layers.Embedding(10, 2, mask_zero=True))(words)
    np.testing.assert_array_equal(output._keras_mask.numpy(), words.numpy() != 0)
    flat = kiln.layers.TimeDistributed(kiln.layers.Flatten())
    np.testing.assert_array_equal(
        flat.compute_mask(torch.zeros(2, 2, 3, 2), words != 0).numpy(),
        [[True, False], [True, True]])


# ---------------------------------------------------------------------------- pooling

def test_global_pooling_1d_uses_the_mask():
    x = RNG.normal(size=(3, 4, 2)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=bool)
    inputs, mask_tensor = torch.from_numpy(x), torch.from_numpy(mask)
    average = kiln.layers.GlobalAveragePooling1D()(inputs, mask=mask_tensor).numpy()
    maximum = kiln.layers.GlobalMaxPooling1D()(inputs, mask=mask_tensor).numpy()
    for row in range(2):
        np.testing.assert_allclose(average[row], x[row][mask[row]].mean(0), rtol=1e-6)
        np.testing.assert_allclose(maximum[row], x[row][mask[row]].max(0), rtol=1e-6)
    np.testing.assert_array_equal(average[2], 0.0)  # no real step
    np.testing.assert_array_equal(maximum[2], 0.0)
    kept = kiln.layers.GlobalAveragePooling1D(keepdims=True)(inputs, mask=mask_tensor)
    np.testing.assert_allclose(kept[:, 0].numpy(), average, rtol=1e-6)
    with pytest.raises(ValueError, match="mask"):
        kiln.layers.GlobalAveragePooling1D()(inputs, mask=mask_tensor[:, :3])


def test_global_average_pooling_after_embedding_averages_real_tokens():
    ids = torch.tensor([[4, 2, 0, 0]])
    embedding = kiln.layers.Embedding(6, 3, mask_zero=True)
    pooled = kiln.layers.GlobalAveragePooling1D()(embedding(ids))
    table = embedding.get_weights()[0]
    np.testing.assert_allclose(pooled[0].detach().numpy(), table[[4, 2]].mean(0), rtol=1e-6)
    assert not hasattr(pooled, "_keras_mask")


# ---------------------------------------------------------------------------- merging

def test_merging_layers_combine_masks():
    a, b = torch.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    mask_a = torch.tensor([[True, True, False], [True, False, False]])
    mask_b = torch.tensor([[True, False, False], [True, True, True]])
    both = (mask_a & mask_b).numpy()
    np.testing.assert_array_equal(kiln.layers.Add().compute_mask([a, b], [mask_a, mask_b]), both)
    assert kiln.layers.Multiply().compute_mask([a, b], [None, None]) is None
    np.testing.assert_array_equal(
        kiln.layers.Multiply().compute_mask([a, b], [mask_a, None]).numpy(), mask_a.numpy())
    concat = kiln.layers.Concatenate()
    np.testing.assert_array_equal(concat.compute_mask([a, b], [mask_a, mask_b]).numpy(), both)
    along_time = kiln.layers.Concatenate(axis=1).compute_mask([a, b], [mask_a, None])
    np.testing.assert_array_equal(along_time.numpy(),
                                  np.concatenate([mask_a.numpy(), np.ones((2, 3), bool)], 1))
    embedded = kiln.layers.Embedding(5, 4, mask_zero=True)(torch.tensor([[1, 0, 2]]))
    added = kiln.layers.Add()([embedded, torch.ones(1, 3, 4)])
    np.testing.assert_array_equal(added._keras_mask.numpy(), [[True, False, True]])
