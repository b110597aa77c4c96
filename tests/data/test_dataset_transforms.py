"""Transformations of kiln.data.Dataset: the book's chained examples, batching (ragged and
padded), shuffle, repeat, take / skip, window / flat_map, enumerate, cache and resume."""

import numpy as np
import pytest
import torch

import kiln
from kiln.data import Dataset


def values(dataset):
    return [item.tolist() for item in dataset]


BOOK_BATCHES = [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 0, 1, 2, 3], [4, 5, 6, 7, 8, 9, 0],
                [1, 2, 3, 4, 5, 6, 7], [8, 9]]


def test_book_chain_repeat_batch_map_filter_take():
    dataset = Dataset.from_tensor_slices(torch.arange(10)).repeat(3).batch(7)
    assert values(dataset) == BOOK_BATCHES
    assert values(Dataset.range(10).repeat(3).batch(7)) == BOOK_BATCHES
    doubled = dataset.map(lambda x: x * 2)
    assert values(doubled)[:2] == [[0, 2, 4, 6, 8, 10, 12], [14, 16, 18, 0, 2, 4, 6]]
    filtered = doubled.filter(lambda x: torch.sum(x) > 50)
    assert values(filtered) == [[14, 16, 18, 0, 2, 4, 6], [8, 10, 12, 14, 16, 18, 0],
                                [2, 4, 6, 8, 10, 12, 14]]
    assert values(filtered.take(2)) == [[14, 16, 18, 0, 2, 4, 6], [8, 10, 12, 14, 16, 18, 0]]
    assert values(dataset.batch(2, drop_remainder=True))[-1] == BOOK_BATCHES[2:4]


def test_map_unpacks_tuples_and_converts_outputs():
    dataset = Dataset.from_tensor_slices((np.arange(3), np.arange(3) * 10))
    mapped = list(dataset.map(lambda x, y: {"sum": x + y, "tag": "ok", "half": 0.5}))
    assert int(mapped[2]["sum"]) == 22 and mapped[0]["tag"] == b"ok"
    assert mapped[0]["half"].dtype == torch.float32
    as_list = list(dataset.map(lambda x, y: [x, y]))
    assert isinstance(as_list[0], tuple)


def test_map_with_a_different_structure_raises_naming_both():
    dataset = Dataset.range(4).map(lambda x: (x, x) if int(x) < 2 else x)
    with pytest.raises(ValueError, match=r"returned \(tensor, tensor\) before and tensor for "
                                         r"element 2"):
        list(dataset)


def test_batch_of_ragged_elements_names_element_and_suggests_padded_batch():
    dataset = Dataset.range(1, 5).map(lambda n: torch.ones(int(n) // 2 + 1))
    with pytest.raises(ValueError, match=r"element 0 has shape \[1\] but element 1 has shape "
                                         r"\[2\].*padded_batch"):
        list(dataset.batch(4))
    pairs = Dataset.range(6).map(lambda n: (n, torch.ones(1 if int(n) < 5 else 2)))
    with pytest.raises(ValueError, match=r"component \[1\]\): element 4 has shape \[1\] but "
                                         r"element 5 has shape \[2\]"):
        list(pairs.batch(2))


def test_batch_of_elements_with_different_structures_names_both():
    def mixed():
        yield 1, 2
        yield 3, 4
        yield 5, (6, 7)

    dataset = Dataset.from_generator(mixed)
    with pytest.raises(ValueError, match=r"\(tensor, tensor\) before and \(tensor, \(tensor, "
                                         r"tensor\)\) for element 2"):
        list(dataset.batch(3))
    assert [t.tolist() for t in next(iter(dataset.batch(2)))] == [[1, 3], [2, 4]]
    joined = Dataset.range(2).map(lambda x: (x, x)).concatenate(Dataset.range(2))
    with pytest.raises(ValueError, match=r"element 0 is \(tensor, tensor\) but element 2 is "
                                         r"tensor"):
        list(joined.batch(4))


def test_batch_bytes_and_dicts():
    dataset = Dataset.from_tensor_slices({"text": ["a", "b", "c"], "n": [1, 2, 3]})
    batches = list(dataset.batch(2))
    assert batches[0]["text"] == [b"a", b"b"] and batches[0]["n"].tolist() == [1, 2]
    unfused = list(dataset.map(lambda e: e).batch(2))
    assert unfused[1]["text"] == [b"c"] and unfused[1]["n"].tolist() == [3]
    assert [e["text"] for e in dataset.batch(2).unbatch()] == [b"a", b"b", b"c"]


def test_padded_batch():
    dataset = Dataset.range(1, 4).map(lambda n: torch.arange(int(n)))
    assert values(dataset.padded_batch(3, padding_values=-1)) == [
        [[0, -1, -1], [0, 1, -1], [0, 1, 2]]]
    assert values(dataset.padded_batch(2, padded_shapes=[4])) == [
        [[0, 0, 0, 0], [0, 1, 0, 0]], [[0, 1, 2, 0]]]
    pairs = dataset.map(lambda t: (t, torch.tensor(len(t))))
    padded = list(pairs.padded_batch(3, padded_shapes=([None], []), padding_values=(9, 0)))
    assert padded[0][0].tolist() == [[0, 9, 9], [0, 1, 9], [0, 1, 2]]
    assert padded[0][1].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="larger than padded_shapes"):
        list(dataset.padded_batch(3, padded_shapes=[2]))


def test_unbatch_undoes_batch():
    data = (np.arange(10).reshape(5, 2), np.arange(5))
    dataset = Dataset.from_tensor_slices(data).batch(2).unbatch()
    rows = [(x.tolist(), int(y)) for x, y in dataset]
    assert rows == [([2 * i, 2 * i + 1], i) for i in range(5)]
    with pytest.raises(ValueError, match="first axis"):
        list(Dataset.range(3).unbatch())


def test_shuffle_is_a_buffer_shuffle():
    # With a buffer of 4, the first item out is one of the first 4 in, and so on.
    for seed in range(20):
        order = [int(x) for x in Dataset.range(10).repeat(2).shuffle(buffer_size=4, seed=seed)]
        assert sorted(order) == sorted(list(range(10)) * 2)
        for position, item in enumerate(order[:16]):
            assert item in [v % 10 for v in range(position + 4)]


def test_shuffle_seed_reshuffle_and_global_seed():
    dataset = Dataset.range(50).shuffle(50, seed=42)
    first, second = values(dataset), values(dataset)
    assert first != second and sorted(first) == list(range(50))
    assert values(Dataset.range(50).shuffle(50, seed=42)) == first  # same seed, same orders
    fixed = Dataset.range(50).shuffle(50, seed=1, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed) == values(fixed.repeat(2))[:50] == \
        values(fixed.repeat(2))[50:]
    passes = values(Dataset.range(20).shuffle(20, seed=3).repeat(2))
    assert passes[:20] != passes[20:]
    kiln.utils.set_random_seed(5)
    unseeded = values(Dataset.range(30).shuffle(30))
    kiln.utils.set_random_seed(5)
    assert values(Dataset.range(30).shuffle(30)) == unseeded


def test_shuffled_batches_gathered_equal_element_path():
    X = torch.randn(100, 3)
    y = torch.arange(100)
    fused = Dataset.from_tensor_slices((X, y)).shuffle(30, seed=4).repeat(2).skip(5).take(150)
    element_path = fused.map(lambda a, b: (a, b))
    for (xa, ya), (xb, yb) in zip(fused.batch(32), element_path.batch(32)):
        assert torch.equal(ya, yb) and torch.equal(xa, xb)
        assert torch.equal(xa, X[ya])  # rows stay together
    assert len(list(fused.batch(32))) == 5


def test_repeat_take_skip():
    assert [int(x) for x in Dataset.range(3).repeat(2)] == [0, 1, 2, 0, 1, 2]
    assert [int(x) for x in Dataset.range(3).repeat().take(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert list(Dataset.range(0).repeat()) == []
    assert [int(x) for x in Dataset.range(5).skip(2)] == [2, 3, 4]
    assert list(Dataset.range(5).skip(-1)) == [] and len(list(Dataset.range(5).take(-1))) == 5
    with pytest.raises(ValueError, match=r"`count` must be -1 or a non-negative integer, but "
                                         r"received count=-2"):
        Dataset.range(5).take(-2)
    with pytest.raises(ValueError, match="batch_size=0"):
        Dataset.range(5).batch(0)
    with pytest.raises(ValueError, match="map_func"):
        Dataset.range(5).map("not callable")


def test_window_and_flat_map_as_in_the_book():
    def to_windows(dataset, length):
        dataset = dataset.window(length, shift=1, drop_remainder=True)
        return dataset.flat_map(lambda window_ds: window_ds.batch(length))

    windows = to_windows(Dataset.range(6), 3)
    assert values(windows) == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]
    series = np.arange(40, dtype=np.float32).reshape(8, 5)
    nested = to_windows(to_windows(Dataset.from_tensor_slices(series), 3), 4)
    first = next(iter(nested))
    assert first.shape == (4, 3, 5)
    np.testing.assert_array_equal(first[1].numpy(), series[1:4])
    assert values(next(iter(Dataset.range(5).window(3, shift=1)))) == [0, 1, 2]
    lengths = [len(list(w)) for w in Dataset.range(5).window(3, shift=1)]
    assert lengths == [3, 3, 3, 2, 1]
    strided = [[int(x) for x in w] for w in Dataset.range(10).window(3, shift=4, stride=2)]
    assert strided == [[0, 2, 4], [4, 6, 8], [8]]
    assert Dataset.range(10).window(3, shift=4, stride=2).cardinality() == 3
    assert Dataset.range(6).window(3, shift=1, drop_remainder=True).cardinality() == 4
    pairs = Dataset.zip(Dataset.range(4), Dataset.range(10, 14)).window(2)
    batched = pairs.flat_map(lambda a, b: Dataset.zip(a.batch(2), b.batch(2)))
    assert [(a.tolist(), b.tolist()) for a, b in batched] == [([0, 1], [10, 11]),
                                                              ([2, 3], [12, 13])]
    with pytest.raises(ValueError, match="must return a Dataset"):
        list(Dataset.range(3).flat_map(lambda x: x))


def test_enumerate():
    items = list(Dataset.from_tensor_slices([b"a", b"b"]).enumerate(start=5))
    assert [(int(i), s) for i, s in items] == [(5, b"a"), (6, b"b")]
    assert items[0][0].dtype == torch.int64


def test_cache_in_memory_reads_upstream_once():
    calls = []

    def record(x):
        calls.append(int(x))
        return x

    dataset = Dataset.range(5).map(record).cache()
    assert values(dataset.take(2)) == [0, 1]  # a partial pass caches nothing
    assert values(dataset) == values(dataset) == [0, 1, 2, 3, 4]
    assert calls == [0, 1, 0, 1, 2, 3, 4]


def test_cache_file_round_trip_and_corrupt_file(tmp_path):
    path = tmp_path / "cache.npz"
    data = {"x": np.arange(6, dtype=np.float64).reshape(3, 2), "name": ["a", "bé", "c\x00"]}
    source = Dataset.from_tensor_slices((data, np.array([1, 2, 3], dtype=np.int16)))
    source = source.map(lambda e, n: (e, n, torch.ones(int(n), dtype=torch.bool)))
    written = list(source.cache(str(path)))
    assert path.exists() and not list(tmp_path.glob("*.tmp"))
    read = list(Dataset.range(1).cache(str(path)))  # a new pipeline reads the file
    assert len(read) == 3
    for (a, n, mask), (b, m, mask_read) in zip(written, read):
        assert torch.equal(a["x"], b["x"]) and b["x"].dtype == torch.float32
        assert a["name"] == b["name"] and m.dtype == torch.int16 and int(m) == int(n)
        assert torch.equal(mask, mask_read)
    assert read[2][0]["name"] == b"c\x00"
    path.write_bytes(b"not a cache")
    with pytest.raises(ValueError, match="cache.npz.*corrupt"):
        list(Dataset.range(3).cache(str(path)))


def test_iterator_state_dict_resumes_exactly():
    X = torch.arange(40)
    dataset = Dataset.from_tensor_slices(X).shuffle(10).batch(4)
    kiln.utils.set_random_seed(1)
    dataset = Dataset.from_tensor_slices(X).shuffle(10).batch(4)
    first_epoch = values(dataset)
    iterator = iter(dataset)
    consumed = [next(iterator).tolist() for _ in range(3)]
    state = iterator.state_dict()
    assert state == {"iteration": 1, "position": 3}
    rest = [batch.tolist() for batch in iterator]
    third_epoch = values(dataset)

    kiln.utils.set_random_seed(1)  # a new program: the same pipeline after the same seed
    resumed_dataset = Dataset.from_tensor_slices(X).shuffle(10).batch(4)
    resumed = iter(resumed_dataset)
    resumed.load_state_dict(state)
    assert [batch.tolist() for batch in resumed] == rest
    assert values(resumed_dataset) == third_epoch
    assert consumed + rest != first_epoch
    with pytest.raises(ValueError, match="only 10 elements"):
        iter(resumed_dataset).load_state_dict({"iteration": 0, "position": 11})
