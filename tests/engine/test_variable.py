import copy
import io

import numpy as np
import torch

import kiln
from kiln.layers import Dense, Normalization


def test_weights_are_variables_with_keras_names():
    layer = Dense(2, name="hidden")
    layer(torch.ones(1, 3))
    kernel = layer.kernel
    assert isinstance(kernel, kiln.Variable) and isinstance(kernel, torch.nn.Parameter)
    assert (kernel.name, kernel.path, kernel.trainable) == ("kernel", "hidden/kernel", True)
    norm = Normalization()
    norm.build((None, 3))
    assert [(v.name, v.trainable) for v in norm.variables] == [
        ("mean", False), ("variance", False), ("count", False)]


def test_numpy_and_assign():
    layer = Dense(2)
    layer(torch.ones(1, 3))
    layer.bias.assign([1.0, 2.0])
    np.testing.assert_array_equal(layer.bias.numpy(), [1.0, 2.0])
    layer.bias.assign_add(1.0)
    layer.bias.assign_sub(np.array([0.5, 0.5]))
    np.testing.assert_array_equal(layer.bias.numpy(), [1.5, 2.5])
    assert layer.bias.requires_grad  # assign keeps it a trainable leaf


def test_own_trainable_flag_survives_copies_and_freezing():
    norm = Normalization()
    norm.build((None, 2))
    clone = copy.deepcopy(norm)
    assert clone.mean.trainable is False and clone.mean.path == norm.mean.path
    clone.trainable = False
    clone.trainable = True
    assert clone.trainable_weights == []
    buffer = io.BytesIO()
    torch.save(norm.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert set(state) == {"mean", "variance", "count"}
