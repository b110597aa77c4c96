"""Micro-benchmark of one optimizer step on a tiny MLP's parameters.

Times, in microseconds per step, kiln's SGD and Adam (the whole `apply` path: gradient checks,
no_grad, the update) against the alternatives they were chosen over: the Keras formula written
with `torch._foreach_*` ops, and `torch.optim` with `foreach=True` / `fused=True` (for Adam with
the epsilon rescaled each step so that torch computes the Keras formula; torch's SGD momentum is
its own formula, timed for reference). The parameters are those of an 8-50-50-50-1 MLP.

Run: python bench/bench_optimizers.py [--threads 1] [--steps 3000]
"""

import argparse
import math
import time

import torch

import kiln.optimizers

SHAPES = [(8, 50), (50,), (50, 50), (50,), (50, 50), (50,), (50, 1), (1,)]
LEARNING_RATE = 1e-3
MOMENTUM = 0.9
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--steps", type=int, default=3000, help="steps per timing repeat")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), microseconds per step "
          "(best of 5), ratio to the torch._foreach_* Keras formula")
    for title, variants in benchmark_cases():
        print(f"\n{title}")
        reference = None
        for label, make_step in variants:
            microseconds = time_step(make_step, args.steps)
            reference = reference or microseconds
            print(f"  {label:48s} {microseconds:8.1f} us  {microseconds / reference:5.2f}x")


def benchmark_cases():
    """Returns (title, [(label, make_step(parameters, grads) -> step function), ...])."""
    sgd, adam = kiln.optimizers.SGD, kiln.optimizers.Adam
    momentum = {"momentum": MOMENTUM}
    return [
        ("SGD", [
            ("torch._foreach_* Keras formula", foreach_sgd),
            ("torch.optim.SGD(foreach=True)", torch_optim(torch.optim.SGD, foreach=True)),
            ("torch.optim.SGD(fused=True)", torch_optim(torch.optim.SGD, fused=True)),
            ("kiln SGD.apply", kiln_apply(sgd)),
        ]),
        ("SGD momentum=0.9", [
            ("torch._foreach_* Keras formula",
             lambda p, g: foreach_sgd(p, g, MOMENTUM)),
            ("torch.optim.SGD(foreach=True) (torch formula)",
             torch_optim(torch.optim.SGD, foreach=True, **momentum)),
            ("torch.optim.SGD(fused=True) (torch formula)",
             torch_optim(torch.optim.SGD, fused=True, **momentum)),
            ("kiln SGD.apply", kiln_apply(sgd, **momentum)),
        ]),
        ("SGD momentum=0.9 nesterov", [
            ("torch._foreach_* Keras formula",
             lambda p, g: foreach_sgd(p, g, MOMENTUM, nesterov=True)),
            ("kiln SGD.apply", kiln_apply(sgd, nesterov=True, **momentum)),
        ]),
        ("Adam", [
            ("torch._foreach_* Keras formula", foreach_adam),
            ("torch.optim.Adam(foreach=True) + eps rescale", torch_adam(foreach=True)),
            ("torch.optim.Adam(fused=True) + eps rescale", torch_adam(fused=True)),
            ("kiln Adam.apply", kiln_apply(adam)),
            ("kiln Adam.apply, clipnorm=1", kiln_apply(adam, clipnorm=1.0)),
            ("kiln Adam.apply, global_clipnorm=1", kiln_apply(adam, global_clipnorm=1.0)),
        ]),
    ]


def time_step(make_step, steps, repeats=5):
    """Returns the best time of one call of the step function, in microseconds."""
    torch.manual_seed(0)
    parameters = [torch.nn.Parameter(torch.randn(shape)) for shape in SHAPES]
    grads = [torch.randn(shape) * 1e-2 for shape in SHAPES]
    step = make_step(parameters, grads)
    for _ in range(200):
        step()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    return best * 1e6


def kiln_apply(optimizer_class, **kwargs):
    def make_step(parameters, grads):
        optimizer = optimizer_class(LEARNING_RATE, **kwargs)
        optimizer.build(parameters)
        return lambda: optimizer.apply(grads)

    return make_step


def torch_optim(optimizer_class, **kwargs):
    def make_step(parameters, grads):
        for parameter, grad in zip(parameters, grads):
            parameter.grad = grad
        return optimizer_class(parameters, lr=LEARNING_RATE, **kwargs).step

    return make_step


def torch_adam(**kwargs):
    """torch.optim.Adam with epsilon rescaled each step so that it computes the Keras formula."""

    def make_step(parameters, grads):
        for parameter, grad in zip(parameters, grads):
            parameter.grad = grad
        optimizer = torch.optim.Adam(
            parameters, lr=LEARNING_RATE, betas=(BETA_1, BETA_2), **kwargs)
        group = optimizer.param_groups[0]
        iterations = [0]

        def step():
            iterations[0] += 1
            group["eps"] = EPSILON / math.sqrt(1.0 - BETA_2 ** iterations[0])
            optimizer.step()

        return step

    return make_step


def foreach_sgd(parameters, grads, momentum=0.0, nesterov=False):
    momentums = [torch.zeros_like(parameter) for parameter in parameters]

    @torch.no_grad()
    def step():
        if momentum == 0.0:
            torch._foreach_add_(parameters, grads, alpha=-LEARNING_RATE)
            return
        torch._foreach_mul_(momentums, momentum)
        torch._foreach_add_(momentums, grads, alpha=-LEARNING_RATE)
        if nesterov:
            torch._foreach_add_(parameters, momentums, alpha=momentum)
            torch._foreach_add_(parameters, grads, alpha=-LEARNING_RATE)
        else:
            torch._foreach_add_(parameters, momentums)

    return step


def foreach_adam(parameters, grads):
    momentums = [torch.zeros_like(parameter) for parameter in parameters]
    velocities = [torch.zeros_like(parameter) for parameter in parameters]
    iterations = [0]

    @torch.no_grad()
    def step():
        iterations[0] += 1
        t = iterations[0]
        torch._foreach_lerp_(momentums, grads, 1.0 - BETA_1)
        torch._foreach_mul_(velocities, BETA_2)
        torch._foreach_addcmul_(velocities, grads, grads, 1.0 - BETA_2)
        denominators = torch._foreach_sqrt(velocities)
        torch._foreach_add_(denominators, EPSILON)
        alpha = LEARNING_RATE * math.sqrt(1.0 - BETA_2**t) / (1.0 - BETA_1**t)
        torch._foreach_addcdiv_(parameters, momentums, denominators, -alpha)

    return step


if __name__ == "__main__":
    main()
