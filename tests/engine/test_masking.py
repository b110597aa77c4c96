"""Automatic mask propagation: Layer plumbing, the three kinds of models, and `fit`'s loss and
metrics weighted by the mask of a sequence output."""

import os

import numpy as np
import pytest
import torch

import kiln
from kiln.engine.compile_utils import mask_weights

# Three padded sequences of token ids (0 is padding): post-padded, one token, pre-padded.
IDS = torch.tensor([[5, 2, 7, 0, 0], [1, 0, 0, 0, 0], [0, 0, 3, 4, 9]])
REAL = [(0, slice(0, 3)), (1, slice(0, 1)), (2, slice(2, 5))]


def unpadded_outputs(model):
    """The model's output on each sequence alone, without its padding."""
    return torch.cat([model(IDS[row:row + 1, span]) for row, span in REAL])


class PassThrough(kiln.layers.Layer):
    supports_masking = True

    def call(self, inputs):
        return inputs * 2


class SeesMask(kiln.layers.Layer):
    """Records the mask its call receives."""

    def call(self, inputs, mask=None):
        self.received = mask
        return inputs


# ---------------------------------------------------------------------------- Layer plumbing

def test_supports_masking_defaults_follow_keras():
    assert kiln.layers.Dense(2).supports_masking
    assert not kiln.layers.Flatten().supports_masking
    assert kiln.layers.LSTM(2).supports_masking  # overrides compute_mask
    assert PassThrough().supports_masking  # class attribute
    assert not kiln.layers.Embedding(5, 2).supports_masking
    assert kiln.layers.Embedding(5, 2, mask_zero=True).supports_masking
    layer = kiln.layers.Flatten()
    layer.supports_masking = True
    assert layer.supports_masking


def test_mask_passes_through_supporting_layers_and_stops_at_others():
    embedded = kiln.layers.Embedding(10, 4, mask_zero=True)(IDS)
    expected = (IDS != 0).numpy()
    np.testing.assert_array_equal(embedded._keras_mask.numpy(), expected)
    dense = kiln.layers.Dense(3)(embedded)
    np.testing.assert_array_equal(dense._keras_mask.numpy(), expected)
    custom = PassThrough()(dense)
    np.testing.assert_array_equal(custom._keras_mask.numpy(), expected)
    assert not hasattr(kiln.layers.Flatten()(custom), "_keras_mask")
    assert not hasattr(kiln.layers.Dense(3)(torch.zeros(2, 4)), "_keras_mask")


def test_dropout_activations_and_normalization_pass_the_mask_on():
    model = kiln.Sequential([
        kiln.layers.Embedding(10, 4, mask_zero=True), kiln.layers.Dropout(0.5),
        kiln.layers.GaussianNoise(0.1), kiln.layers.LayerNormalization(),
        kiln.layers.BatchNormalization(), kiln.layers.LeakyReLU(0.2), kiln.layers.Softmax(),
        kiln.layers.GRU(3),
    ])
    torch.testing.assert_close(model(IDS), unpadded_outputs(model), atol=1e-6, rtol=1e-5)


def test_call_receives_the_input_mask_unless_one_is_given():
    embedded = kiln.layers.Embedding(10, 4, mask_zero=True)(IDS)
    layer = SeesMask()
    layer(embedded)
    np.testing.assert_array_equal(layer.received.numpy(), (IDS != 0).numpy())
    explicit = torch.ones(3, 5, dtype=torch.bool)
    layer(embedded, mask=explicit)
    assert layer.received is explicit
    layer(embedded, explicit)  # positional
    assert layer.received is explicit
    layer(torch.zeros(3, 5, 4))
    assert layer.received is None


def test_lambda_passes_a_mask_only_when_told_how():
    embedded = kiln.layers.Embedding(10, 4, mask_zero=True)(IDS)
    assert not hasattr(kiln.layers.Lambda(lambda x: x + 1)(embedded), "_keras_mask")
    kept = kiln.layers.Lambda(lambda x: x + 1, mask=lambda inputs, mask: mask)(embedded)
    np.testing.assert_array_equal(kept._keras_mask.numpy(), (IDS != 0).numpy())
    with pytest.raises(ValueError, match="mask"):
        kiln.layers.Lambda(lambda x: x, mask=True)


# ---------------------------------------------------------------------------- models

def make_sequential():
    return kiln.Sequential([
        kiln.layers.Embedding(10, 4, mask_zero=True),
        kiln.layers.LSTM(6),
        kiln.layers.Dense(2),
    ])


def test_sequential_propagates_masks():
    model = make_sequential()
    torch.testing.assert_close(model(IDS), unpadded_outputs(model), atol=1e-6, rtol=1e-5)


def test_functional_propagates_masks_through_bidirectional_and_pooling():
    ids = kiln.Input(shape=[None], dtype="int64")
    z = kiln.layers.Embedding(10, 4, mask_zero=True)(ids)
    z = kiln.layers.Bidirectional(kiln.layers.GRU(3, return_sequences=True))(z)
    z = kiln.layers.Dense(5, activation="tanh")(z)
    z = kiln.layers.GlobalAveragePooling1D()(z)
    model = kiln.Model(ids, kiln.layers.Dense(1)(z))
    torch.testing.assert_close(model(IDS), unpadded_outputs(model), atol=1e-6, rtol=1e-5)


def test_subclassed_model_passes_masks_implicitly():
    class Classifier(kiln.Model):
        def __init__(self):
            super().__init__()
            self.embed = kiln.layers.Embedding(10, 4, mask_zero=True)
            self.gru = kiln.layers.GRU(5, return_sequences=True)
            self.pool = kiln.layers.GlobalMaxPooling1D()

        def call(self, inputs):
            return self.pool(self.gru(self.embed(inputs)))

    model = Classifier()
    torch.testing.assert_close(model(IDS), unpadded_outputs(model), atol=1e-6, rtol=1e-5)


def test_nested_model_keeps_the_mask_of_its_output():
    encoder = kiln.Sequential([kiln.layers.Embedding(10, 4, mask_zero=True),
                               kiln.layers.Dense(4)])
    model = kiln.Sequential([encoder, kiln.layers.SimpleRNN(3)])
    torch.testing.assert_close(model(IDS), unpadded_outputs(model), atol=1e-6, rtol=1e-5)


def test_masked_model_survives_save_and_load(tmp_path):
    model = kiln.Sequential([
        kiln.Input(shape=[None], dtype="int64"),
        kiln.layers.Embedding(10, 4, mask_zero=True),
        kiln.layers.Bidirectional(kiln.layers.LSTM(3, return_sequences=True)),
        kiln.layers.GlobalAveragePooling1D(),
    ])
    path = os.path.join(tmp_path, "masked.keras")
    model.save(path)
    loaded = kiln.models.load_model(path)
    torch.testing.assert_close(loaded(IDS), model(IDS))
    torch.testing.assert_close(loaded(IDS), unpadded_outputs(loaded), atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------------------- fit and losses

VOCAB = 6


def make_seq2seq():
    """Tags every token: Embedding(mask_zero) -> LSTM(return_sequences) -> softmax per step."""
    return kiln.Sequential([
        kiln.Input(shape=[None], dtype="int64"),
        kiln.layers.Embedding(VOCAB, 8, mask_zero=True),
        kiln.layers.LSTM(8, return_sequences=True),
        kiln.layers.Dense(VOCAB, activation="softmax"),
    ])


def seq2seq_data():
    ids = IDS % VOCAB * (IDS != 0)  # keep the padding at 0, ids below VOCAB
    targets = (ids + 1) % VOCAB * (ids != 0)  # padded targets are 0 too
    return ids, targets


def numpy_masked_crossentropy(model, ids, targets, sample_weight=None):
    proba = model.predict(ids, verbose=0).astype(np.float64)
    ids, targets = ids.numpy(), targets.numpy()
    chosen = np.take_along_axis(proba, targets[..., None], -1)[..., 0]
    mask = ids != 0
    weights = mask if sample_weight is None else mask * sample_weight[:, None]
    loss = -(np.log(chosen) * weights).sum() / mask.sum()
    accuracy = ((proba.argmax(-1) == targets) * mask).sum() / mask.sum()
    return loss, accuracy


def test_loss_and_metrics_of_a_sequence_output_skip_padded_steps():
    model = make_seq2seq()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=kiln.optimizers.Adam(0.05),
                  metrics=["accuracy"])
    ids, targets = seq2seq_data()
    model.fit(ids, targets, epochs=3, verbose=0)  # predictions far from uniform
    loss, accuracy = model.evaluate(ids, targets, verbose=0)
    expected_loss, expected_accuracy = numpy_masked_crossentropy(model, ids, targets)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert accuracy == pytest.approx(expected_accuracy, rel=1e-6)
    # The unmasked mean would differ: padding steps would count.
    proba = model.predict(ids, verbose=0)
    unmasked = -np.log(np.take_along_axis(proba, targets.numpy()[..., None], -1)).mean()
    assert abs(unmasked - loss) > 0.05


def test_sample_weights_multiply_the_mask():
    model = make_seq2seq()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    ids, targets = seq2seq_data()
    weights = np.array([1.0, 3.0, 0.5], dtype=np.float32)
    loss = model.evaluate(ids, targets, sample_weight=weights, verbose=0)
    expected, _ = numpy_masked_crossentropy(model, ids, targets, weights)
    assert loss == pytest.approx(expected, rel=1e-5)


def test_fit_and_predict_with_masks():
    model = make_seq2seq()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=kiln.optimizers.Adam(0.05),
                  metrics=["accuracy"])
    ids, targets = seq2seq_data()
    ids, targets = ids.repeat(8, 1), targets.repeat(8, 1)
    history = model.fit(ids, targets, epochs=15, batch_size=8, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    predictions = model.predict(ids[:3], verbose=0)
    np.testing.assert_array_equal((predictions.argmax(-1) == targets[:3].numpy())[ids[:3] != 0],
                                  True)


def test_mask_weights_scale_to_the_real_steps():
    output = torch.zeros(2, 4, 3)
    assert mask_weights(output, None) is None
    output._keras_mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    weights = mask_weights(output, torch.tensor([1.0, 2.0]), "sum_over_batch_size")
    expected = np.array([[1, 1, 0, 0], [2, 2, 2, 2]]) * 8 / 6
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(mask_weights(output, None).numpy(),
                                  output._keras_mask.float().numpy())
