"""RMSprop against a numpy implementation of the Keras 3 formula."""

import numpy as np
import pytest
import torch
from test_sgd_adam import DEVICES, assert_matches, make_problem, numpy_clip, run_kiln

import kiln.optimizers
from kiln.optimizers import RMSprop
from kiln.optimizers.schedules import PiecewiseConstantDecay


def numpy_rmsprop(weights, grads_per_step, learning_rates, rho=0.9, momentum=0.0,
                  epsilon=1e-7, centered=False, **clip):
    """Keras' RMSprop; the velocity slot returned is `v + epsilon`, as kiln keeps it."""
    weights = [w.astype(np.float64) for w in weights]
    velocities = [np.zeros_like(w) for w in weights]
    averages = [np.zeros_like(w) for w in weights]
    momentums = [np.zeros_like(w) for w in weights]
    for grads, lr in zip(grads_per_step, learning_rates):
        for i, g in enumerate(numpy_clip(grads, **clip)):
            velocities[i] = rho * velocities[i] + (1 - rho) * g * g
            if centered:
                averages[i] = rho * averages[i] + (1 - rho) * g
                denominator = velocities[i] - averages[i] ** 2 + epsilon
            else:
                denominator = velocities[i] + epsilon
            increment = lr * g / np.sqrt(denominator)
            if momentum > 0:
                momentums[i] = momentum * momentums[i] + increment
                weights[i] = weights[i] - momentums[i]
            else:
                weights[i] = weights[i] - increment
    slots = {"velocity": [velocity + epsilon for velocity in velocities]}
    if momentum > 0:
        slots["momentum"] = momentums
    if centered:
        slots["average_gradient"] = averages
    return weights, slots


OPTIONS = [
    {},
    {"rho": 0.5, "epsilon": 0.3},
    {"rho": 0.0},
    {"momentum": 0.9},
    {"centered": True},
    {"centered": True, "momentum": 0.5, "rho": 0.8},
]
IDS = ["default", "rho-epsilon", "rho-0", "momentum", "centered", "centered-momentum"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_matches_keras_formula(device, options):
    # epsilon=0.3 with small gradients makes epsilon's place (under the root) visible.
    weights, grads = make_problem(steps=5, grad_scale=0.1 if options.get("epsilon") else 1.0)
    actual = run_kiln(RMSprop(learning_rate=0.05, **options), weights, grads, device)
    assert_matches(actual, numpy_rmsprop(weights, grads, [0.05] * 5, **options))


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
@pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"global_clipnorm": 1.0},
                                  {"clipvalue": 0.2}], ids=["clipnorm", "global", "clipvalue"])
def test_schedule_and_clipping_match_keras_formula(options, clip):
    schedule = PiecewiseConstantDecay(boundaries=[1, 3], values=[0.1, 0.03, 0.01])
    weights, grads = make_problem(steps=5, seed=2)
    actual = run_kiln(RMSprop(learning_rate=schedule, **options, **clip), weights, grads)
    rates = [0.1, 0.1, 0.03, 0.03, 0.01]
    assert_matches(actual, numpy_rmsprop(weights, grads, rates, **options, **clip))


def test_fused_plain_update_leaves_the_gradients_unchanged():
    # The fused path passes the gradients as the kernel's first moment (beta_1 = 0).
    grads = [torch.randn(3, 4), torch.randn(4)]
    expected = [grad.clone() for grad in grads]
    variables = [torch.nn.Parameter(torch.zeros(3, 4)), torch.nn.Parameter(torch.zeros(4))]
    optimizer = RMSprop(learning_rate=0.1)
    optimizer.apply(grads, variables)
    optimizer.apply(grads, variables)
    for grad, want in zip(grads, expected):
        torch.testing.assert_close(grad, want, rtol=0, atol=0)


def test_defaults_name_and_config_round_trip():
    optimizer = kiln.optimizers.get("rmsprop")
    assert isinstance(optimizer, RMSprop)
    config = optimizer.get_config()
    assert (config["name"], config["learning_rate"], config["rho"], config["momentum"],
            config["epsilon"], config["centered"]) == ("RMSprop", 0.001, 0.9, 0.0, 1e-7, False)
    custom = RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True, clipnorm=2.0)
    clone = kiln.optimizers.deserialize(kiln.optimizers.serialize(custom))
    assert isinstance(clone, RMSprop) and clone.get_config() == custom.get_config()


@pytest.mark.parametrize("kwargs, argument", [
    ({"rho": 1.0}, "rho"),
    ({"rho": -0.1}, "rho"),
    ({"momentum": 1.5}, "momentum"),
    ({"momentum": float("nan")}, "momentum"),
    ({"epsilon": -1e-7}, "epsilon"),
    ({"learning_rate": float("nan")}, "learning_rate"),
])
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*received: {argument}="):
        RMSprop(**kwargs)
