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
