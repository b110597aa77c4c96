"""Where one intra-op thread beats several: the measurement behind kiln's thread policy.

For MLPs of growing size, times a training step of a hand-written PyTorch loop with 1 thread
and with all threads, and prints the work per step (batch size x weights) next to the speed-up
of a single thread. kiln uses one thread when a forward pass costs less than
`kiln.engine.threads.SMALL_STEP_FLOPS` (forward FLOPs per batch are about 2 x batch x weights for
these MLPs).

Usage: python bench/bench_threads.py
"""

import time

import torch

from kiln.engine.threads import SMALL_STEP_FLOPS

CASES = [  # (inputs, hidden units, batch size)
    (8, 50, 32), (64, 100, 32), (64, 300, 32), (784, 100, 32), (784, 300, 32), (784, 300, 128),
    (784, 1000, 128),
]


def step_time(inputs, hidden, batch, threads, steps=200):
    torch.set_num_threads(threads)
    model = torch.nn.Sequential(torch.nn.Linear(inputs, hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, hidden // 3), torch.nn.ReLU(),
                                torch.nn.Linear(hidden // 3, 10))
    optimizer = torch.optim.Adam(model.parameters(), foreach=True)
    x, y = torch.randn(batch, inputs), torch.randint(0, 10, (batch,))
    for i in range(steps + 20):
        if i == 20:
            start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    weights = sum(p.numel() for p in model.parameters())
    return (time.perf_counter() - start) / steps, weights


def main():
    all_threads = torch.get_num_threads()
    print(f"threads available: {all_threads}; kiln's threshold: {SMALL_STEP_FLOPS:,} forward "
          "FLOPs per batch")
    print(f"{'model':>18} {'batch x weights':>16} {'1 thread':>10} {f'{all_threads} threads':>11}"
          f" {'speed-up of 1':>14}")
    for inputs, hidden, batch in CASES:
        one, weights = step_time(inputs, hidden, batch, 1)
        many, _ = step_time(inputs, hidden, batch, all_threads)
        print(f"{f'{inputs}-{hidden}-{hidden // 3}-10':>18} {batch * weights:>16,} "
              f"{one * 1e6:>8.0f}us {many * 1e6:>9.0f}us {many / one:>13.2f}x")
    torch.set_num_threads(all_threads)


if __name__ == "__main__":
    main()
