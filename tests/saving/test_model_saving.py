"""Tests for kiln.saving.model_saving.SavingMixin and the user-facing saving API.

The first tests use a registered Sequential subclass; the last ones the book's calls,
`model.save` and `kiln.models.load_model`.
"""

import numpy as np
import pytest
import torch

import kiln
from kiln.saving import register_serializable
from kiln.saving.model_saving import SavingMixin
from kiln.saving.saving_lib import load_model

RNG = np.random.default_rng(1)
X = RNG.normal(size=(64, 8)).astype("float32")
Y = (X[:, :1] - 0.5 * X[:, 3:4]).astype("float32")

@register_serializable(package="saving_tests")
class SavingTestSequential(kiln.Sequential, SavingMixin):
    """A Sequential with the saving methods, until kiln.Model has them."""


def _regression_mlp(model_class=kiln.Sequential):
    model = model_class([
        kiln.layers.Input(shape=[8]),
        kiln.layers.Dense(16, activation="relu"),
        kiln.layers.Dense(1),
    ])
    model.compile(loss="mse", optimizer=kiln.optimizers.Adam(learning_rate=0.01),
                  metrics=["RootMeanSquaredError"])
    return model


def _assert_same_weights(a, b):
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


class _WithLayerArgument(kiln.Model):
    def __init__(self, hidden_layer, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden_layer
        self.out = kiln.layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


# ---------------------------------------------------------------------- the mixin, test-local

def test_mixin_save_and_load_model(tmp_path):
    model = _regression_mlp(SavingTestSequential)
    model.fit(X, Y, epochs=2, verbose=0)
    model.save(tmp_path / "model.kiln")
    loaded = load_model(tmp_path / "model.kiln")
    assert type(loaded) is SavingTestSequential
    _assert_same_weights(model, loaded)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert loaded.optimizer.iterations == model.optimizer.iterations


def test_mixin_save_weights_load_weights_and_overwrite(tmp_path):
    model = _regression_mlp(SavingTestSequential)
    model.fit(X, Y, epochs=1, verbose=0)
    model.save_weights(tmp_path / "my_weights")
    fresh = _regression_mlp(SavingTestSequential)
    fresh.load_weights(tmp_path / "my_weights")
    _assert_same_weights(model, fresh)
    with pytest.raises(ValueError, match="exists and overwrite=False"):
        model.save_weights(tmp_path / "my_weights", overwrite=False)
    with pytest.raises(ValueError, match="exists and overwrite=False"):
        model.save(tmp_path / "my_weights", overwrite=False)


def test_mixin_export(tmp_path):
    model = _regression_mlp(SavingTestSequential)
    model.export(tmp_path / "model.pt2", format="torch")
    program = torch.export.load(str(tmp_path / "model.pt2")).module()
    np.testing.assert_allclose(program(torch.from_numpy(X)).detach().numpy(),
                               model.predict(X, verbose=0), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------- final form

def test_book_save_and_restore_listing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = _regression_mlp()
    model.fit(X, Y, epochs=2, verbose=0)
    model.save("my_keras_model", save_format="tf")
    restored = kiln.models.load_model("my_keras_model")
    np.testing.assert_array_equal(restored.predict(X, verbose=0), model.predict(X, verbose=0))
    model.save_weights("my_weights")
    fresh = _regression_mlp()
    fresh.load_weights("my_weights")
    _assert_same_weights(model, fresh)


def test_train_two_epochs_save_load_train_two_more_equals_four_epochs(tmp_path):
    kiln.utils.set_random_seed(5)
    uninterrupted = _regression_mlp()
    uninterrupted.fit(X, Y, epochs=4, verbose=0)

    kiln.utils.set_random_seed(5)
    model = _regression_mlp()
    model.fit(X, Y, epochs=2, verbose=0)
    model.save(tmp_path / "model.kiln")
    resumed = kiln.models.load_model(tmp_path / "model.kiln")
    resumed.fit(X, Y, epochs=2, verbose=0)
    _assert_same_weights(uninterrupted, resumed)
    np.testing.assert_array_equal(resumed.predict(X, verbose=0),
                                  uninterrupted.predict(X, verbose=0))


def test_subclassed_model_without_config_reloads_through_load_weights(tmp_path):
    model = _WithLayerArgument(kiln.layers.Dense(5, activation="relu"))
    model.compile(loss="mse", optimizer="sgd")
    model.fit(X, Y, epochs=1, verbose=0)
    with pytest.warns(UserWarning, match="cannot describe its architecture"):
        model.save(tmp_path / "model.kiln")
    with pytest.raises(ValueError, match=r"not its architecture.*load_weights"):
        kiln.models.load_model(tmp_path / "model.kiln")
    fresh = _WithLayerArgument(kiln.layers.Dense(5, activation="relu"))
    fresh.load_weights(tmp_path / "model.kiln")
    _assert_same_weights(model, fresh)
    np.testing.assert_array_equal(fresh.predict(X, verbose=0), model.predict(X, verbose=0))
