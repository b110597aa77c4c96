import numpy as np
import pytest

import kiln
from kiln.layers import Dense


def test_finder_sweeps_restores_and_suggests():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 4))
    y = X @ np.array([1.0, -1.0, 2.0, 0.5])
    model = kiln.Sequential([kiln.Input(shape=[4]), Dense(16, activation="relu"), Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.01))
    before = [w.copy() for w in model.get_weights()]
    search = kiln.utils.find_learning_rate(model, X, y, min_rate=1e-4, max_rate=10.0, steps=200)
    assert search.rates[0] == pytest.approx(1e-4)
    assert np.all(np.diff(search.rates) > 0)
    assert len(search.rates) < 200  # stopped once the loss shot up
    assert 1e-4 < search.suggested_rate < 1.0
    assert min(search.losses) < search.losses[0] / 2
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    assert model.optimizer.iterations == 0
    model.fit(X, y, epochs=1, verbose=0)  # still trains normally afterwards


def test_finder_validates_arguments():
    model = kiln.Sequential([Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="min_rate < max_rate"):
        kiln.utils.find_learning_rate(model, np.ones((8, 2)), np.ones(8), min_rate=1, max_rate=0.1)
    with pytest.raises(RuntimeError, match="compile"):
        kiln.utils.find_learning_rate(kiln.Sequential([Dense(1)]), np.ones((8, 2)), np.ones(8))
