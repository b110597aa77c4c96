import numpy as np
import pytest
import torch

import kiln
from kiln.layers import Activation, Dense, Lambda, TorchModuleWrapper
from layer_contract import check_layer_contract


def test_dense_contract():
    check_layer_contract(lambda: Dense(4, activation="relu"), (3, 5), (3, 4), trainable_weights=2)
    check_layer_contract(lambda: Dense(2, use_bias=False), (3, 6, 5), (3, 6, 2),
                         trainable_weights=1)


def test_dense_computes_keras_formula_with_initializers():
    layer = Dense(3, activation="sigmoid", kernel_initializer="ones", bias_initializer="ones")
    x = np.array([[1.0, -2.0]])
    expected = 1 / (1 + np.exp(-(x @ np.ones((2, 3)) + 1)))
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-6)


def test_dense_accepts_integer_inputs_and_activation_objects():
    layer = Dense(2, activation=torch.nn.functional.elu)
    assert layer(np.array([[1, 2]], dtype=np.uint8)).dtype == torch.float32


def test_dense_kernel_constraint_applied_after_each_step():
    model = kiln.Sequential([Dense(3, kernel_constraint=kiln.constraints.NonNeg(),
                                   kernel_initializer="ones")])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=10.0))
    model.fit(np.ones((8, 2)), np.full((8, 3), -100.0), epochs=1, verbose=0)
    assert (model.layers[0].get_weights()[0] >= 0).all()


def test_regularization_is_added_to_the_training_loss():
    model = kiln.Sequential([Dense(1, kernel_initializer="ones",
                                   kernel_regularizer=kiln.regularizers.L2(1.0))])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.0))
    history = model.fit(np.zeros((4, 3)), np.zeros(4), epochs=1, verbose=0)
    assert history.history["loss"][0] == pytest.approx(3.0)  # 0 data loss + 1.0 * sum(1**2)


def test_activation_layer():
    check_layer_contract(lambda: Activation("relu"), (2, 3), (2, 3))
    out = Activation("softmax")(torch.tensor([[1.0, 1.0]]))
    np.testing.assert_allclose(out.numpy(), [[0.5, 0.5]])


def test_lambda_layer_and_its_config_refusal():
    layer = Lambda(lambda x, factor: x * factor, arguments={"factor": 3.0})
    np.testing.assert_allclose(layer(torch.ones(1, 2)).numpy(), [[3.0, 3.0]])
    with pytest.raises(NotImplementedError, match="never serializes"):
        layer.get_config()
    with pytest.raises(ValueError, match="callable"):
        Lambda(3)
    symbolic = Lambda(lambda x: x[:, :2], output_shape=[2])(kiln.Input(shape=[5]))
    assert symbolic.shape == (None, 2)


def test_torch_module_wrapper():
    layer = TorchModuleWrapper(torch.nn.Linear(3, 2))
    assert layer(torch.ones(4, 3)).shape == (4, 2)
    assert len(layer.trainable_weights) == 2
    symbolic = TorchModuleWrapper(torch.nn.Linear(3, 2))(kiln.Input(shape=[3]))
    assert symbolic.shape == (None, 2)
    with pytest.raises(ValueError, match="torch.nn.Module"):
        TorchModuleWrapper("linear")
