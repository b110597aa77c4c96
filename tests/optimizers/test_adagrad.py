"""Adagrad against a numpy implementation of the Keras 3 formula."""

import numpy as np
import pytest
from test_sgd_adam import DEVICES, assert_matches, make_problem, numpy_clip, run_kiln

import kiln.optimizers
from kiln.optimizers import Adagrad
from kiln.optimizers.schedules import InverseTimeDecay


def numpy_adagrad(weights, grads_per_step, learning_rates, initial_accumulator_value=0.1,
                  epsilon=1e-7, **clip):
    """Keras' Adagrad; the slot returned is `accumulator + epsilon`, as kiln keeps it."""
    weights = [w.astype(np.float64) for w in weights]
    accumulators = [np.full_like(w, initial_accumulator_value) for w in weights]
    for grads, lr in zip(grads_per_step, learning_rates):
        for i, g in enumerate(numpy_clip(grads, **clip)):
            accumulators[i] = accumulators[i] + g * g
            weights[i] = weights[i] - lr * g / np.sqrt(accumulators[i] + epsilon)
    return weights, {"accumulator": [accumulator + epsilon for accumulator in accumulators]}


OPTIONS = [{}, {"initial_accumulator_value": 0.0, "epsilon": 0.5},
           {"initial_accumulator_value": 2.0}]
IDS = ["default", "epsilon", "accumulator"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_matches_keras_formula(device, options):
    # epsilon=0.5 with small gradients makes epsilon's place (under the root) visible.
    weights, grads = make_problem(steps=5, grad_scale=0.1 if options.get("epsilon") else 1.0)
    actual = run_kiln(Adagrad(learning_rate=0.1, **options), weights, grads, device)
    assert_matches(actual, numpy_adagrad(weights, grads, [0.1] * 5, **options))


@pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"global_clipnorm": 1.0},
                                  {"clipvalue": 0.2}], ids=["clipnorm", "global", "clipvalue"])
def test_schedule_and_clipping_match_keras_formula(clip):
    schedule = InverseTimeDecay(0.2, decay_steps=2, decay_rate=1.0)
    weights, grads = make_problem(steps=5, seed=4)
    actual = run_kiln(Adagrad(learning_rate=schedule, **clip), weights, grads)
    rates = [0.2 / (1 + step / 2) for step in range(5)]
    assert_matches(actual, numpy_adagrad(weights, grads, rates, **clip))


def test_defaults_name_and_config_round_trip():
    optimizer = kiln.optimizers.get("adagrad")
    assert isinstance(optimizer, Adagrad)
    config = optimizer.get_config()
    assert (config["name"], config["learning_rate"], config["initial_accumulator_value"],
            config["epsilon"]) == ("Adagrad", 0.001, 0.1, 1e-7)
    custom = Adagrad(learning_rate=0.5, initial_accumulator_value=0.0, global_clipnorm=1.0)
    clone = kiln.optimizers.deserialize(kiln.optimizers.serialize(custom))
    assert isinstance(clone, Adagrad) and clone.get_config() == custom.get_config()


@pytest.mark.parametrize("kwargs, argument", [
    ({"initial_accumulator_value": -0.1}, "initial_accumulator_value"),
    ({"epsilon": float("inf")}, "epsilon"),
    ({"learning_rate": -1.0}, "learning_rate"),
])
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*received: {argument}="):
        Adagrad(**kwargs)
