"""prefetch(worker="process"): the pipeline runs in a forked worker process."""

import gc
import multiprocessing
import os

import numpy as np
import pytest
import torch

import kiln
from kiln.data import Dataset

pytestmark = pytest.mark.skipif(not kiln.data.process.fork_available(),
                                reason="worker processes need the fork start method")


@pytest.fixture(autouse=True)
def no_workers_left():
    yield
    gc.collect()
    assert workers_left() == []


def workers_left():
    return [child for child in multiprocessing.active_children()
            if child.name == "kiln.data-worker"]


def pipeline(worker):
    return (Dataset.range(500).map(lambda x: torch.stack([x, x * x]).float())
            .shuffle(64, seed=7).batch(16).prefetch(2, worker=worker))


def test_same_batches_as_a_thread_in_every_iteration():
    in_process, in_worker = pipeline("thread"), pipeline("process")
    for _ in range(2):  # each iteration has its own shuffle order, the same in both
        expected, received = list(in_process), list(in_worker)
        assert len(received) == 32
        assert all(torch.equal(a, b) for a, b in zip(expected, received, strict=True))
    assert len(workers_left()) == 1  # forked once, kept for the next iterations
    del in_worker
    gc.collect()
    assert workers_left() == []


def test_two_open_iterations_run_on_two_workers():
    dataset = pipeline("process")
    first, second = iter(dataset), iter(dataset)
    assert len(workers_left()) == 2
    in_process = pipeline("thread")
    for received, expected in ((list(first), list(in_process)), (list(second),
                                                                  list(in_process))):
        assert all(torch.equal(a, b) for a, b in zip(expected, received, strict=True))
    del dataset, first, second
    gc.collect()
    assert workers_left() == []


def test_an_error_in_the_worker_reaches_the_consumer_after_the_elements_before_it():
    def failing(x):
        if int(x) == 21:
            raise KeyError("bad element 21")
        return x

    seen = []
    with pytest.raises(KeyError, match="bad element 21") as info:
        for x in Dataset.range(50).map(failing).prefetch(1, worker="process"):
            seen.append(int(x))
    assert seen == list(range(21))
    notes = "".join(getattr(info.value, "__notes__", []))
    assert "worker process" in notes and "failing" in notes or not hasattr(info.value,
                                                                           "add_note")


def test_stopping_early_stops_the_iteration_and_frees_the_worker():
    dataset = Dataset.range(10 ** 7).prefetch(4, worker="process")
    assert [int(x) for x in dataset.take(3)] == [0, 1, 2]
    iterator = iter(dataset)
    next(iterator)
    iterator.close()
    assert [int(x) for x in dataset.take(2)] == [0, 1]
    assert len(workers_left()) == 1
    del dataset, iterator
    gc.collect()
    assert workers_left() == []


def test_a_worker_that_dies_gives_an_error_not_a_hang():
    def die(x):
        if int(x) == 3:
            os._exit(7)
        return x

    with pytest.raises(RuntimeError, match="exit code 7"):
        list(Dataset.range(10).map(die).prefetch(1, worker="process"))


def test_side_effects_stay_in_the_worker():
    seen = []
    values = [int(x) for x in Dataset.range(5).map(lambda x: seen.append(1) or x)
              .prefetch(1, worker="process")]
    assert values == [0, 1, 2, 3, 4] and seen == []


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="in-memory cache"):
        Dataset.range(5).cache().map(lambda x: x).prefetch(1, worker="process")
    with pytest.raises(ValueError, match="worker='gpu'"):
        Dataset.range(5).prefetch(1, worker="gpu")
    cached = Dataset.range(2).cache(filename=str(tmp_path / "cache")).prefetch(1, worker="process")
    assert [int(x) for x in cached] == [0, 1]


def test_fit_from_a_worker_process_trains_like_a_thread(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None]
    weights = []
    for worker in ("thread", "process"):
        kiln.utils.set_random_seed(1)
        train_set = Dataset.from_tensor_slices((X, y)).map(lambda a, b: (a, b)).shuffle(
            100, seed=2).batch(32).prefetch(1, worker=worker)
        model = kiln.Sequential([kiln.Input(shape=[3]), kiln.layers.Dense(1)])
        model.compile(loss="mse", optimizer="sgd")
        history = model.fit(train_set, epochs=3, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0]
        weights.append(model.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_process_prefetch_inside_a_worker_reads_on_a_thread():
    inner = Dataset.range(6).map(lambda x: x + 1).prefetch(1, worker="process")
    outer = inner.map(lambda x: x * 10).prefetch(1, worker="process")
    assert [int(x) for x in outer] == [10, 20, 30, 40, 50, 60]
    del inner, outer
