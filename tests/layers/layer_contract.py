"""The contract every kiln layer honours, checked the same way for each one.

`check_layer_contract` builds the layer lazily and symbolically, compares shapes with
`compute_output_shape`, counts weights, round-trips the config, runs a training step (the
trainable weights receive gradients and change) and round-trips the weights through
`get_weights` / `set_weights` and torch's `state_dict`.
"""

import numpy as np
import torch

import kiln


def check_layer_contract(make_layer, input_shape, expected_output_shape, trainable_weights=0,
                         non_trainable_weights=0, input_dtype=torch.float32):
    """Runs `make_layer()` through the layer contract on inputs of `input_shape` (batch first)."""
    layer = make_layer()
    x = torch.rand(input_shape).to(input_dtype)
    output = layer(x)
    assert tuple(output.shape) == tuple(expected_output_shape), output.shape
    assert layer.built
    assert len(layer.trainable_weights) == trainable_weights
    assert len(layer.non_trainable_weights) == non_trainable_weights
    assert layer.count_params() == sum(w.numel() for w in layer.weights)

    symbolic_layer = make_layer()
    symbolic = symbolic_layer(kiln.Input(shape=input_shape[1:], dtype=input_dtype))
    assert symbolic.shape == (None,) + tuple(expected_output_shape[1:])
    assert tuple(symbolic_layer.compute_output_shape((None,) + tuple(input_shape[1:]))) == \
        symbolic.shape

    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(x)
    clone.set_weights(layer.get_weights())
    for mine, theirs in zip(layer.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    fresh = type(layer).from_config(config)
    fresh(x)
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(fresh(x), layer(x))

    if trainable_weights:
        before = [w.detach().clone() for w in layer.trainable_weights]
        optimizer = kiln.optimizers.SGD(learning_rate=0.1)
        loss = (layer(x, training=True) ** 2).mean()
        grads = torch.autograd.grad(loss, layer.trainable_weights)
        optimizer.apply_gradients(zip(grads, layer.trainable_weights))
        assert any(not torch.equal(b, a) for b, a in zip(before, layer.trainable_weights))
    return layer
