"""Learning-rate schedules: the learning rate as a function of the optimizer step.

A schedule is passed as an optimizer's `learning_rate`; the optimizer calls it once per step
with `iterations` (the number of updates applied so far, starting at 0) and uses the Python
float it returns. Every schedule here is plain Python arithmetic on that integer (under a
microsecond a call): no tensor, so no device synchronization in the training loop.

The Keras schedules follow Keras 3's formulas and arguments (including `name`). `OneCycle`,
the 1cycle policy the book describes, is kiln's own: it also cycles the optimizer's momentum
(see `OneCycle.momentum`).

Schedules save with the optimizer (`get_config` / `from_config`); a custom schedule class or
function is found again when registered with `kiln.saving.register_serializable` or passed in
`custom_objects`.
"""

import bisect
import math

from kiln.optimizers.base import check_float
from kiln.saving import registry


class LearningRateSchedule(registry.Serializable):
    """Base class of learning-rate schedules.

    A subclass implements `__call__(step)`, returning the learning rate (a Python float) of
    optimizer step `step` (an int, 0 for the first update), and `get_config()` returning its
    constructor arguments, so that the optimizer's config can rebuild it.

    Example:

    >>> class InverseSquareRoot(kiln.optimizers.schedules.LearningRateSchedule):
    ...     def __init__(self, initial_learning_rate):
    ...         self.initial_learning_rate = initial_learning_rate
    ...     def __call__(self, step):
    ...         return self.initial_learning_rate / math.sqrt(step + 1)
    ...     def get_config(self):
    ...         return {"initial_learning_rate": self.initial_learning_rate}
    >>> optimizer = kiln.optimizers.SGD(learning_rate=InverseSquareRoot(0.1))
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning-rate schedule {type(self).__name__!r} must implement __call__(step).")


class ExponentialDecay(LearningRateSchedule):
    """Multiplies the learning rate by `decay_rate` every `decay_steps` steps.

        learning_rate(step) = initial_learning_rate * decay_rate ** (step / decay_steps)

    With `staircase=True`, `step / decay_steps` is rounded down, so the rate drops in steps.
    The book's exponential scheduling (`lr0 * 0.1 ** (epoch / s)`) is
    `ExponentialDecay(lr0, decay_steps=s * steps_per_epoch, decay_rate=0.1)`.

    Args:
        initial_learning_rate: the rate at step 0, a number >= 0.
        decay_steps: number of steps over which the rate is multiplied by `decay_rate`, > 0.
        decay_rate: the factor, a number >= 0 (below 1 to decay).
        staircase: whether to decay at discrete intervals. Defaults to False.
        name: name of the schedule. Defaults to `"ExponentialDecay"`.

    Example:

    >>> n_steps = 25 * math.ceil(len(X_train) / 32)
    >>> schedule = kiln.optimizers.schedules.ExponentialDecay(
    ...     initial_learning_rate=0.01, decay_steps=n_steps, decay_rate=0.1)
    >>> optimizer = kiln.optimizers.SGD(learning_rate=schedule)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        self.initial_learning_rate = _non_negative("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.decay_rate = _non_negative("decay_rate", decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        progress = step / self.decay_steps
        if self.staircase:
            progress = math.floor(progress)
        return self.initial_learning_rate * self.decay_rate ** progress

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant learning rate per interval of steps.

    The rate is `values[0]` while `step <= boundaries[0]`, `values[1]` while
    `boundaries[0] < step <= boundaries[1]`, ..., and `values[-1]` once
    `step > boundaries[-1]`.

    Args:
        boundaries: strictly increasing step numbers.
        values: the rates, numbers >= 0, one more than `boundaries`.
        name: name of the schedule. Defaults to `"PiecewiseConstant"`.

    Example:

    >>> schedule = kiln.optimizers.schedules.PiecewiseConstantDecay(
    ...     boundaries=[5 * steps_per_epoch, 15 * steps_per_epoch], values=[0.01, 0.005, 0.001])
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "Argument `values` must have one more element than `boundaries`; received "
                f"boundaries={boundaries!r} ({len(boundaries)} elements) and values={values!r} "
                f"({len(values)} elements).")
        self.boundaries = [check_float("boundaries", boundary, math.isfinite, "finite numbers")
                           for boundary in boundaries]
        if any(low >= high for low, high in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(
                f"Argument `boundaries` must be strictly increasing; received: "
                f"boundaries={boundaries!r}")
        self.values = [_non_negative("values", value) for value in values]
        self.name = name

    def __call__(self, step):
        return self.values[bisect.bisect_left(self.boundaries, step)]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """Divides the learning rate by `1 + decay_rate * step / decay_steps`: power scheduling.

        learning_rate(step) = initial_learning_rate / (1 + decay_rate * step / decay_steps)

    With `staircase=True`, `step / decay_steps` is rounded down. This is the book's power
    scheduling with `c = 1`, and what the Keras 2 `decay=` argument of every optimizer does:
    `SGD(learning_rate=0.01, decay=1e-4)` uses `InverseTimeDecay(0.01, 1, 1e-4)`.

    Args:
        initial_learning_rate: the rate at step 0, a number >= 0.
        decay_steps: the step count `s` that `decay_rate` refers to, > 0.
        decay_rate: a number >= 0.
        staircase: whether to decay at discrete intervals. Defaults to False.
        name: name of the schedule. Defaults to `"InverseTimeDecay"`.

    Example:

    >>> schedule = kiln.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=10_000,
    ...                                                       decay_rate=1.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        self.initial_learning_rate = _non_negative("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.decay_rate = _non_negative("decay_rate", decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        progress = step / self.decay_steps
        if self.staircase:
            progress = math.floor(progress)
        return self.initial_learning_rate / (1.0 + self.decay_rate * progress)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Moves the learning rate from `initial_learning_rate` to `end_learning_rate` polynomially.

        step = min(step, decay_steps)
        learning_rate(step) = ((initial_learning_rate - end_learning_rate)
                               * (1 - step / decay_steps) ** power + end_learning_rate)

    With `cycle=True`, `decay_steps` is replaced by its first multiple that is >= `step` (and by
    `decay_steps` itself at step 0), so the decay restarts every `decay_steps` steps.

    Args:
        initial_learning_rate: the rate at step 0, a number >= 0.
        decay_steps: number of steps to reach `end_learning_rate`, > 0.
        end_learning_rate: the final rate, a number >= 0. Defaults to 0.0001.
        power: the power of the polynomial, a number >= 0. Defaults to 1.0 (linear).
        cycle: whether to restart the decay after `decay_steps`. Defaults to False.
        name: name of the schedule. Defaults to `"PolynomialDecay"`.

    Example:

    >>> schedule = kiln.optimizers.schedules.PolynomialDecay(0.1, decay_steps=10_000,
    ...                                                      end_learning_rate=0.01, power=0.5)
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        self.initial_learning_rate = _non_negative("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.end_learning_rate = _non_negative("end_learning_rate", end_learning_rate)
        self.power = _non_negative("power", power)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        decay_steps = self.decay_steps
        if not self.cycle:
            step = min(step, decay_steps)
        elif step > 0:
            decay_steps *= math.ceil(step / decay_steps)
        remaining = 1.0 - step / decay_steps
        return ((self.initial_learning_rate - self.end_learning_rate) * remaining ** self.power
                + self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay of the learning rate, with an optional linear warmup before it.

    Without warmup (`warmup_target=None`), over `decay_steps` steps:

        step = min(step, decay_steps)
        learning_rate(step) = initial_learning_rate * ((1 - alpha) * cosine + alpha)
        with cosine = 0.5 * (1 + cos(pi * step / decay_steps))

    With a `warmup_target`, the rate first rises linearly from `initial_learning_rate` to
    `warmup_target` over `warmup_steps` steps, then decays as above from `warmup_target` (to
    `alpha * warmup_target`) over the next `decay_steps` steps.

    Args:
        initial_learning_rate: the rate at step 0, a number >= 0.
        decay_steps: number of decay steps, > 0.
        alpha: the final rate as a fraction of the decay's starting rate, in [0, 1].
            Defaults to 0.
        name: name of the schedule. Defaults to `"CosineDecay"`.
        warmup_target: None (no warmup, the default) or the rate reached after the warmup.
        warmup_steps: number of warmup steps, an integer >= 0. Defaults to 0.

    Example:

    >>> schedule = kiln.optimizers.schedules.CosineDecay(
    ...     0.0, decay_steps=9000, warmup_target=0.1, warmup_steps=1000)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = _non_negative("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.alpha = _fraction("alpha", alpha)
        self.name = name
        self.warmup_target = (None if warmup_target is None
                              else _non_negative("warmup_target", warmup_target))
        self.warmup_steps = _count("warmup_steps", warmup_steps, minimum=0)

    def __call__(self, step):
        if self.warmup_target is None:
            return self.initial_learning_rate * self._decayed(min(step, self.decay_steps))
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            rise = self.warmup_target - self.initial_learning_rate
            return rise * fraction + self.initial_learning_rate
        step = min(step - self.warmup_steps, self.decay_steps)
        return self.warmup_target * self._decayed(step)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}

    def _decayed(self, step):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return (1.0 - self.alpha) * cosine + self.alpha


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR).

    The rate decays like `CosineDecay` from `initial_learning_rate` to
    `alpha * initial_learning_rate` over `first_decay_steps` steps, then restarts: period `i`
    (from 0) lasts `first_decay_steps * t_mul**i` steps and its cosine is scaled by
    `m_mul**i`:

        learning_rate = initial_learning_rate * ((1 - alpha) * m_mul**i * cosine + alpha)
        with cosine = 0.5 * (1 + cos(pi * fraction of period i completed))

    kiln finds the period exactly, also at the restart steps themselves, where the logarithm
    Keras computes the period with can round into the previous period.

    Args:
        initial_learning_rate: the rate at step 0, a number >= 0.
        first_decay_steps: length of the first period in steps, > 0.
        t_mul: factor by which each period is longer than the previous one, >= 1.
            Defaults to 2.0.
        m_mul: factor by which each period starts lower than the previous one, >= 0.
            Defaults to 1.0.
        alpha: the rate at the end of each period as a fraction of `initial_learning_rate`,
            in [0, 1]. Defaults to 0.
        name: name of the schedule. Defaults to `"SGDRDecay"`.

    Example:

    >>> schedule = kiln.optimizers.schedules.CosineDecayRestarts(0.1, first_decay_steps=1000)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        self.initial_learning_rate = _non_negative("initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _positive("first_decay_steps", first_decay_steps)
        self.t_mul = check_float("t_mul", t_mul, lambda x: 1.0 <= x < math.inf,
                                 "a finite number >= 1")
        self.m_mul = _non_negative("m_mul", m_mul)
        self.alpha = _fraction("alpha", alpha)
        self.name = name

    def __call__(self, step):
        restart, fraction = self._period(step / self.first_decay_steps)
        cosine = 0.5 * self.m_mul ** restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul,
                "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}

    def _period(self, completed):
        """Returns the period index `i` and the fraction of it completed, given the number of
        first periods completed (`completed = step / first_decay_steps`)."""
        t_mul = self.t_mul
        if t_mul == 1.0:
            restart = math.floor(completed)
            return restart, completed - restart
        # Periods 0..i-1 add up to (1 - t_mul**i) / (1 - t_mul) first periods; the logarithm
        # gives i up to rounding, which the loops correct.
        restart = math.floor(math.log1p(completed * (t_mul - 1.0)) / math.log(t_mul))
        while restart > 0 and _geometric_sum(t_mul, restart) > completed:
            restart -= 1
        while _geometric_sum(t_mul, restart + 1) <= completed:
            restart += 1
        start = _geometric_sum(t_mul, restart)
        return restart, (completed - start) / t_mul ** restart


class OneCycle(LearningRateSchedule):
    """The 1cycle policy: the rate rises to a peak, falls back, then anneals; momentum mirrors it.

    As the book describes (after Leslie Smith), over `total_steps` optimizer steps:

    1. the rate grows linearly from `start_rate` to `max_learning_rate` over the first
       `warmup_fraction` of training;
    2. it decreases linearly back to `start_rate` over as many steps;
    3. over the remaining steps (10% of training by default) it drops linearly to
       `final_rate`, orders of magnitude lower, reached at the last step
       (`total_steps - 1`) and kept after it.

    Momentum is cycled the other way: from `max_momentum` down to `min_momentum` at the peak,
    back up to `max_momentum`, then held. kiln optimizers apply `momentum(step)` each step to
    their momentum-like hyperparameter: `momentum` of `SGD` and `RMSprop` (when created with a
    momentum > 0) and `beta_1` of `Adam`, `AdamW`, `Adamax` and `Nadam`. That attribute (and
    so the optimizer's `get_config()`) then holds the last value applied.

    Args:
        max_learning_rate: the peak rate, a number > 0.
        total_steps: the number of optimizer steps of the whole training (epochs times steps
            per epoch), an integer >= 2.
        start_rate: the rate at step 0 and at the end of the cycle. Defaults to
            `max_learning_rate / 10`, as in the book (torch's `OneCycleLR` uses / 25).
        final_rate: the rate at the last step. Defaults to `start_rate / 1000`, as in the book.
        warmup_fraction: the fraction of `total_steps` spent rising, in (0, 0.5). Defaults to
            0.45: the peak comes near mid-training and the last 10% of steps anneal.
        max_momentum: momentum at the start and the end, in [0, 1). Defaults to 0.95.
        min_momentum: momentum at the peak rate, in [0, max_momentum]. Defaults to 0.85.
        name: name of the schedule. Defaults to `"OneCycle"`.

    Example:

    >>> n_steps = 25 * math.ceil(len(X_train) / 32)
    >>> schedule = kiln.optimizers.schedules.OneCycle(max_learning_rate=0.1, total_steps=n_steps)
    >>> model.compile(loss="sparse_categorical_crossentropy",
    ...               optimizer=kiln.optimizers.SGD(learning_rate=schedule, momentum=0.9))
    >>> model.fit(X_train, y_train, epochs=25, batch_size=32)
    """

    def __init__(self, max_learning_rate, total_steps, start_rate=None, final_rate=None,
                 warmup_fraction=0.45, max_momentum=0.95, min_momentum=0.85, name="OneCycle"):
        self.max_learning_rate = check_float(
            "max_learning_rate", max_learning_rate, lambda x: 0.0 < x < math.inf,
            "a finite number > 0")
        self.total_steps = _count("total_steps", total_steps, minimum=2)
        self.start_rate = (self.max_learning_rate / 10.0 if start_rate is None
                           else _non_negative("start_rate", start_rate))
        self.final_rate = (self.start_rate / 1000.0 if final_rate is None
                           else _non_negative("final_rate", final_rate))
        self.warmup_fraction = check_float(
            "warmup_fraction", warmup_fraction, lambda x: 0.0 < x < 0.5,
            "a number in (0, 0.5)")
        self.max_momentum = check_float(
            "max_momentum", max_momentum, lambda x: 0.0 <= x < 1.0, "a number in [0, 1)")
        self.min_momentum = check_float(
            "min_momentum", min_momentum, lambda x: 0.0 <= x <= self.max_momentum,
            f"a number in [0, max_momentum={self.max_momentum}]")
        self.name = name
        self._last_step = self.total_steps - 1
        self._peak_step = self.warmup_fraction * self._last_step

    def __call__(self, step):
        peak, rise = self._peak_step, self.max_learning_rate - self.start_rate
        if step < peak:
            return self.start_rate + rise * (step / peak)
        if step < 2.0 * peak:
            return self.max_learning_rate - rise * ((step - peak) / peak)
        if step < self._last_step:
            annealed = (step - 2.0 * peak) / (self._last_step - 2.0 * peak)
            return self.start_rate + (self.final_rate - self.start_rate) * annealed
        return self.final_rate

    def momentum(self, step):
        """Returns the momentum of step `step`: the mirror image of the rate's cycle.

        Args:
            step: the optimizer step (an int, from 0).

        Returns:
            A float between `min_momentum` and `max_momentum`.
        """
        peak, drop = self._peak_step, self.max_momentum - self.min_momentum
        if step < peak:
            return self.max_momentum - drop * (step / peak)
        if step < 2.0 * peak:
            return self.min_momentum + drop * ((step - peak) / peak)
        return self.max_momentum

    def get_config(self):
        return {"max_learning_rate": self.max_learning_rate, "total_steps": self.total_steps,
                "start_rate": self.start_rate, "final_rate": self.final_rate,
                "warmup_fraction": self.warmup_fraction, "max_momentum": self.max_momentum,
                "min_momentum": self.min_momentum, "name": self.name}


_SCHEDULES = {cls.__name__: cls for cls in (
    ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, PolynomialDecay, CosineDecay,
    CosineDecayRestarts, OneCycle)}


def serialize(schedule):
    """Returns `{"class_name": ..., "config": ...}` describing `schedule` (a registered function
    is described by its name)."""
    return registry.serialize_object(schedule)


def deserialize(config, custom_objects=None):
    """Rebuilds a schedule from the output of `serialize`.

    Args:
        config: a dict `{"class_name": ..., "config": ...}` naming a built-in or registered
            schedule class, or the name of a registered schedule function.
        custom_objects: optional mapping of names to custom schedule classes or functions.

    Returns:
        The schedule (a callable taking the step).

    Example:

    >>> schedule = kiln.optimizers.schedules.ExponentialDecay(0.01, 1000, 0.1)
    >>> config = kiln.optimizers.schedules.serialize(schedule)
    >>> kiln.optimizers.schedules.deserialize(config)(1000)
    0.001
    """
    family = "learning-rate schedule"
    try:
        if isinstance(config, str):
            found = registry.resolve(config, _SCHEDULES, family, custom_objects)
        else:
            found = registry.resolve_class(config, _SCHEDULES, family, custom_objects)
    except ValueError as error:
        raise ValueError(
            f"{error} A custom schedule must be registered with "
            "kiln.saving.register_serializable or passed in `custom_objects`.") from None
    if not isinstance(config, str):
        arguments = config.get("config") or {}
        return found.from_config(arguments) if hasattr(found, "from_config") else found(**arguments)
    if isinstance(found, type):
        raise ValueError(
            f"The {family} {config!r} is a class: pass its config, "
            f"{{'class_name': {config!r}, 'config': {{...}}}}, not its name alone.")
    return found


def _geometric_sum(ratio, count):
    """Returns `1 + ratio + ... + ratio**(count - 1)`."""
    return (1.0 - ratio ** count) / (1.0 - ratio)


def _non_negative(argument, value):
    return check_float(argument, value, lambda x: 0.0 <= x < math.inf, "a finite number >= 0")


def _positive(argument, value):
    return check_float(argument, value, lambda x: 0.0 < x < math.inf, "a finite number > 0")


def _fraction(argument, value):
    return check_float(argument, value, lambda x: 0.0 <= x <= 1.0, "a number in [0, 1]")


def _count(argument, value, minimum):
    return int(check_float(argument, value, lambda x: x.is_integer() and x >= minimum,
                           f"an integer >= {minimum}"))
