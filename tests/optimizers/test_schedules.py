"""Learning-rate schedules: closed-form values, configs, optimizers stepping them per update,
the 1cycle shape and momentum cycling, Keras 2's `decay=` argument, and bad schedule values."""

import math

import numpy as np
import pytest
import torch
from test_sgd_adam import make_problem

import kiln
from kiln.optimizers import SGD, Adam, RMSprop, schedules

# (schedule, [(step, expected rate), ...]) with the rates worked out by hand.
VALUES = [
    (schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5),
     [(0, 0.1), (5, 0.1 * math.sqrt(0.5)), (10, 0.05), (20, 0.025), (25, 0.1 * 0.5**2.5)]),
    (schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True),
     [(0, 0.1), (9, 0.1), (10, 0.05), (25, 0.025)]),
    (schedules.PiecewiseConstantDecay(boundaries=[5, 15], values=[0.01, 0.005, 0.001]),
     [(0, 0.01), (5, 0.01), (6, 0.005), (15, 0.005), (16, 0.001), (1000, 0.001)]),
    (schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5),
     [(0, 0.1), (10, 0.1 / 1.5), (15, 0.1 / 1.75), (40, 0.1 / 3)]),
    (schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True),
     [(9, 0.1), (15, 0.1 / 1.5), (20, 0.05)]),
    (schedules.PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.01, power=0.5),
     [(0, 0.1), (36, 0.09 * 0.8 + 0.01), (100, 0.01), (250, 0.01)]),
    (schedules.PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.01, cycle=True),
     [(0, 0.1), (50, 0.055), (100, 0.01), (150, 0.09 * 0.25 + 0.01), (200, 0.01)]),
    (schedules.CosineDecay(0.1, decay_steps=100, alpha=0.1),
     [(0, 0.1), (50, 0.1 * (0.9 * 0.5 + 0.1)), (100, 0.01), (300, 0.01),
      (25, 0.1 * (0.9 * 0.5 * (1 + math.sqrt(0.5)) + 0.1))]),
    (schedules.CosineDecay(0.0, decay_steps=100, warmup_target=0.2, warmup_steps=10),
     [(0, 0.0), (5, 0.1), (10, 0.2), (60, 0.1), (110, 0.0), (500, 0.0)]),
    (schedules.CosineDecayRestarts(0.1, first_decay_steps=10, t_mul=2.0, m_mul=0.5),
     [(0, 0.1), (5, 0.05), (10, 0.05), (20, 0.025), (30, 0.025), (70, 0.0125)]),
    (schedules.CosineDecayRestarts(0.1, first_decay_steps=10, t_mul=3.0, alpha=0.2),
     [(10, 0.1), (40, 0.1), (130, 0.1), (25, 0.1 * (0.8 * 0.5 + 0.2)),
      (129, 0.1 * (0.8 * 0.5 * (1 + math.cos(math.pi * 89 / 90)) + 0.2))]),
    (schedules.CosineDecayRestarts(0.1, first_decay_steps=10, t_mul=1.0, m_mul=0.9),
     [(0, 0.1), (10, 0.09), (15, 0.045), (20, 0.081)]),
    (schedules.OneCycle(max_learning_rate=0.1, total_steps=101),
     [(0, 0.01), (9, 0.01 + 0.09 * 0.2), (45, 0.1), (81, 0.01 + 0.09 * 0.2), (90, 0.01),
      (95, 0.01 + (1e-5 - 0.01) * 0.5), (100, 1e-5), (150, 1e-5)]),
]


@pytest.mark.parametrize("schedule, expected", VALUES,
                         ids=[type(schedule).__name__ for schedule, _ in VALUES])
def test_values_match_closed_form(schedule, expected):
    for step, rate in expected:
        value = schedule(step)
        assert type(value) is float
        assert value == pytest.approx(rate, rel=1e-12, abs=1e-15), f"step {step}"


@pytest.mark.parametrize("schedule, expected", VALUES,
                         ids=[type(schedule).__name__ for schedule, _ in VALUES])
def test_config_round_trip(schedule, expected):
    config = schedules.serialize(schedule)
    assert config["class_name"] == type(schedule).__name__
    clone = schedules.deserialize(config)
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()
    assert [clone(step) for step, _ in expected] == [schedule(step) for step, _ in expected]
    optimizer = SGD.from_config(SGD(learning_rate=schedule).get_config())
    assert type(optimizer._schedule) is type(schedule)


def test_cosine_restarts_finds_every_restart_exactly():
    schedule = schedules.CosineDecayRestarts(1.0, first_decay_steps=7, t_mul=3.0)
    start = 0
    for period in range(8):
        length = 7 * 3**period
        assert schedule(start) == 1.0, f"restart {period}"
        last = 0.5 * (1 + math.cos(math.pi * (length - 1) / length))
        assert schedule(start + length - 1) == pytest.approx(last, rel=1e-9)
        start += length


def test_one_cycle_shape_and_momentum():
    schedule = schedules.OneCycle(max_learning_rate=0.05, total_steps=1000)
    rates = [schedule(step) for step in range(1000)]
    momentums = [schedule.momentum(step) for step in range(1000)]
    peak = int(np.argmax(rates))
    assert 400 <= peak <= 500 and rates[peak] == pytest.approx(0.05, rel=1e-2)
    assert rates[0] == pytest.approx(0.005)
    assert np.all(np.diff(rates[:peak]) > 0) and np.all(np.diff(rates[peak + 1:]) < 0)
    assert rates[-1] == pytest.approx(0.005 / 1000) and rates[-1] < rates[0] / 100
    # Momentum mirrors the rate: lowest at the peak, highest at both ends.
    assert momentums[0] == momentums[-1] == 0.95
    assert int(np.argmin(momentums)) == peak and momentums[peak] == pytest.approx(0.85, abs=1e-3)


def test_one_cycle_arguments():
    schedule = schedules.OneCycle(1.0, 11, start_rate=0.5, final_rate=0.0, warmup_fraction=0.2,
                                  max_momentum=0.9, min_momentum=0.8)
    # Peak at step 2, back to start_rate at step 4, anneal to 0 at step 10.
    assert [schedule(step) for step in (0, 1, 2, 3, 4, 7, 10)] == pytest.approx(
        [0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0])
    assert [schedule.momentum(step) for step in (0, 1, 2, 3, 4, 10)] == pytest.approx(
        [0.9, 0.85, 0.8, 0.85, 0.9, 0.9])


def test_optimizer_steps_the_schedule_per_update():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    variable = torch.nn.Parameter(torch.zeros(2))
    optimizer = SGD(learning_rate=schedule)
    assert optimizer.learning_rate == 0.1
    for step in range(4):
        optimizer.apply([torch.ones(2)], [variable])
        assert optimizer.learning_rate == 0.1 * 0.5 ** (step + 1)
    # Plain SGD: w = -sum of the rates used at steps 0..3.
    torch.testing.assert_close(variable.detach(), torch.full((2,), -0.1875))


def test_one_cycle_cycles_sgd_momentum():
    schedule = schedules.OneCycle(max_learning_rate=0.2, total_steps=12)
    weights, grads = make_problem(steps=12, seed=7)
    optimizer = SGD(learning_rate=schedule, momentum=0.9)
    variables = [torch.nn.Parameter(torch.tensor(w)) for w in weights]
    expected = [w.astype(np.float64) for w in weights]
    velocities = [np.zeros_like(w) for w in expected]
    for step, step_grads in enumerate(grads):
        optimizer.apply([torch.tensor(g) for g in step_grads], variables)
        assert optimizer.momentum == schedule.momentum(step)
        rate, momentum = schedule(step), schedule.momentum(step)
        for i, g in enumerate(step_grads):
            velocities[i] = momentum * velocities[i] - rate * g
            expected[i] = expected[i] + velocities[i]
    assert len({schedule.momentum(step) for step in range(12)}) > 5
    for variable, want in zip(variables, expected):
        np.testing.assert_allclose(variable.detach().numpy(), want, rtol=1e-5, atol=1e-6)


def test_one_cycle_cycles_beta_1_and_rmsprop_momentum_only_when_present():
    schedule = schedules.OneCycle(max_learning_rate=0.01, total_steps=10)
    variable = torch.nn.Parameter(torch.ones(3))
    adam, rmsprop = Adam(learning_rate=schedule), RMSprop(learning_rate=schedule)
    cycled_rmsprop = RMSprop(learning_rate=schedule, momentum=0.5)
    for step in range(4):
        for optimizer in (adam, rmsprop, cycled_rmsprop):
            optimizer.apply([torch.ones(3)], [variable])
        assert adam.beta_1 == cycled_rmsprop.momentum == schedule.momentum(step)
    assert rmsprop.momentum == 0.0
    # A number as the rate stops the cycling; the last momentum stays.
    adam.learning_rate = 0.001
    adam.apply([torch.ones(3)], [variable])
    assert adam.beta_1 == schedule.momentum(3)


def test_legacy_decay_is_inverse_time_decay():
    optimizer = SGD(learning_rate=0.01, decay=1e-4)
    assert isinstance(optimizer._schedule, schedules.InverseTimeDecay)
    variable = torch.nn.Parameter(torch.zeros(1))
    for _ in range(3):
        optimizer.apply([torch.ones(1)], [variable])
    expected = -sum(0.01 / (1 + 1e-4 * step) for step in range(3))
    assert variable.item() == pytest.approx(expected, rel=1e-6)
    optimizer.iterations = 10_000
    assert optimizer.learning_rate == pytest.approx(0.005)
    clone = SGD.from_config(optimizer.get_config())
    clone.iterations = 10_000
    assert clone.learning_rate == pytest.approx(0.005)
    assert SGD(learning_rate=0.01, decay=0.0).learning_rate == 0.01
    assert Adam(lr=0.1, decay=1.0)._schedule(1) == pytest.approx(0.05)


@pytest.mark.parametrize("make, message", [
    (lambda: SGD(decay=-1.0), "`decay`"),
    (lambda: SGD(decay="fast"), "`decay`"),
    (lambda: SGD(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5), decay=0.1),
     "`decay` needs a number"),
])
def test_bad_legacy_decay(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("value", [float("nan"), -0.1, "0.1", None, float("inf")])
def test_schedule_returning_a_bad_rate_raises(value):
    optimizer = SGD(learning_rate=lambda step: 0.1 if step == 0 else value)
    variable = torch.nn.Parameter(torch.zeros(2))
    optimizer.apply([torch.ones(2)], [variable])
    with pytest.raises(ValueError, match=r"`learning_rate`.*at step 1"):
        optimizer.apply([torch.ones(2)], [variable])
    with pytest.raises(ValueError, match="`learning_rate`"):
        optimizer.learning_rate  # noqa: B018 (the property evaluates the schedule)


def test_schedule_returning_numpy_or_tensor_rates_works():
    variable = torch.nn.Parameter(torch.zeros(1))
    SGD(learning_rate=lambda step: np.float32(0.5)).apply([torch.ones(1)], [variable])
    SGD(learning_rate=lambda step: torch.tensor(0.25)).apply([torch.ones(1)], [variable])
    assert variable.item() == pytest.approx(-0.75)


class BadMomentum:
    def __call__(self, step):
        return 0.1

    def momentum(self, step):
        return 1.5


def test_schedule_returning_a_bad_momentum_raises():
    optimizer = SGD(learning_rate=BadMomentum(), momentum=0.9)
    with pytest.raises(ValueError, match=r"`momentum`.*received: momentum=1\.5"):
        optimizer.apply([torch.ones(1)], [torch.nn.Parameter(torch.zeros(1))])


@pytest.mark.parametrize("make, argument", [
    (lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5), "decay_steps"),
    (lambda: schedules.ExponentialDecay(-0.1, decay_steps=10, decay_rate=0.5),
     "initial_learning_rate"),
    (lambda: schedules.InverseTimeDecay(0.1, 10, decay_rate=float("nan")), "decay_rate"),
    (lambda: schedules.PolynomialDecay(0.1, 10, end_learning_rate=-1.0), "end_learning_rate"),
    (lambda: schedules.CosineDecay(0.1, 10, alpha=1.5), "alpha"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=2.5),
     "warmup_steps"),
    (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0.5), "t_mul"),
    (lambda: schedules.PiecewiseConstantDecay([10, 5], [0.1, 0.01, 0.001]), "boundaries"),
    (lambda: schedules.PiecewiseConstantDecay([10], [0.1]), "values"),
    (lambda: schedules.PiecewiseConstantDecay([10], [0.1, float("nan")]), "values"),
    (lambda: schedules.OneCycle(0.0, 100), "max_learning_rate"),
    (lambda: schedules.OneCycle(0.1, 1), "total_steps"),
    (lambda: schedules.OneCycle(0.1, 100, warmup_fraction=0.5), "warmup_fraction"),
    (lambda: schedules.OneCycle(0.1, 100, max_momentum=1.2), "max_momentum"),
    (lambda: schedules.OneCycle(0.1, 100, min_momentum=0.99), "min_momentum"),
])
def test_bad_schedule_arguments_name_the_argument(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make()


def test_deserialize_errors_and_registered_functions():
    with pytest.raises(ValueError, match="Unknown learning-rate schedule.*ExponentialDecay"):
        schedules.deserialize({"class_name": "ExponentialDecai", "config": {}})
    with pytest.raises(ValueError, match="is a class"):
        schedules.deserialize("CosineDecay")

    def halve(step):
        return 0.5**step

    assert schedules.deserialize("halve", custom_objects={"halve": halve}) is halve


def test_fit_steps_one_cycle_per_batch_and_saves_it(tmp_path):
    x = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    schedule = schedules.OneCycle(max_learning_rate=0.05, total_steps=8)
    model = kiln.Sequential([kiln.layers.Input(shape=[3]), kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer=SGD(learning_rate=schedule, momentum=0.9))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert model.optimizer.iterations == 8
    assert model.optimizer.learning_rate == schedule(8)
    assert model.optimizer.momentum == schedule.momentum(7)
    model.save(tmp_path / "model.keras")
    loaded = kiln.models.load_model(tmp_path / "model.keras")
    assert loaded.optimizer.get_config()["learning_rate"] == schedules.serialize(schedule)
    assert loaded.optimizer.iterations == 8
