import numpy as np
import pytest
import torch

import kiln
from kiln.layers import Dense, Dropout, Layer


def test_dense_builds_lazily_with_keras_layout():
    layer = Dense(3)
    assert not layer.built and layer.weights == []
    out = layer(torch.ones(4, 5))
    assert out.shape == (4, 3)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (5, 3) and bias.shape == (3,)
    np.testing.assert_allclose(out.detach().numpy(), np.ones((4, 5)) @ kernel + bias, rtol=1e-6)


def test_default_names_are_unique_and_reset():
    assert [Dense(1).name, Dense(1).name, Dense(1).name] == ["dense", "dense_1", "dense_2"]
    kiln.utils.clear_session()
    assert Dense(1).name == "dense"
    assert kiln.layers.Normalization().name == "normalization"


def test_set_weights_checks_count_and_shapes():
    layer = Dense(2)
    layer.build((None, 3))
    assert layer.built
    layer.set_weights([np.ones((3, 2)), np.full(2, 5.0)])
    np.testing.assert_array_equal(layer.bias.detach().numpy(), [5.0, 5.0])
    with pytest.raises(ValueError, match="expects 2 weights"):
        layer.set_weights([np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"weight 0 has shape \(3, 2\).*\(2, 3\)"):
        layer.set_weights([np.ones((2, 3)), np.zeros(2)])


def test_trainable_flag_freezes_weights_and_sublayers():
    model = kiln.Sequential([kiln.Input(shape=[4]), Dense(3), Dense(1)])
    assert len(model.trainable_weights) == 4
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    model.trainable = False
    assert model.trainable_weights == []
    model.trainable = True
    assert len(model.trainable_weights) == 4
    norm = kiln.layers.Normalization()
    norm.build((None, 4))
    norm.trainable = True
    assert norm.trainable_weights == []  # statistics stay frozen


class ResidualUnit(Layer):
    def __init__(self, units, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.hidden = [Dense(units, activation=activation) for _ in range(2)]

    def call(self, inputs):
        z = inputs
        for layer in self.hidden:
            z = layer(z)
        return inputs + z


def test_custom_layer_tracks_sublayers_in_lists_and_has_auto_config():
    unit = ResidualUnit(4)
    out = unit(torch.ones(2, 4))
    assert out.shape == (2, 4)
    assert len(unit.weights) == 4 and unit.count_params() == 2 * (4 * 4 + 4)
    config = unit.get_config()
    assert config["units"] == 4 and config["activation"] == "relu"
    clone = ResidualUnit.from_config(config)
    assert clone.hidden[0].units == 4


def test_dense_config_round_trip():
    layer = Dense(7, activation="relu", use_bias=False, name="hidden")
    clone = Dense.from_config(layer.get_config())
    assert (clone.units, clone.use_bias, clone.name) == (7, False, "hidden")
    assert clone.activation is kiln.activations.relu


def test_wrong_feature_count_names_layer_and_shapes():
    layer = Dense(2, name="dense_2")
    layer(torch.ones(1, 8))
    with pytest.raises(ValueError) as info:
        layer(torch.ones(32, 5))
    message = str(info.value)
    assert 'layer "dense_2"' in message
    assert "expected axis -1 of input shape to have value 8" in message
    assert "(32, 5)" in message


def test_declared_input_shape_is_checked():
    layer = Dense(2, input_shape=[3])
    with pytest.raises(ValueError, match=r"built for input shape \(None, 3\)"):
        layer(torch.ones(4, 5))


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="units"):
        Dense(0)
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="Unrecognized keyword"):
        Dense(3, unitz=4)
    with pytest.raises(ValueError, match="Unknown activation"):
        Dense(3, activation="rleu")


class Noisy(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dropout = Dropout(0.5)

    def call(self, inputs):
        return self.dropout(inputs)


def test_training_flag_reaches_nested_layers():
    layer = Noisy()
    x = torch.ones(1000, 10)
    assert torch.equal(layer(x), x)  # inference by default, as in Keras
    dropped = layer(x, training=True)
    assert 0.4 < float((dropped == 0).float().mean()) < 0.6
    layer.train()  # torch style also works
    assert not torch.equal(layer(x), x)


def test_numpy_inputs_are_accepted():
    layer = Dense(2)
    out = layer(np.ones((3, 4)))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32


def test_activity_regularizer_adds_a_loss_per_call():
    layer = Dense(2, kernel_initializer="ones", activity_regularizer=kiln.regularizers.L1(0.5))
    out = layer(torch.ones(4, 3))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0].detach()), 0.5 * float(out.abs().sum().detach()) / 4,
                               rtol=1e-6)
    layer(torch.ones(4, 3))
    assert len(layer.losses) == 1  # the previous call's loss was cleared


def test_weight_regularizer_in_losses():
    layer = Dense(2, kernel_initializer="ones", kernel_regularizer=kiln.regularizers.L2(0.1))
    layer(torch.ones(1, 3))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0].detach()), 0.1 * 6, rtol=1e-6)


def test_layer_is_a_torch_module():
    layer = Dense(2)
    layer(torch.ones(1, 3))
    assert set(layer.state_dict()) == {"kernel", "bias"}
    assert len(list(layer.parameters())) == 2


def test_get_weights_returns_copies():
    layer = Dense(2)
    layer(torch.ones(1, 3))
    kernel = layer.get_weights()[0]
    with torch.no_grad():
        layer.kernel.add_(1.0)
    assert not np.array_equal(kernel, layer.get_weights()[0])
