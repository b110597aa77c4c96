"""Adagrad, Keras formula.

torch's fused Adagrad kernel adds epsilon outside the square root (`sqrt(acc) + eps`) where
Keras adds it inside (`sqrt(acc + eps)`), and no argument turns one into the other, so the
update is written with four `torch._foreach_*` calls.
"""

import math

import torch

from kiln.optimizers.base import Optimizer, check_float


class Adagrad(Optimizer):
    """Adagrad optimizer: per-coordinate learning rates that shrink with the squared gradients
    accumulated since the start.

    For each variable `w` with gradient `g`:

        accumulator = accumulator + g**2
        w = w - learning_rate * g / sqrt(accumulator + epsilon)

    The book's advice stands: Adagrad often stops too early on deep networks; it suits simple
    (e.g. convex) problems.

    Args:
        learning_rate: a number >= 0 or a schedule `callable(step)`. Defaults to 0.001
            (Adagrad usually needs larger values).
        initial_accumulator_value: starting value of the accumulators, a number >= 0.
            Defaults to 0.1.
        epsilon: small constant >= 0 added under the square root. Defaults to 1e-7.
        name: name of the optimizer. Defaults to `"Adagrad"`.
        **kwargs: `clipnorm`, `clipvalue`, `global_clipnorm`, `lr`, `decay`; see `Optimizer`.

    Example:

    >>> optimizer = kiln.optimizers.Adagrad(learning_rate=0.1)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 name="Adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = check_float(
            "initial_accumulator_value", initial_accumulator_value,
            lambda x: 0.0 <= x < math.inf, "a finite number >= 0")
        self.epsilon = check_float(
            "epsilon", epsilon, lambda x: 0.0 <= x < math.inf, "a finite number >= 0")

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value,
                       "epsilon": self.epsilon})
        return config

    def _slot_names(self):
        return ("accumulator",)

    def _create_slot(self, name, variable):
        return torch.full_like(variable, self.initial_accumulator_value,
                               memory_format=torch.preserve_format)

    def _update_step(self, group, grads, learning_rate):
        accumulators = group.slots["accumulator"]
        torch._foreach_addcmul_(accumulators, grads, grads)
        denominators = torch._foreach_add(accumulators, self.epsilon)
        torch._foreach_sqrt_(denominators)
        torch._foreach_addcdiv_(group.variables, grads, denominators, -learning_rate)
