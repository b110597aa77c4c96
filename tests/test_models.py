import numpy as np
import torch

import kiln
from kiln.layers import Dense


def test_clone_model_has_same_architecture_fresh_weights():
    model_A = kiln.Sequential([kiln.Input(shape=[3]), Dense(5, activation="relu"), Dense(1)])
    clone = kiln.models.clone_model(model_A)
    assert clone.count_params() == model_A.count_params()
    assert not np.array_equal(clone.get_weights()[0], model_A.get_weights()[0])
    clone.set_weights(model_A.get_weights())
    x = torch.rand(4, 3)
    torch.testing.assert_close(clone(x), model_A(x))


def test_clone_functional_and_reuse_layers_for_transfer():
    inputs = kiln.Input(shape=[3])
    model_A = kiln.Model(inputs, Dense(1)(Dense(4, activation="relu")(inputs)))
    assert kiln.models.clone_model(model_A).count_params() == model_A.count_params()

    seq_A = kiln.Sequential([kiln.Input(shape=[3]), Dense(4, activation="relu"), Dense(1)])
    model_B_on_A = kiln.Sequential(seq_A.layers[:-1])
    model_B_on_A.add(Dense(1, activation="sigmoid"))
    for layer in model_B_on_A.layers[:-1]:
        layer.trainable = False
    model_B_on_A.compile(loss="binary_crossentropy", optimizer="sgd")
    frozen = seq_A.layers[0].get_weights()[0].copy()
    X, y = np.random.default_rng(0).normal(size=(32, 3)), np.ones(32)
    model_B_on_A.fit(X, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(seq_A.layers[0].get_weights()[0], frozen)
    for layer in model_B_on_A.layers[:-1]:  # unfreezing without recompiling is honoured
        layer.trainable = True
    model_B_on_A.fit(X, y, epochs=1, verbose=0)
    assert not np.array_equal(seq_A.layers[0].get_weights()[0], frozen)
