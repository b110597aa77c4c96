"""Tests for kiln.activations: every function against a numpy reference, and the registry."""

import math

import numpy as np
import pytest
import torch

from kiln import activations
from kiln.saving import registry

X = np.array(
    [
        [-4.0, -3.0, -1.5, -0.2, 0.0, 0.3, 1.0, 2.5, 3.0, 7.0],
        [5.0, -6.5, 0.1, 0.6, -2.0, 4.0, -0.7, 1.7, 6.0, -3.2],
    ]
)

_erf = np.vectorize(math.erf)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _hard_sigmoid(x):
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805

REFERENCES = {
    "relu": lambda x: np.maximum(x, 0.0),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softmax": lambda x: _softmax(x, -1),
    "log_softmax": lambda x: np.log(_softmax(x, -1)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "exponential": np.exp,
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": lambda x: x * _hard_sigmoid(x),
    "hard_swish": lambda x: x * _hard_sigmoid(x),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "linear": lambda x: x,
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_matches_numpy(name):
    function = getattr(activations, name)
    result = function(torch.tensor(X, dtype=torch.float64))
    np.testing.assert_allclose(result.numpy(), REFERENCES[name](X), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"negative_slope": 0.1},
        {"max_value": 6.0},
        {"max_value": 2.0},
        {"negative_slope": 0.1, "max_value": 5.0},
        {"threshold": 1.0},
        {"negative_slope": 0.1, "max_value": 5.0, "threshold": 0.5},
        {"negative_slope": 0.3, "threshold": -1.0},
    ],
)
def test_relu_options_match_the_keras_formula(kwargs):
    slope = kwargs.get("negative_slope", 0.0)
    cap = kwargs.get("max_value", np.inf)
    threshold = kwargs.get("threshold", 0.0)
    expected = np.where(X > threshold, np.minimum(X, cap), slope * (X - threshold))
    result = activations.relu(torch.tensor(X), **kwargs)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12)


def test_activation_arguments():
    x = torch.tensor(X)
    np.testing.assert_allclose(activations.leaky_relu(x, 0.5).numpy(), np.where(X >= 0, X, 0.5 * X))
    np.testing.assert_allclose(
        activations.elu(x, alpha=0.5).numpy(), np.where(X > 0, X, 0.5 * np.expm1(X))
    )
    tanh_gelu = 0.5 * X * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (X + 0.044715 * X**3)))
    np.testing.assert_allclose(activations.gelu(x, approximate=True).numpy(), tanh_gelu, rtol=1e-6)
    np.testing.assert_allclose(activations.softmax(x, axis=0).numpy(), _softmax(X, 0), rtol=1e-12)
    np.testing.assert_allclose(
        activations.log_softmax(x, axis=0).numpy(), np.log(_softmax(X, 0)), rtol=1e-9
    )


def test_get_resolves_names_and_passes_callables_through():
    assert activations.get(None) is activations.linear
    assert activations.get("relu") is activations.relu
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.get("Softmax") is activations.softmax
    layer = torch.nn.LeakyReLU(0.2)
    assert activations.get(layer) is layer
    custom = lambda x: 2 * x  # noqa: E731
    assert activations.get(custom) is custom


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_serialize_round_trip(name):
    function = getattr(activations, name)
    serialized = activations.serialize(function)
    assert isinstance(serialized, str)
    assert activations.get(serialized) is function


def test_serialize_uses_canonical_names():
    assert activations.serialize(activations.swish) == "silu"
    assert activations.serialize(activations.hard_swish) == "hard_silu"
    assert activations.serialize(activations.get(None)) == "linear"


def test_registered_custom_activations_round_trip():
    @registry.register_serializable(package="test_activations")
    def doubled(x):
        return 2 * x

    @registry.register_serializable(package="test_activations")
    class Scaled:
        def __init__(self, factor=1.0):
            self.factor = factor

        def __call__(self, x):
            return self.factor * x

        def get_config(self):
            return {"factor": self.factor}

        @classmethod
        def from_config(cls, config):
            return cls(**config)

    assert activations.serialize(doubled) == "test_activations>doubled"
    assert activations.get("test_activations>doubled") is doubled
    config = activations.serialize(Scaled(3.0))
    assert config == {"class_name": "test_activations>Scaled", "config": {"factor": 3.0}}
    rebuilt = activations.get(config)
    assert isinstance(rebuilt, Scaled) and rebuilt.factor == 3.0
    with pytest.raises(ValueError, match="Unknown activation class: 'NoSuchActivation'"):
        activations.deserialize({"class_name": "NoSuchActivation", "config": {}})
