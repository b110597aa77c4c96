"""The learning-rate finder of the book's "Learning Rate" section, as one function.

Train for a few hundred steps while the learning rate grows exponentially from tiny to huge,
record the loss at each step, and pick a rate about ten times lower than where the loss is
lowest (just before it shoots up). The model's weights and the optimizer's state are restored
afterwards, so the search leaves no trace.
"""

import collections
import copy
import math

import numpy as np

from kiln.engine import data_adapter

LearningRateSearch = collections.namedtuple("LearningRateSearch",
                                            ["rates", "losses", "suggested_rate"])


def find_learning_rate(model, x, y=None, batch_size=32, min_rate=1e-5, max_rate=10.0,
                       steps=300, stop_factor=4.0, smoothing=0.9, plot=False):
    """Finds a good learning rate for a compiled model by an exponential sweep.

    Args:
        model: a compiled kiln model (its optimizer is the one swept).
        x, y: training data, as for `fit` (arrays or an iterable of batches).
        batch_size: samples per step for array data.
        min_rate, max_rate: the sweep's first and last learning rates.
        steps: number of training steps of the sweep (the data is cycled if needed).
        stop_factor: the sweep stops early once the smoothed loss exceeds this many times its
            minimum (the loss has "shot up").
        smoothing: factor of the exponential moving average applied to the losses (0 = none).
        plot: if True, draws loss against learning rate on a log axis (needs matplotlib).

    Returns:
        A `LearningRateSearch(rates, losses, suggested_rate)`: the rates tried, the smoothed
        losses, and the rate at the lowest loss divided by 10.

    Example:

    >>> search = kiln.utils.find_learning_rate(model, X_train, y_train)
    >>> model.optimizer.learning_rate = search.suggested_rate
    """
    if not 0 < min_rate < max_rate or not math.isfinite(max_rate):
        raise ValueError(f"Expected 0 < min_rate < max_rate, finite, but received min_rate="
                         f"{min_rate!r}, max_rate={max_rate!r}.")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"`steps` must be an integer >= 2, but received: {steps!r}.")
    if not 0 <= smoothing < 1:
        raise ValueError(f"`smoothing` must be in [0, 1), but received: {smoothing!r}.")
    model._check_compiled("find_learning_rate")
    data = data_adapter.adapt(x, y, None, None if not data_adapter.is_array_like(x) else batch_size)
    data = model._prepare_for(data, training=True)
    saved_weights = copy.deepcopy(model.state_dict())
    optimizer = model.optimizer
    saved_optimizer = optimizer.state_dict()
    saved_rate = optimizer._schedule if optimizer._schedule is not None else optimizer.learning_rate
    growth = (max_rate / min_rate) ** (1.0 / (steps - 1))
    rates, losses = [], []
    average, best = 0.0, math.inf
    tracker = model.compiled_loss.total_tracker
    model.train(True)
    try:
        for step, batch in enumerate(_cycle(data, steps)):
            rate = min_rate * growth ** step
            optimizer.learning_rate = rate
            model._reset_metrics()
            model.train_step(batch)
            loss = float(tracker.result())
            if not math.isfinite(loss):
                break
            average = smoothing * average + (1 - smoothing) * loss
            smoothed = average / (1 - smoothing ** (step + 1))
            rates.append(rate)
            losses.append(smoothed)
            best = min(best, smoothed)
            if smoothed > stop_factor * best:
                break
    finally:
        model.train(False)
        model.load_state_dict(saved_weights)
        optimizer.load_state_dict(saved_optimizer)
        optimizer.learning_rate = saved_rate
        model._reset_metrics()
    if not losses:
        raise RuntimeError(f"The loss was not finite even at learning rate {min_rate}: check "
                           "the data and the model before searching for a learning rate.")
    suggested = rates[int(np.argmin(losses))] / 10
    if plot:
        _plot(rates, losses, suggested)
    return LearningRateSearch(rates, losses, suggested)


def _cycle(data, steps):
    produced = 0
    while produced < steps:
        for batch in data.batches(shuffle=True):
            yield batch
            produced += 1
            if produced == steps:
                return
        if produced == 0:
            raise ValueError("The data yielded no batch.")


def _plot(rates, losses, suggested):
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plot=True needs matplotlib: pip install matplotlib") from error
    plt.plot(rates, losses)
    plt.axvline(suggested, linestyle="--", color="gray")
    plt.gca().set_xscale("log")
    plt.xlabel("Learning rate")
    plt.ylabel("Loss")
    plt.grid(True)
