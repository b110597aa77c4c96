"""RMSprop, Keras formula (plain or centered, with optional momentum).

torch has no fused RMSprop kernel, and its multi-tensor RMSprop computes another formula
(epsilon outside the square root, and the learning rate applied after the momentum), so the
Keras update is written with `torch._foreach_*` calls: five per step without momentum, seven
with it, as many as `torch.optim.RMSprop(foreach=True)` makes (bench/bench_optimizers.py).
"""

import math

import torch

from kiln.optimizers.base import Optimizer, check_float


class RMSprop(Optimizer):
    """RMSprop optimizer: divides the gradient by a running root mean square of gradients.

    For each variable `w` with gradient `g`:

        v = rho * v + (1 - rho) * g**2
        a = rho * a + (1 - rho) * g                      (centered=True)
        d = v - a**2 + epsilon  if centered  else  v + epsilon
        m = momentum * m + learning_rate * g / sqrt(d)   (momentum > 0)
        w = w - m                 if momentum > 0  else  w - learning_rate * g / sqrt(d)

    Args:
        learning_rate: a number >= 0 or a schedule `callable(step)`. Defaults to 0.001.
        rho: discounting factor of the running averages, in [0, 1). Defaults to 0.9.
        momentum: number in [0, 1]; 0 (the default) disables momentum.
        epsilon: small constant >= 0 added under the square root. Defaults to 1e-7.
        centered: whether to normalize by the estimated variance of the gradient rather than
            its uncentered second moment (slower, sometimes helps). Defaults to False.
        name: name of the optimizer. Defaults to `"RMSprop"`.
        **kwargs: `clipnorm`, `clipvalue`, `global_clipnorm`, `lr`, `decay`; see `Optimizer`.

    Example:

    >>> optimizer = kiln.optimizers.RMSprop(learning_rate=0.001, rho=0.9)
    >>> model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, name="RMSprop", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = check_float("rho", rho, lambda x: 0.0 <= x < 1.0, "a number in [0, 1)")
        self.momentum = check_float(
            "momentum", momentum, lambda x: 0.0 <= x <= 1.0, "a number between 0 and 1")
        self.epsilon = check_float(
            "epsilon", epsilon, lambda x: 0.0 <= x < math.inf, "a finite number >= 0")
        self.centered = bool(centered)
        self._momentum_attribute = "momentum" if self.momentum else None

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config

    def _slot_names(self):
        names = ["velocity"]
        if self.momentum:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        return tuple(names)

    def _update_step(self, group, grads, learning_rate):
        slots = group.slots
        velocities = slots["velocity"]
        torch._foreach_mul_(velocities, self.rho)
        torch._foreach_addcmul_(velocities, grads, grads, 1.0 - self.rho)
        if self.centered:
            averages = slots["average_gradient"]
            torch._foreach_lerp_(averages, grads, 1.0 - self.rho)
            denominators = torch._foreach_addcmul(velocities, averages, averages, -1.0)
            torch._foreach_add_(denominators, self.epsilon)
        else:
            denominators = torch._foreach_add(velocities, self.epsilon)
        torch._foreach_sqrt_(denominators)
        momentums = slots.get("momentum")
        if momentums is None:
            torch._foreach_addcdiv_(group.variables, grads, denominators, -learning_rate)
            return
        torch._foreach_mul_(momentums, self.momentum)
        torch._foreach_addcdiv_(momentums, grads, denominators, learning_rate)
        torch._foreach_sub_(group.variables, momentums)
