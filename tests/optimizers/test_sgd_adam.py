"""SGD and Adam against numpy implementations of the Keras formulas."""

import math

import numpy as np
import pytest
import torch

import kiln.optimizers
from kiln.optimizers import SGD, Adam

SHAPES = [(3, 4), (4,), (2, 3, 2), (1,)]
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="no CUDA device")),
]


def make_problem(steps, grad_scale=1.0, seed=0):
    """Returns initial weights and per-step gradients as float32 numpy arrays."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(shape).astype(np.float32) for shape in SHAPES]
    grads = [[(grad_scale * rng.standard_normal(shape)).astype(np.float32) for shape in SHAPES]
             for _ in range(steps)]
    return weights, grads


def run_kiln(optimizer, weights, grads_per_step, device="cpu", learning_rates=None):
    """Runs `optimizer` on torch copies of the problem; returns weights and slots as numpy."""
    variables = [torch.nn.Parameter(torch.tensor(w, device=device)) for w in weights]
    for step, grads in enumerate(grads_per_step):
        if learning_rates is not None:
            optimizer.learning_rate = learning_rates[step]
        optimizer.apply([torch.tensor(g, device=device) for g in grads], variables)
    slots = {name: [s.cpu().numpy() for s in tensors]
             for name, tensors in optimizer.state_dict()["slots"].items()}
    return [v.detach().cpu().numpy() for v in variables], slots


def numpy_clip(grads, clipnorm=None, global_clipnorm=None, clipvalue=None):
    grads = [g.astype(np.float64) for g in grads]
    if clipnorm is not None:
        grads = [g * clipnorm / max(np.linalg.norm(g), clipnorm) for g in grads]
    if global_clipnorm is not None:
        total = math.sqrt(sum(np.sum(g * g) for g in grads))
        grads = [g * global_clipnorm / max(total, global_clipnorm) for g in grads]
    if clipvalue is not None:
        grads = [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def numpy_sgd(weights, grads_per_step, learning_rates, momentum=0.0, nesterov=False, **clip):
    weights = [w.astype(np.float64) for w in weights]
    momentums = [np.zeros_like(w) for w in weights]
    for grads, lr in zip(grads_per_step, learning_rates):
        for i, g in enumerate(numpy_clip(grads, **clip)):
            if momentum == 0.0:
                weights[i] = weights[i] - lr * g
                continue
            momentums[i] = momentum * momentums[i] - lr * g
            if nesterov:
                weights[i] = weights[i] + momentum * momentums[i] - lr * g
            else:
                weights[i] = weights[i] + momentums[i]
    return weights, {"momentum": momentums} if momentum else {}


def numpy_adam(weights, grads_per_step, learning_rates, beta_1=0.9, beta_2=0.999,
               epsilon=1e-7, amsgrad=False, **clip):
    weights = [w.astype(np.float64) for w in weights]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    v_hat = [np.zeros_like(w) for w in weights]
    for t, (grads, lr) in enumerate(zip(grads_per_step, learning_rates), start=1):
        alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i, g in enumerate(numpy_clip(grads, **clip)):
            m[i] = beta_1 * m[i] + (1 - beta_1) * g
            v[i] = beta_2 * v[i] + (1 - beta_2) * g * g
            v_hat[i] = np.maximum(v_hat[i], v[i])
            denominator = np.sqrt(v_hat[i] if amsgrad else v[i]) + epsilon
            weights[i] = weights[i] - alpha * m[i] / denominator
    slots = {"momentum": m, "velocity": v}
    if amsgrad:
        slots["velocity_hat"] = v_hat
    return weights, slots


def assert_matches(actual, expected):
    (actual_weights, actual_slots), (expected_weights, expected_slots) = actual, expected
    assert set(actual_slots) == set(expected_slots)
    for got, want in zip(actual_weights, expected_weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for name in expected_slots:
        for got, want in zip(actual_slots[name], expected_slots[name]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_matches_keras_formula(device, momentum, nesterov):
    weights, grads = make_problem(steps=4)
    optimizer = SGD(learning_rate=0.1, momentum=momentum, nesterov=nesterov)
    actual = run_kiln(optimizer, weights, grads, device)
    assert_matches(actual, numpy_sgd(weights, grads, [0.1] * 4, momentum, nesterov))
    assert optimizer.iterations == 4


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("epsilon", [1e-7, 0.3])
def test_adam_matches_keras_formula(device, amsgrad, epsilon):
    # epsilon=0.3 with small gradients makes epsilon's place in the formula visible.
    weights, grads = make_problem(steps=5, grad_scale=0.1 if epsilon > 0.1 else 1.0)
    optimizer = Adam(learning_rate=0.05, beta_1=0.8, beta_2=0.95, epsilon=epsilon,
                     amsgrad=amsgrad)
    actual = run_kiln(optimizer, weights, grads, device)
    expected = numpy_adam(weights, grads, [0.05] * 5, 0.8, 0.95, epsilon, amsgrad)
    assert_matches(actual, expected)


def test_adam_defaults_match_keras():
    optimizer = Adam()
    assert (optimizer.learning_rate, optimizer.beta_1, optimizer.beta_2, optimizer.epsilon,
            optimizer.amsgrad) == (0.001, 0.9, 0.999, 1e-7, False)
    weights, grads = make_problem(steps=3)
    assert_matches(run_kiln(optimizer, weights, grads), numpy_adam(weights, grads, [0.001] * 3))


CASES = [
    ("sgd", lambda **kw: SGD(momentum=0.9, **kw), numpy_sgd, {"momentum": 0.9}),
    ("nesterov", lambda **kw: SGD(momentum=0.9, nesterov=True, **kw), numpy_sgd,
     {"momentum": 0.9, "nesterov": True}),
    ("adam", lambda **kw: Adam(**kw), numpy_adam, {}),
    ("amsgrad", lambda **kw: Adam(amsgrad=True, **kw), numpy_adam, {"amsgrad": True}),
]


@pytest.mark.parametrize("label, make, reference, options", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("clip", [
    {"clipnorm": 0.5}, {"global_clipnorm": 1.0}, {"clipvalue": 0.2},
    {"clipnorm": 0.5, "clipvalue": 0.2},
], ids=["clipnorm", "global_clipnorm", "clipvalue", "clipnorm+clipvalue"])
def test_clipping_matches_reference(label, make, reference, options, clip):
    weights, grads = make_problem(steps=3)
    actual = run_kiln(make(learning_rate=0.1, **clip), weights, grads)
    assert_matches(actual, reference(weights, grads, [0.1] * 3, **options, **clip))


def test_clipping_changes_the_result():
    weights, grads = make_problem(steps=2)
    clipped, _ = run_kiln(SGD(learning_rate=0.1, clipvalue=0.01), weights, grads)
    plain, _ = run_kiln(SGD(learning_rate=0.1), weights, grads)
    assert not np.allclose(clipped[0], plain[0])


@pytest.mark.parametrize("label, make, reference, options", CASES, ids=[c[0] for c in CASES])
def test_schedule_is_evaluated_at_each_step(label, make, reference, options):
    def schedule(step):
        return 0.1 * 0.5**step

    weights, grads = make_problem(steps=4)
    actual = run_kiln(make(learning_rate=schedule), weights, grads)
    rates = [schedule(step) for step in range(4)]
    assert_matches(actual, reference(weights, grads, rates, **options))


@pytest.mark.parametrize("label, make, reference, options", CASES, ids=[c[0] for c in CASES])
def test_learning_rate_changed_between_steps(label, make, reference, options):
    # torch's own SGD momentum formula gives a different result here; Keras' must hold.
    rates = [0.1, 0.1, 0.02, 0.3]
    weights, grads = make_problem(steps=4)
    actual = run_kiln(make(learning_rate=0.1), weights, grads, learning_rates=rates)
    assert_matches(actual, reference(weights, grads, rates, **options))


def test_sgd_with_tiny_learning_rate_keeps_precision():
    weights, grads = make_problem(steps=3)
    actual = run_kiln(SGD(learning_rate=1e-6, momentum=0.5), weights, grads)
    expected = numpy_sgd(weights, grads, [1e-6] * 3, momentum=0.5)
    for got, want in zip(actual[1]["momentum"], expected[1]["momentum"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-13)


def test_float64_variables_are_updated_in_float64():
    weights, grads = make_problem(steps=3)
    variables = [torch.nn.Parameter(torch.tensor(w, dtype=torch.float64)) for w in weights]
    optimizer = Adam(learning_rate=0.1)
    for step_grads in grads:
        optimizer.apply([torch.tensor(g, dtype=torch.float64) for g in step_grads], variables)
    expected, _ = numpy_adam(weights, grads, [0.1] * 3)
    for variable, want in zip(variables, expected):
        np.testing.assert_allclose(variable.detach().numpy(), want, rtol=1e-12)


def test_get_config_round_trip():
    optimizer = SGD(learning_rate=0.05, momentum=0.8, nesterov=True, clipvalue=1.5)
    clone = SGD.from_config(optimizer.get_config())
    assert clone.get_config() == optimizer.get_config()
    adam = Adam(learning_rate=0.002, beta_1=0.85, epsilon=1e-6, amsgrad=True, global_clipnorm=2)
    config = adam.get_config()
    assert config["beta_1"] == 0.85 and config["amsgrad"] is True
    assert config["global_clipnorm"] == 2.0
    assert kiln.optimizers.deserialize(kiln.optimizers.serialize(adam)).get_config() == config


@pytest.mark.parametrize("make, argument", [
    (lambda: SGD(momentum=2), "momentum"),
    (lambda: SGD(momentum=-0.1), "momentum"),
    (lambda: SGD(learning_rate=-1.0), "learning_rate"),
    (lambda: Adam(beta_1=1.0), "beta_1"),
    (lambda: Adam(beta_2=-0.5), "beta_2"),
    (lambda: Adam(epsilon=-1e-7), "epsilon"),
    (lambda: Adam(learning_rate="fast"), "learning_rate"),
])
def test_bad_arguments_name_the_argument(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*received: {argument}="):
        make()


@pytest.mark.parametrize("make_optimizer", [
    lambda: kiln.optimizers.SGD(learning_rate=0.1, momentum=0.9),
    lambda: kiln.optimizers.Adam(learning_rate=0.1),
    lambda: kiln.optimizers.RMSprop(learning_rate=0.1),
    lambda: kiln.optimizers.Adagrad(learning_rate=0.1),
])
def test_variables_laid_out_in_another_axis_order_update_as_contiguous_ones(make_optimizer):
    values = torch.randn(3, 3, 4, 5)
    contiguous = torch.nn.Parameter(values.clone())
    # A convolution kernel's layout: Keras' shape, memory in (out, kh, kw, in) order.
    strided = torch.nn.Parameter(values.permute(3, 0, 1, 2).contiguous().permute(1, 2, 3, 0))
    layout = strided.stride()
    assert not strided.is_contiguous()
    optimizers = [make_optimizer(), make_optimizer()]
    for _ in range(3):
        grads = torch.randn(3, 3, 4, 5)
        optimizers[0].apply([grads.clone()], [contiguous])
        strided_grad = torch.empty_like(strided).copy_(grads)
        optimizers[1].apply([strided_grad], [strided])
    torch.testing.assert_close(strided.detach(), contiguous.detach())
    assert strided.stride() == layout  # still in its own layout
