import weakref

import numpy as np
import pytest
import torch

import kiln
from kiln.engine.functional import _relus_safe_in_place
from kiln.layers import Concatenate, Dense, Normalization


def wide_and_deep(aux=False):
    input_wide = kiln.Input(shape=[5])
    input_deep = kiln.Input(shape=[6])
    norm_wide = Normalization()(input_wide)
    norm_deep = Normalization()(input_deep)
    hidden1 = Dense(30, activation="relu")(norm_deep)
    hidden2 = Dense(30, activation="relu")(hidden1)
    concat = kiln.layers.concatenate([norm_wide, hidden2])
    output = Dense(1)(concat)
    outputs = [output, Dense(1)(hidden2)] if aux else [output]
    return kiln.Model(inputs=[input_wide, input_deep], outputs=outputs)


def test_single_input_graph_from_the_book():
    input_ = kiln.Input(shape=[8])
    normalized = Normalization()(input_)
    hidden2 = Dense(30, activation="relu")(Dense(30, activation="relu")(normalized))
    concat = Concatenate()([normalized, hidden2])
    output = Dense(1)(concat)
    model = kiln.Model(inputs=[input_], outputs=[output])
    assert isinstance(model, kiln.Functional)
    assert concat.shape == (None, 38) and output.shape == (None, 1)
    assert model(np.ones((4, 8))).shape == (4, 1)
    assert model.count_params() == (8 + 8 + 1) + (8 * 30 + 30) + (30 * 30 + 30) + (38 + 1)


def test_multi_input_multi_output(capsys):
    model = wide_and_deep(aux=True)
    assert [type(l).__name__ for l in model.layers][:2] == ["InputLayer", "InputLayer"]
    main, aux = model((torch.ones(3, 5), torch.ones(3, 6)))
    assert main.shape == (3, 1) and aux.shape == (3, 1)
    model.summary()
    text = capsys.readouterr().out
    assert "Connected to" in text and "input_1[0][0]" in text


def test_dict_inputs_by_name():
    a, b = kiln.Input(shape=[2], name="a"), kiln.Input(shape=[3], name="b")
    model = kiln.Model([a, b], Dense(1)(kiln.layers.concatenate([a, b])))
    out = model({"b": torch.ones(4, 3), "a": torch.ones(4, 2)})
    assert out.shape == (4, 1)
    with pytest.raises(ValueError, match="missing inputs"):
        model({"a": torch.ones(4, 2)})


def test_wrong_number_of_inputs():
    model = wide_and_deep()
    with pytest.raises(ValueError, match=r"expects 2 input\(s\), but it received 1"):
        model(torch.ones(3, 5))


def test_graph_errors():
    a, b = kiln.Input(shape=[2]), kiln.Input(shape=[2])
    out = kiln.layers.add([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        kiln.Model(inputs=a, outputs=out)
    with pytest.raises(ValueError, match="symbolic"):
        kiln.Model(inputs=a, outputs=torch.ones(1))
    with pytest.raises(ValueError, match="matching shapes"):
        kiln.layers.Concatenate()([kiln.Input(shape=[2, 3]), kiln.Input(shape=[4, 3])])


def test_nested_model_and_shared_layer():
    inner = kiln.Sequential([kiln.Input(shape=[4]), Dense(3)])
    x = kiln.Input(shape=[4])
    shared = Dense(4)
    y = inner(shared(shared(x)))
    model = kiln.Model(x, y)
    assert model(torch.ones(2, 4)).shape == (2, 3)
    assert model.count_params() == (4 * 4 + 4) + (4 * 3 + 3)


def test_lambda_and_reshape_shapes():
    x = kiln.Input(shape=[12])
    r = kiln.layers.Reshape((3, -1))(x)
    doubled = kiln.layers.Lambda(lambda t: t * 2)(r)
    assert r.shape == (None, 3, 4) and doubled.shape == (None, 3, 4)
    flat = kiln.layers.Flatten()(doubled)
    model = kiln.Model(x, flat)
    np.testing.assert_allclose(model(np.arange(12.0).reshape(1, 12)).numpy(),
                               2 * np.arange(12.0).reshape(1, 12))
    with pytest.raises(ValueError, match="cannot reshape"):
        kiln.layers.Reshape((5,))(x)


def test_add_and_multiply():
    a, b = kiln.Input(shape=[3]), kiln.Input(shape=[3])
    model = kiln.Model([a, b], [kiln.layers.Add()([a, b]), kiln.layers.Multiply()([a, b])])
    total, product = model([torch.full((1, 3), 2.0), torch.full((1, 3), 3.0)])
    assert torch.all(total == 5) and torch.all(product == 6)


def test_config_round_trip_rebuilds_the_same_graph():
    import json
    model = wide_and_deep(aux=True)
    config = json.loads(json.dumps(model.get_config()))
    clone = kiln.Functional.from_config(config)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert clone.count_params() == model.count_params()
    clone.set_weights(model.get_weights())
    inputs = (torch.rand(4, 5), torch.rand(4, 6))
    for mine, theirs in zip(model(inputs), clone(inputs)):
        torch.testing.assert_close(mine, theirs)


def test_layers_deserialize_by_class_name():
    layer = kiln.layers.deserialize({"class_name": "Dense", "config": {"units": 3}})
    assert isinstance(layer, Dense) and layer.units == 3
    with pytest.raises(ValueError, match="Unknown layer: 'Dens'"):
        kiln.layers.deserialize({"class_name": "Dens", "config": {}})


def test_inputs_missing_a_size_1_last_axis_get_it_per_input():
    series, features = kiln.Input(shape=[None, 1]), kiln.Input(shape=[3])
    summary = kiln.layers.GRU(2)(series)
    model = kiln.Model([series, features], kiln.layers.concatenate([summary, features]))
    windows = np.random.default_rng(0).random((4, 7)).astype("float32")
    extra = np.ones((4, 3), "float32")
    np.testing.assert_allclose(model.predict([windows, extra], verbose=0),
                               model.predict([windows[..., None], extra], verbose=0))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        model.predict([windows, np.ones((4, 2), "float32")], verbose=0)


def _relu_graph(second_use):
    inputs = kiln.Input(shape=[6, 6, 2])
    x = kiln.layers.Conv2D(4, 3, padding="same")(inputs)
    x = kiln.layers.BatchNormalization()(x)
    y = kiln.layers.Activation("relu")(x)
    if second_use:  # x feeds two layers: the ReLU must leave it alone
        y = kiln.layers.Add()([y, x])
    y = kiln.layers.Dense(3, activation="tanh")(y)
    y = kiln.layers.ReLU()(y)  # after tanh, whose backward reads its output: not in place
    return kiln.Model(inputs, kiln.layers.Flatten()(y))


@pytest.mark.parametrize("second_use", [False, True])
def test_relus_run_in_place_only_where_nothing_else_reads_their_input(second_use):
    model = _relu_graph(second_use)
    in_place = _relus_safe_in_place(model._nodes, model.inputs, model.outputs)
    assert [type(node.layer).__name__ for node in in_place] == ([] if second_use
                                                               else ["Activation"])
    images = torch.randn(5, 6, 6, 2)
    layers = model.layers[1:]
    outputs = model(images, training=True)
    loss = (outputs ** 2).sum()
    gradients = torch.autograd.grad(loss, model.trainable_weights)
    # The same layers run one by one, out of place.
    conv, norm, _, *rest = layers
    x = norm(conv(images), training=True)
    y = torch.relu(x)
    if second_use:
        rest = rest[1:]  # the Add
        y = y + x
    dense, _, flatten = rest
    expected = flatten(torch.relu(dense(y)))
    torch.testing.assert_close(outputs, expected)
    expected_gradients = torch.autograd.grad((expected ** 2).sum(), model.trainable_weights)
    for got, want in zip(gradients, expected_gradients):
        torch.testing.assert_close(got, want)



class Tracked(kiln.layers.Layer):
    """Doubles its input; notes which earlier outputs are still alive when it runs."""

    def __init__(self, outputs_made, **kwargs):
        super().__init__(**kwargs)
        self.outputs_made = outputs_made
        self.alive = None

    def call(self, inputs):
        self.alive = [name for name, ref in self.outputs_made if ref() is not None]
        outputs = inputs * 2
        self.outputs_made.append((self.name, weakref.ref(outputs)))
        return outputs


def test_intermediate_values_are_released_after_their_last_reader():
    outputs_made = []
    layers = [Tracked(outputs_made, name=name) for name in "abcd"]
    inputs = kiln.Input(shape=[3])
    symbolic = {}
    x = inputs
    for layer in layers:
        x = symbolic[layer.name] = layer(x)
    model = kiln.Model(inputs, [symbolic["d"], symbolic["a"]])
    outputs_made.clear()
    with torch.no_grad():
        d, a = model(torch.ones(2, 3))
    # b is released once c (its only reader) has run; a is an output; c is d's input
    assert layers[3].alive == ["a", "c"]
    assert torch.equal(d, torch.full((2, 3), 16.0)) and torch.equal(a, torch.full((2, 3), 2.0))
