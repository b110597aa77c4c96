"""AdamW, Nadam and Adamax against numpy implementations of the Keras 3 formulas."""

import math

import numpy as np
import pytest
import torch
from test_sgd_adam import DEVICES, make_problem, numpy_clip, run_kiln

import kiln.optimizers
from kiln.optimizers import Adamax, AdamW, Nadam
from kiln.optimizers.schedules import ExponentialDecay

# Nadam's momentum slot comes out of a fused kernel plus a correcting lerp (see
# kiln/optimizers/adam.py): a few float32 ulps of the gradients' scale (~1) of rounding.
SLOT_TOLERANCE = {AdamW: 1e-7, Nadam: 1e-6, Adamax: 1e-7}


def assert_matches(actual, expected, slot_atol):
    (actual_weights, actual_slots), (expected_weights, expected_slots) = actual, expected
    assert set(actual_slots) == set(expected_slots)
    for got, want in zip(actual_weights, expected_weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for name in expected_slots:
        for got, want in zip(actual_slots[name], expected_slots[name]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=slot_atol)


def numpy_adamw(weights, grads_per_step, learning_rates, weight_decay=0.004, beta_1=0.9,
                beta_2=0.999, epsilon=1e-7, amsgrad=False, **clip):
    weights = [w.astype(np.float64) for w in weights]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    v_hat = [np.zeros_like(w) for w in weights]
    for t, (grads, lr) in enumerate(zip(grads_per_step, learning_rates), start=1):
        for i, g in enumerate(numpy_clip(grads, **clip)):
            weights[i] = weights[i] - weights[i] * weight_decay * lr
            m[i] = m[i] + (g - m[i]) * (1 - beta_1)
            v[i] = v[i] + (g * g - v[i]) * (1 - beta_2)
            v_hat[i] = np.maximum(v_hat[i], v[i])
            alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
            weights[i] = weights[i] - alpha * m[i] / (np.sqrt(v_hat[i] if amsgrad else v[i])
                                                      + epsilon)
    slots = {"momentum": m, "velocity": v}
    if amsgrad:
        slots["velocity_hat"] = v_hat
    return weights, slots


def numpy_nadam(weights, grads_per_step, learning_rates, beta_1=0.9, beta_2=0.999,
                epsilon=1e-7, **clip):
    """Keras 3's Nadam, with its running product of the momentum schedule."""
    weights = [w.astype(np.float64) for w in weights]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    u_product = 1.0
    for t, (grads, lr) in enumerate(zip(grads_per_step, learning_rates), start=1):
        u_t = beta_1 * (1 - 0.5 * 0.96**t)
        u_next = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
        u_product *= u_t
        for i, g in enumerate(numpy_clip(grads, **clip)):
            m[i] = m[i] + (g - m[i]) * (1 - beta_1)
            v[i] = v[i] + (g * g - v[i]) * (1 - beta_2)
            m_hat = (u_next * m[i] / (1 - u_product * u_next)
                     + (1 - u_t) * g / (1 - u_product))
            v_hat = v[i] / (1 - beta_2**t)
            weights[i] = weights[i] - lr * m_hat / (np.sqrt(v_hat) + epsilon)
    return weights, {"momentum": m, "velocity": v}


def numpy_adamax(weights, grads_per_step, learning_rates, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, **clip):
    weights = [w.astype(np.float64) for w in weights]
    m = [np.zeros_like(w) for w in weights]
    u = [np.zeros_like(w) for w in weights]
    for t, (grads, lr) in enumerate(zip(grads_per_step, learning_rates), start=1):
        for i, g in enumerate(numpy_clip(grads, **clip)):
            m[i] = m[i] + (g - m[i]) * (1 - beta_1)
            u[i] = np.maximum(beta_2 * u[i], np.abs(g))
            weights[i] = weights[i] - lr * m[i] / ((1 - beta_1**t) * (u[i] + epsilon))
    return weights, {"momentum": m, "norm": u}


CASES = [
    ("adamw", AdamW, numpy_adamw, {}),
    ("adamw-options", AdamW, numpy_adamw,
     {"weight_decay": 0.3, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 0.01}),
    ("adamw-amsgrad", AdamW, numpy_adamw, {"weight_decay": 0.1, "amsgrad": True}),
    ("nadam", Nadam, numpy_nadam, {}),
    ("nadam-options", Nadam, numpy_nadam, {"beta_1": 0.7, "beta_2": 0.9, "epsilon": 0.01}),
    ("nadam-no-momentum", Nadam, numpy_nadam, {"beta_1": 0.0}),
    ("adamax", Adamax, numpy_adamax, {}),
    ("adamax-options", Adamax, numpy_adamax, {"beta_1": 0.5, "beta_2": 0.8, "epsilon": 0.05}),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("label, cls, reference, options", CASES, ids=IDS)
def test_matches_keras_formula(device, label, cls, reference, options):
    weights, grads = make_problem(steps=6)
    actual = run_kiln(cls(learning_rate=0.05, **options), weights, grads, device)
    assert_matches(actual, reference(weights, grads, [0.05] * 6, **options), SLOT_TOLERANCE[cls])


@pytest.mark.parametrize("label, cls, reference, options", CASES, ids=IDS)
@pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"global_clipnorm": 1.0},
                                  {"clipvalue": 0.2}], ids=["clipnorm", "global", "clipvalue"])
def test_schedule_and_clipping_match_keras_formula(label, cls, reference, options, clip):
    schedule = ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    weights, grads = make_problem(steps=5, seed=3)
    actual = run_kiln(cls(learning_rate=schedule, **options, **clip), weights, grads)
    rates = [0.1 * 0.5 ** (step / 2) for step in range(5)]
    expected = reference(weights, grads, rates, **options, **clip)
    assert_matches(actual, expected, SLOT_TOLERANCE[cls])


def test_nadam_over_many_steps_keeps_its_momentum_schedule():
    # Past ~900 steps the momentum-schedule product stops changing; kiln reads it from a table.
    weights, grads = make_problem(steps=1000, grad_scale=0.1, seed=5)
    actual = run_kiln(Nadam(learning_rate=0.01), weights, grads)
    assert_matches(actual, numpy_nadam(weights, grads, [0.01] * 1000), slot_atol=1e-7)


def test_adamw_decays_weights_without_gradient_signal():
    variable = torch.nn.Parameter(torch.full((3,), 2.0))
    optimizer = AdamW(learning_rate=0.1, weight_decay=0.5)
    optimizer.apply([torch.zeros(3)], [variable])
    # Zero gradient: only the decay acts, w * (1 - lr * weight_decay).
    torch.testing.assert_close(variable.detach(), torch.full((3,), 2.0 * (1 - 0.05)))


@pytest.mark.parametrize("name, cls, defaults", [
    ("adamw", AdamW, {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9,
                      "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False, "name": "AdamW"}),
    ("nadam", Nadam, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                      "epsilon": 1e-7, "name": "Nadam"}),
    ("adamax", Adamax, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                        "epsilon": 1e-7, "name": "Adamax"}),
])
def test_names_defaults_and_config_round_trip(name, cls, defaults):
    optimizer = kiln.optimizers.get(name)
    assert type(optimizer) is cls
    config = optimizer.get_config()
    assert {key: config[key] for key in defaults} == defaults
    custom = cls(learning_rate=0.02, beta_1=0.8, clipvalue=1.0)
    clone = kiln.optimizers.deserialize(kiln.optimizers.serialize(custom))
    assert type(clone) is cls and clone.get_config() == custom.get_config()


@pytest.mark.parametrize("make, argument", [
    (lambda: AdamW(weight_decay=-0.1), "weight_decay"),
    (lambda: AdamW(weight_decay=None), "weight_decay"),
    (lambda: Nadam(beta_1=1.0), "beta_1"),
    (lambda: Nadam(beta_2=float("nan")), "beta_2"),
    (lambda: Adamax(epsilon=-1.0), "epsilon"),
    (lambda: Adamax(learning_rate=-0.1), "learning_rate"),
])
def test_bad_arguments_name_the_argument(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*received: {argument}="):
        make()
