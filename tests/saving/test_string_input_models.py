import numpy as np
import torch

import kiln


def test_a_model_reading_strings_saves_and_loads(tmp_path):
    lookup = kiln.layers.StringLookup(vocabulary=["NEAR BAY", "INLAND", "NEAR OCEAN"])
    model = kiln.Sequential([lookup, kiln.layers.Embedding(5, 2)])
    categories = np.array([["NEAR BAY"], ["ISLAND"], ["INLAND"]])
    expected = model(categories)
    model.save(tmp_path / "model.kiln")
    loaded = kiln.models.load_model(tmp_path / "model.kiln")
    torch.testing.assert_close(loaded(categories), expected)
    assert loaded.layers[0].get_vocabulary() == lookup.get_vocabulary()


def test_integer_inputs_build_with_their_dtype(tmp_path):
    model = kiln.Sequential([kiln.layers.Embedding(10, 3), kiln.layers.Flatten(),
                             kiln.layers.Dense(1)])
    tokens = torch.tensor([[1, 2], [3, 9]])
    expected = model(tokens)
    model.save(tmp_path / "model.kiln")
    torch.testing.assert_close(kiln.models.load_model(tmp_path / "model.kiln")(tokens), expected)


def test_functional_model_with_a_string_input_trains_saves_and_loads(tmp_path):
    categories = np.array([["NEAR BAY"], ["INLAND"], ["NEAR OCEAN"], ["INLAND"]] * 8)
    targets = np.arange(32, dtype=np.float32) % 3
    lookup = kiln.layers.StringLookup()
    lookup.adapt(categories)
    inputs = kiln.Input(shape=[1], dtype="string")
    embedded = kiln.layers.Embedding(lookup.vocabulary_size(), 2)(lookup(inputs))
    model = kiln.Model(inputs, kiln.layers.Dense(1)(kiln.layers.Flatten()(embedded)))
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(categories, targets, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "model.kiln")
    loaded = kiln.models.load_model(tmp_path / "model.kiln")
    np.testing.assert_allclose(loaded.predict(categories[:4], verbose=0),
                               model.predict(categories[:4], verbose=0), rtol=1e-6)
    sequential = kiln.Sequential([kiln.Input(shape=[1], dtype="string"), lookup])
    assert kiln.Sequential.from_config(sequential.get_config())._input_dtype == "string"
