import numpy as np
import pytest
import torch

import kiln
from kiln.layers import Dense, Flatten, InputLayer


def book_classifier():
    model = kiln.Sequential()
    model.add(InputLayer(input_shape=[28, 28]))
    model.add(Flatten())
    model.add(Dense(300, activation="relu"))
    model.add(Dense(100, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    return model


def test_book_classifier_summary_and_layers(capsys):
    model = book_classifier()
    assert [layer.name for layer in model.layers] == ["flatten", "dense", "dense_1", "dense_2"]
    assert model.get_layer("dense") is model.layers[1]
    assert model.count_params() == 266_610
    weights, biases = model.layers[1].get_weights()
    assert weights.shape == (784, 300) and biases.shape == (300,)
    assert np.all(biases == 0) and 0 < weights.std() < 0.1
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "sequential"' in text
    assert "dense (Dense)" in text and "(None, 300)" in text and "235,500" in text
    assert "Total params: 266,610" in text and "Non-trainable params: 0" in text


@pytest.mark.parametrize("first", ["input", "input_shape", "none"])
def test_input_shape_sources(first):
    layers = [Dense(4, activation="relu"), Dense(1)]
    if first == "input":
        layers.insert(0, kiln.Input(shape=[3]))
    elif first == "input_shape":
        layers[0] = Dense(4, activation="relu", input_shape=[3])
    model = kiln.Sequential(layers)
    assert model.built == (first != "none")
    out = model(np.ones((2, 3)))
    assert out.shape == (2, 1) and model.built
    assert model.layers[0].get_weights()[0].shape == (3, 4)


def test_summary_before_build_explains():
    model = kiln.Sequential([Dense(1)])
    with pytest.raises(ValueError, match="not yet been built"):
        model.summary()


def test_torch_modules_are_layers():
    model = kiln.Sequential([torch.nn.Linear(3, 5), torch.nn.ReLU(), Dense(1)])
    out = model(torch.ones(4, 3))
    assert out.shape == (4, 1)
    assert model.count_params() == 3 * 5 + 5 + 5 + 1


def test_pop_and_duplicate_names():
    model = kiln.Sequential([kiln.Input(shape=[2]), Dense(3, name="a"), Dense(1, name="b")])
    assert model.pop().name == "b"
    assert [layer.name for layer in model.layers] == ["a"]
    with pytest.raises(ValueError, match="unique names"):
        model.add(Dense(1, name="a"))


def test_config_round_trip():
    model = kiln.Sequential([kiln.Input(shape=[3]), Dense(4, activation="relu"), Dense(1)])
    clone = kiln.Sequential.from_config(model.get_config())
    assert clone.built and [l.units for l in clone.layers] == [4, 1]
    assert clone.count_params() == model.count_params()


def test_model_call_is_inference_unless_training():
    model = kiln.Sequential([kiln.Input(shape=[50]), kiln.layers.Dropout(0.5)])
    x = np.ones((10, 50), dtype=np.float32)
    assert np.array_equal(model(x).numpy(), x)
    assert (model(x, training=True) == 0).any()


def test_a_series_without_its_size_1_feature_axis_gets_it_as_in_keras():
    # The book's chapter 15: (batch, 56) windows into SimpleRNN(1, input_shape=[None, 1]).
    windows = np.random.default_rng(0).random((16, 56)).astype("float32")
    model = kiln.Sequential([kiln.layers.SimpleRNN(1, input_shape=[None, 1])])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(windows, windows[:, -1], epochs=1, verbose=0)
    np.testing.assert_allclose(model.predict(windows, verbose=0),
                               model.predict(windows[..., None], verbose=0))
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=4"):
        model.predict(windows[:, :, None, None], verbose=0)
