"""Micro-benchmark of one optimizer step, kiln against torch.optim, on two MLPs' parameters.

Times, in microseconds per step, each kiln optimizer's whole `apply` path (gradient checks,
no_grad, the update) against `torch.optim`'s step for the same algorithm with `foreach=True`
and, where torch has one, `fused=True` (gradients already in `.grad`), and, for SGD, Adam and
Nadam, against the Keras formula written with `torch._foreach_*` ops, the alternative kiln's
fused-kernel tricks were chosen over. torch.optim's Adam is given an epsilon rescaled each
step so that it computes the Keras formula; its other optimizers compute torch's own variants
(epsilon or the learning rate placed differently), which cost the same kernels.

The parameters are those of an 8-50-50-50-1 MLP (5,601 parameters: per-call overhead
dominates) and of a 784-1000-200-10 MLP (987,210 parameters: memory traffic dominates).
The ratio column divides by the fastest torch.optim variant of the same group, measured in
the same run (the variants of a group take turns, repeat after repeat); the issue's target is
kiln within 1.1x for Adam, SGD with momentum and RMSprop.

Run: python bench/bench_optimizers.py [--threads 1] [--models small large] [--seconds 0.2]
"""

import argparse
import math
import time

import torch

import kiln.optimizers

MODELS = {
    "small": [(8, 50), (50,), (50, 50), (50,), (50, 50), (50,), (50, 1), (1,)],
    "large": [(784, 1000), (1000,), (1000, 200), (200,), (200, 10), (10,)],
}
LEARNING_RATE = 1e-3
MOMENTUM = 0.9
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS),
                        help="parameter sets to time (default: both)")
    parser.add_argument("--seconds", type=float, default=0.2,
                        help="duration of each of the 5 timing repeats")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), microseconds per step "
          "(best of 5), ratio to the fastest torch.optim step of the group")
    for model in args.models:
        shapes = MODELS[model]
        count = sum(math.prod(shape) for shape in shapes)
        print(f"\n=== {model} MLP: {count:,} parameters in {len(shapes)} tensors ===")
        for title, variants in benchmark_cases():
            print(f"\n{title}")
            labels = [label for label, _ in variants]
            timings = time_group([make_step for _, make_step in variants], shapes, args.seconds)
            reference = min(microseconds for label, microseconds in zip(labels, timings)
                            if label.startswith("torch.optim"))
            for label, microseconds in zip(labels, timings):
                print(f"  {label:50s} {microseconds:9.1f} us  {microseconds / reference:5.2f}x")


def benchmark_cases():
    """Returns (title, [(label, make_step(parameters, grads) -> step function), ...])."""
    optimizers = kiln.optimizers
    momentum = {"momentum": MOMENTUM}
    return [
        ("SGD", [
            ("torch.optim.SGD(foreach=True)", torch_optim(torch.optim.SGD, foreach=True)),
            ("torch.optim.SGD(fused=True)", torch_optim(torch.optim.SGD, fused=True)),
            ("torch._foreach_* Keras formula", foreach_sgd),
            ("kiln SGD.apply", kiln_apply(optimizers.SGD)),
        ]),
        ("SGD momentum=0.9", [
            ("torch.optim.SGD(foreach=True) (torch formula)",
             torch_optim(torch.optim.SGD, foreach=True, **momentum)),
            ("torch.optim.SGD(fused=True) (torch formula)",
             torch_optim(torch.optim.SGD, fused=True, **momentum)),
            ("torch._foreach_* Keras formula", lambda p, g: foreach_sgd(p, g, MOMENTUM)),
            ("kiln SGD.apply", kiln_apply(optimizers.SGD, **momentum)),
            ("kiln SGD.apply, nesterov", kiln_apply(optimizers.SGD, nesterov=True, **momentum)),
        ]),
        ("Adam", [
            ("torch.optim.Adam(foreach=True) + eps rescale", torch_adam(foreach=True)),
            ("torch.optim.Adam(fused=True) + eps rescale", torch_adam(fused=True)),
            ("torch._foreach_* Keras formula", foreach_adam),
            ("kiln Adam.apply", kiln_apply(optimizers.Adam)),
            ("kiln Adam.apply, clipnorm=1", kiln_apply(optimizers.Adam, clipnorm=1.0)),
            ("kiln Adam.apply, global_clipnorm=1",
             kiln_apply(optimizers.Adam, global_clipnorm=1.0)),
            ("kiln Adam.apply, OneCycle schedule",
             kiln_apply(optimizers.Adam, schedule=optimizers.schedules.OneCycle(1e-3, 10**9))),
        ]),
        ("RMSprop", [
            ("torch.optim.RMSprop(foreach=True) (torch formula)",
             torch_optim(torch.optim.RMSprop, foreach=True)),
            ("kiln RMSprop.apply", kiln_apply(optimizers.RMSprop)),
        ]),
        ("RMSprop momentum=0.9", [
            ("torch.optim.RMSprop(foreach=True) (torch formula)",
             torch_optim(torch.optim.RMSprop, foreach=True, **momentum)),
            ("kiln RMSprop.apply", kiln_apply(optimizers.RMSprop, **momentum)),
        ]),
        ("RMSprop centered", [
            ("torch.optim.RMSprop(foreach=True) (torch formula)",
             torch_optim(torch.optim.RMSprop, foreach=True, centered=True)),
            ("kiln RMSprop.apply", kiln_apply(optimizers.RMSprop, centered=True)),
        ]),
        ("AdamW", [
            ("torch.optim.AdamW(foreach=True)", torch_optim(torch.optim.AdamW, foreach=True)),
            ("torch.optim.AdamW(fused=True)", torch_optim(torch.optim.AdamW, fused=True)),
            ("kiln AdamW.apply", kiln_apply(optimizers.AdamW)),
        ]),
        ("Nadam", [
            ("torch.optim.NAdam(foreach=True) (torch formula)",
             torch_optim(torch.optim.NAdam, foreach=True)),
            ("torch._foreach_* Keras formula", foreach_nadam),
            ("kiln Nadam.apply", kiln_apply(optimizers.Nadam)),
        ]),
        ("Adamax", [
            ("torch.optim.Adamax(foreach=True) (torch formula)",
             torch_optim(torch.optim.Adamax, foreach=True)),
            ("kiln Adamax.apply", kiln_apply(optimizers.Adamax)),
        ]),
        ("Adagrad", [
            ("torch.optim.Adagrad(foreach=True) (torch formula)",
             torch_optim(torch.optim.Adagrad, foreach=True)),
            ("torch.optim.Adagrad(fused=True) (torch formula)",
             torch_optim(torch.optim.Adagrad, fused=True)),
            ("kiln Adagrad.apply", kiln_apply(optimizers.Adagrad)),
        ]),
    ]


def time_group(make_steps, shapes, seconds, repeats=5):
    """Returns the best time of one step of each variant, in microseconds.

    The variants run in turn within each repeat, so that a change in the machine's load
    during the run affects them alike and their ratios stay comparable.
    """
    steps = []
    for make_step in make_steps:
        torch.manual_seed(0)
        parameters = [torch.nn.Parameter(torch.randn(shape)) for shape in shapes]
        grads = [torch.randn(shape) * 1e-2 for shape in shapes]
        steps.append(make_step(parameters, grads))
    counts = []
    for step in steps:
        start = time.perf_counter()
        for _ in range(20):
            step()
        counts.append(max(10, int(seconds * 20 / (time.perf_counter() - start))))
    best = [math.inf] * len(steps)
    for _ in range(repeats):
        for index, (step, count) in enumerate(zip(steps, counts)):
            start = time.perf_counter()
            for _ in range(count):
                step()
            best[index] = min(best[index], (time.perf_counter() - start) / count)
    return [seconds_per_step * 1e6 for seconds_per_step in best]


def kiln_apply(optimizer_class, schedule=None, **kwargs):
    def make_step(parameters, grads):
        optimizer = optimizer_class(schedule or LEARNING_RATE, **kwargs)
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


def foreach_sgd(parameters, grads, momentum=0.0):
    momentums = [torch.zeros_like(parameter) for parameter in parameters]

    @torch.no_grad()
    def step():
        if momentum == 0.0:
            torch._foreach_add_(parameters, grads, alpha=-LEARNING_RATE)
            return
        torch._foreach_mul_(momentums, momentum)
        torch._foreach_add_(momentums, grads, alpha=-LEARNING_RATE)
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


def foreach_nadam(parameters, grads):
    """The Keras Nadam formula in seven `torch._foreach_*` calls (kiln's is in two)."""
    momentums = [torch.zeros_like(parameter) for parameter in parameters]
    velocities = [torch.zeros_like(parameter) for parameter in parameters]
    state = {"step": 0, "u_product": 1.0}

    @torch.no_grad()
    def step():
        state["step"] += 1
        t = state["step"]
        u_now = BETA_1 * (1.0 - 0.5 * 0.96**t)
        u_next = BETA_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        state["u_product"] *= u_now
        u_product = state["u_product"]
        correction = math.sqrt(1.0 - BETA_2**t)
        torch._foreach_lerp_(momentums, grads, 1.0 - BETA_1)
        torch._foreach_mul_(velocities, BETA_2)
        torch._foreach_addcmul_(velocities, grads, grads, 1.0 - BETA_2)
        denominators = torch._foreach_sqrt(velocities)
        torch._foreach_add_(denominators, EPSILON * correction)
        scale = LEARNING_RATE * correction
        torch._foreach_addcdiv_(parameters, momentums, denominators,
                                -scale * u_next / (1.0 - u_product * u_next))
        torch._foreach_addcdiv_(parameters, grads, denominators,
                                -scale * (1.0 - u_now) / (1.0 - u_product))

    return step


if __name__ == "__main__":
    main()
