import numpy as np
import pytest
import torch

import kiln
from kiln.layers import BatchNormalization, Dense, Dropout


def dropout_model():
    return kiln.Sequential([kiln.Input(shape=[6]), Dense(32, activation="relu"), Dropout(0.3),
                            Dense(3, activation="softmax")])


X = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)


def test_mc_predict_matches_the_books_loop_statistically():
    model = dropout_model()
    y_proba, y_std = kiln.utils.mc_predict(model, X, n_samples=400)
    y_probas = np.stack([model(X, training=True).detach().numpy() for _ in range(400)])
    assert y_proba.shape == y_std.shape == (20, 3)
    np.testing.assert_allclose(y_proba, y_probas.mean(axis=0), atol=0.03)
    np.testing.assert_allclose(y_std, y_probas.std(axis=0), atol=0.03)
    np.testing.assert_allclose(y_proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (y_std > 0).any()


def test_chunking_and_no_dropout_give_exact_answers():
    model = kiln.Sequential([kiln.Input(shape=[6]), Dense(4), Dropout(0.0), Dense(2)])
    mean, std = kiln.utils.mc_predict(model, X, n_samples=7, max_rows=8)
    np.testing.assert_allclose(mean, model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std, 0.0, atol=1e-6)


def test_batch_normalization_stays_in_inference_mode():
    norm = BatchNormalization()
    model = kiln.Sequential([kiln.Input(shape=[6]), Dense(8), norm, Dropout(0.5), Dense(1)])
    moving_mean = norm.moving_mean.detach().clone()
    kiln.utils.mc_predict(model, X, n_samples=10)
    assert torch.equal(norm.moving_mean, moving_mean)
    assert not hasattr(model.layers[2], "__dict__") or "call" not in model.layers[2].__dict__


def test_torch_dropout_and_several_outputs():
    inputs = kiln.Input(shape=[6])
    hidden = kiln.layers.TorchModuleWrapper(torch.nn.Dropout(0.5))(Dense(16)(inputs))
    model = kiln.Model(inputs, [Dense(1)(hidden), Dense(2)(hidden)])
    (mean_a, mean_b), (std_a, std_b) = kiln.utils.mc_predict(model, X, n_samples=20)
    assert mean_a.shape == (20, 1) and std_b.shape == (20, 2) and (std_a > 0).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_samples"):
        kiln.utils.mc_predict(dropout_model(), X, n_samples=0)
