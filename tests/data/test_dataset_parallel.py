"""Background work in kiln.data: parallel map and interleave, prefetch, errors reaching the
consumer, threads stopping when iteration stops, and training a model from a Dataset."""

import gc
import threading
import time
import traceback

import numpy as np
import pytest
import torch

import kiln
from kiln.data import AUTOTUNE, Dataset


def data_threads():
    return [t for t in threading.enumerate() if t.name.startswith("kiln.data")]


@pytest.fixture(autouse=True)
def no_threads_left():
    yield
    assert data_threads() == []


def slow_square(x):
    time.sleep(0.002 * (int(x) % 3))  # later elements often finish first
    return x * x


@pytest.mark.parametrize("workers", [2, 3, AUTOTUNE])
def test_parallel_map_keeps_order(workers):
    dataset = Dataset.range(40).map(slow_square, num_parallel_calls=workers)
    assert [int(x) for x in dataset] == [i * i for i in range(40)]
    assert [int(x) for x in dataset.take(5)] == [0, 1, 4, 9, 16]


def test_parallel_map_not_deterministic_gives_every_element():
    dataset = Dataset.range(40).map(slow_square, num_parallel_calls=3, deterministic=False)
    assert sorted(int(x) for x in dataset) == [i * i for i in range(40)]


def test_parallel_map_on_tuples_then_batch():
    X = torch.arange(20.0).reshape(10, 2)
    dataset = Dataset.from_tensor_slices((X, torch.arange(10)))
    mapped = dataset.map(lambda x, y: (x * 2, y + 1), num_parallel_calls=2).batch(4)
    batches = list(mapped)
    assert torch.equal(batches[0][0], X[:4] * 2) and batches[2][1].tolist() == [9, 10]


def failing_map(x):
    if int(x) == 7:
        raise KeyError(f"bad element {int(x)}")
    return x


@pytest.mark.parametrize("workers", [None, 2])
def test_map_error_reaches_consumer_with_original_traceback(workers):
    dataset = Dataset.range(20).map(failing_map, num_parallel_calls=workers).prefetch(2)
    seen = []
    with pytest.raises(KeyError, match="bad element 7") as info:
        for x in dataset:
            seen.append(int(x))
    assert seen == list(range(7))
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "failing_map" in frames


def test_fast_map_functions_stay_in_the_iterating_thread():
    # Workers cannot run a fast, GIL-holding function in parallel: it runs in this thread.
    names = []

    def fast(x):
        names.append(threading.current_thread().name)
        return x + 1

    dataset = Dataset.range(100).map(fast, num_parallel_calls=4)
    assert [int(x) for x in dataset] == list(range(1, 101))
    assert set(names) == {threading.current_thread().name}


def test_slow_map_functions_go_to_the_workers():
    names = []

    def slow(x):
        names.append(threading.current_thread().name)
        time.sleep(0.001)
        return x * 2

    dataset = Dataset.range(40).map(slow, num_parallel_calls=3)
    assert [int(x) for x in dataset] == [2 * i for i in range(40)]
    assert set(names[:16]) == {threading.current_thread().name}
    assert {name for name in names[16:]} <= {f"kiln.data-map-{i}" for i in range(3)}


def slow_failing_map(x):
    time.sleep(0.001)
    if int(x) == 25:
        raise KeyError(f"bad element {int(x)}")
    return x


def test_worker_error_reaches_consumer_with_original_traceback():
    dataset = Dataset.range(40).map(slow_failing_map, num_parallel_calls=3)
    seen = []
    with pytest.raises(KeyError, match="bad element 25") as info:
        for x in dataset:
            seen.append(int(x))
    assert seen == list(range(25))
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "slow_failing_map" in frames


def slow_increment(x):
    time.sleep(0.002)
    return x + 1


def test_stopping_early_stops_every_thread():
    dataset = (Dataset.range(1000).map(slow_increment, num_parallel_calls=2)
               .prefetch(3).batch(2).prefetch(1))
    assert [t.tolist() for t in dataset.take(2)] == [[1, 2], [3, 4]]
    assert data_threads() == []
    for number, batch in enumerate(dataset):
        if number == 12:  # past the first elements, which are timed in this thread
            assert data_threads() != []
            break
    gc.collect()
    assert data_threads() == []
    iterator = iter(dataset)
    next(iterator)
    del iterator
    assert data_threads() == []


def test_infinite_dataset_with_slow_consumer_stops():
    dataset = Dataset.range(3).repeat().map(lambda x: x, num_parallel_calls=2).prefetch(2)
    iterator = iter(dataset)
    assert [int(next(iterator)) for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    time.sleep(0.05)  # the workers fill their buffers and wait
    iterator.close()
    assert data_threads() == []


def test_prefetch_keeps_fast_elements_in_the_iterating_thread():
    dataset = Dataset.range(200).map(lambda x: x * 3).prefetch(2)
    values = []
    for x in dataset:
        values.append(int(x))
        assert data_threads() == []
    assert values == [3 * i for i in range(200)]


def test_prefetch_gives_the_same_elements_and_errors():
    assert [int(x) for x in Dataset.range(100).prefetch(1)] == list(range(100))
    assert [int(x) for x in Dataset.range(10).prefetch(AUTOTUNE)] == list(range(10))
    assert [int(x) for x in Dataset.range(10).prefetch(0)] == list(range(10))

    def broken():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(Dataset.from_generator(broken).prefetch(1))
    with pytest.raises(ValueError, match="buffer_size=-3"):
        Dataset.range(3).prefetch(-3)


def repeated(x):
    return Dataset.from_tensors(x).repeat(6)


@pytest.mark.parametrize("parallel", [None, 2])
def test_interleave_matches_tf_documented_order(parallel):
    dataset = Dataset.range(1, 6).interleave(repeated, cycle_length=2, block_length=4,
                                             num_parallel_calls=parallel)
    assert [int(x) for x in dataset] == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4,
                                         4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5]


def test_interleave_block_one_and_not_deterministic():
    def lines(x):
        return Dataset.range(int(x) * 10, int(x) * 10 + 3)

    ordered = Dataset.range(3).interleave(lines, cycle_length=3)
    assert [int(v) for v in ordered] == [0, 10, 20, 1, 11, 21, 2, 12, 22]
    loose = Dataset.range(4).interleave(lines, cycle_length=2, num_parallel_calls=2,
                                        deterministic=False)
    assert sorted(int(v) for v in loose) == sorted(i * 10 + j for i in range(4) for j in range(3))
    with pytest.raises(ValueError, match="must return a Dataset"):
        list(Dataset.range(2).interleave(lambda x: [x]))


def test_interleave_error_in_a_reader_reaches_consumer():
    def reader(x):
        if int(x) == 2:
            return Dataset.range(3).map(failing_map_for_reader)
        return Dataset.range(3)

    dataset = Dataset.range(4).interleave(reader, cycle_length=2, num_parallel_calls=2)
    with pytest.raises(ZeroDivisionError):
        list(dataset)


def test_bad_input_errors_cross_threads(tmp_path):
    ragged = Dataset.range(1, 4).map(lambda n: torch.ones(int(n))).batch(3).prefetch(1)
    with pytest.raises(ValueError, match="padded_batch"):
        list(ragged)
    (tmp_path / "there.txt").write_text("a\nb\n")
    names = [str(tmp_path / "there.txt"), str(tmp_path / "gone.txt")]
    lines = Dataset.from_tensor_slices(names).interleave(
        kiln.data.TextLineDataset, cycle_length=2, num_parallel_calls=2)
    with pytest.raises(FileNotFoundError, match="gone.txt"):
        list(lines)


def failing_map_for_reader(x):
    return x if int(x) < 1 else 1 // 0


def regression_data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    y = (X @ np.array([1.5, -2.0, 0.5]) + 0.3).astype(np.float32)[:, None]
    return X, y


def regression_model():
    model = kiln.Sequential([kiln.Input(shape=[3]), kiln.layers.Dense(16, activation="relu"),
                             kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.Adam(learning_rate=0.01))
    return model


def test_fit_from_a_shuffled_prefetched_dataset():
    X, y = regression_data()
    train_set = Dataset.from_tensor_slices((X, y)).shuffle(100).batch(32).prefetch(1)
    model = regression_model()
    history = model.fit(train_set, epochs=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.2 * losses[0]
    assert history.params["steps"] == 16
    mse = model.evaluate(train_set, verbose=0)
    predictions = model.predict(train_set.take(3), verbose=0)
    assert predictions.shape == (96, 1)
    reference = np.mean((model.predict(X, verbose=0) - y) ** 2)
    assert mse == pytest.approx(reference, rel=1e-4)


def test_fit_from_an_infinite_dataset_with_steps_per_epoch():
    X, y = regression_data()
    train_set = Dataset.from_tensor_slices((X, y)).repeat().shuffle(200).batch(32)
    model = regression_model()
    history = model.fit(train_set, epochs=6, steps_per_epoch=20, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 6 and losses[-1] < 0.2 * losses[0]


def test_fit_reads_one_iteration_per_epoch():
    X, y = regression_data(96)
    opened = []

    def batches():
        opened.append(1)
        for start in range(0, 96, 32):
            yield X[start:start + 32], y[start:start + 32]

    dataset = Dataset.from_generator(batches)
    model = regression_model()
    model.fit(dataset, epochs=3, verbose=0)  # the first batch, read to build, is not read twice
    assert len(opened) == 3
    model.evaluate(dataset, verbose=0)
    assert len(opened) == 4


def test_fit_from_a_dataloader_with_persistent_workers():
    X, y = regression_data(256)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(X),
                                                                        torch.tensor(y)),
                                         batch_size=32, shuffle=True, num_workers=1,
                                         persistent_workers=True)
    history = regression_model().fit(loader, epochs=3, verbose=0)
    assert history.params["steps"] == 8
    assert history.history["loss"][-1] < history.history["loss"][0]
