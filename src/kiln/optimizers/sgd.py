"""Stochastic gradient descent, with optional (Nesterov) momentum, Keras formula.

The update runs in torch's fused SGD kernel (`torch._fused_sgd_`, one call over every variable):
with momentum, a step on a small model's parameters takes 9 us, against 28 us for the same
formula written with `torch._foreach_*` ops (bench/bench_optimizers.py, one CPU thread).

torch's SGD keeps momentum in another form than Keras (`b = momentum * b + g; w -= lr * b`),
which differs from Keras as soon as the learning rate changes during training, so the kernel's
arguments are chosen to compute the Keras update itself. The kernel scales the gradient by
`1 - dampening` (a double, so no precision is lost): `dampening = 1 + lr` makes it compute the
Keras momentum `m = momentum * m - lr * g`, and its learning rate `-1` then adds `m` to the
variable. For Nesterov, learning rate `-momentum` adds `momentum * m`, and a second, plain call
subtracts `lr * g`.
"""

import torch

from kiln.optimizers.base import Optimizer, check_float


class SGD(Optimizer):
    """Gradient descent (with momentum) optimizer.

    Without momentum: `w = w - learning_rate * g`. With momentum (Keras formula, the momentum
    slot holds the velocity `m`):

        m = momentum * m - learning_rate * g
        w = w + m                                       (nesterov=False)
        w = w + momentum * m - learning_rate * g        (nesterov=True)

    Args:
        learning_rate: a number >= 0 or a schedule `callable(step)`. Defaults to 0.01.
        momentum: number in [0, 1] that accelerates descent along consistent directions and
            damps oscillations. Defaults to 0 (plain gradient descent).
        nesterov: whether to apply Nesterov momentum. Defaults to False.
        name: name of the optimizer. Defaults to `"SGD"`.
        **kwargs: `clipnorm`, `clipvalue`, `global_clipnorm`, `lr`; see `Optimizer`.

    Example:

    >>> optimizer = kiln.optimizers.SGD(learning_rate=0.001, momentum=0.9, nesterov=True)
    >>> model.compile(loss="mse", optimizer=optimizer)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = check_float(
            "momentum", momentum, lambda x: 0.0 <= x <= 1.0, "a number between 0 and 1")
        self.nesterov = bool(nesterov)
        self._momentum_attribute = "momentum" if self.momentum else None

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config

    def _slot_names(self):
        return ("momentum",) if self.momentum != 0.0 else ()

    def _update_step(self, group, grads, learning_rate):
        variables = group.variables
        if self.momentum == 0.0:
            _fused_sgd_(variables, grads, [], momentum=0.0, lr=learning_rate, dampening=0.0)
            return
        # m = momentum * m - lr * g, then w += m, or for Nesterov w += momentum * m followed by
        # a plain step w -= lr * g (see the module docstring).
        _fused_sgd_(variables, grads, group.slots["momentum"], momentum=self.momentum,
                    lr=-self.momentum if self.nesterov else -1.0,
                    dampening=1.0 + learning_rate)
        if self.nesterov:
            _fused_sgd_(variables, grads, [], momentum=0.0, lr=learning_rate, dampening=0.0)


def _fused_sgd_(variables, grads, momentums, momentum, lr, dampening):
    """`momentums = momentum * momentums + (1 - dampening) * grads; variables -= lr * momentums`
    (with no momentum: `variables -= lr * grads`), in one fused call."""
    torch._fused_sgd_(variables, grads, momentums, weight_decay=0.0, momentum=momentum, lr=lr,
                      dampening=dampening, nesterov=False, maximize=False, is_first_step=False)
