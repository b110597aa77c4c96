"""Sources of kiln.data.Dataset: from_tensor_slices, from_tensors, range, from_generator,
list_files, zip, concatenate, and the dataset's introspection (len, cardinality, repr)."""

import numpy as np
import pandas as pd
import pytest
import torch

import kiln
from kiln.data import INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, TensorSpec


def test_from_tensor_slices_yields_rows_as_in_the_book():
    items = list(Dataset.from_tensor_slices(torch.arange(10)))
    assert len(items) == 10
    assert all(isinstance(item, torch.Tensor) and item.shape == () for item in items)
    assert [int(item) for item in items] == list(range(10))


def test_from_tensor_slices_keeps_nested_tuples_and_dicts():
    X_nested = {"a": ([1, 2, 3], [4, 5, 6]), "b": [7, 8, 9]}
    items = list(Dataset.from_tensor_slices(X_nested))
    assert [type(item) for item in items] == [dict] * 3
    assert [(int(i["a"][0]), int(i["a"][1]), int(i["b"])) for i in items] == [
        (1, 4, 7), (2, 5, 8), (3, 6, 9)]
    assert isinstance(items[0]["a"], tuple)


def test_from_tensor_slices_converts_numpy_pandas_and_strings():
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    frame = pd.DataFrame({"x": [1.0, 2.0], "flag": [True, False]})
    rows = list(Dataset.from_tensor_slices((X, np.array([0, 1, 0, 1]))))
    assert rows[2][0].dtype == torch.float32 and rows[2][1].dtype == torch.int64
    np.testing.assert_array_equal(rows[2][0].numpy(), X[2])
    frame_rows = list(Dataset.from_tensor_slices(frame))
    np.testing.assert_array_equal(frame_rows[1].numpy(), [2.0, 0.0])
    columns = list(Dataset.from_tensor_slices(dict(frame)))
    assert float(columns[0]["x"]) == 1.0 and bool(columns[0]["flag"]) is True
    assert list(Dataset.from_tensor_slices(["é", b"b\xff"])) == ["é".encode(), b"b\xff"]
    assert list(Dataset.from_tensor_slices(np.array(["ab", "c"]))) == [b"ab", b"c"]


def test_from_tensor_slices_rejects_mismatched_and_scalar_arrays():
    with pytest.raises(ValueError, match=r"same first dimension.*\[0\]: 3, \[1\]: 2"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(2)))
    with pytest.raises(ValueError, match="scalar"):
        Dataset.from_tensor_slices(torch.tensor(1.0))


def test_from_tensors_and_range():
    assert [t.tolist() for t in Dataset.from_tensors([1, 2, 3])] == [[1, 2, 3]]
    assert [int(x) for x in Dataset.range(5)] == [0, 1, 2, 3, 4]
    assert [int(x) for x in Dataset.range(2, 8, 3)] == [2, 5]
    assert [int(x) for x in Dataset.range(5, 0, -2)] == [5, 3, 1]
    assert next(iter(Dataset.range(3, dtype="float32"))).dtype == torch.float32
    assert [int(x) for x in Dataset.range(3000)][-3:] == [2997, 2998, 2999]
    with pytest.raises(ValueError, match="step"):
        Dataset.range(0, 5, 0)


def test_from_generator_reiterates_and_checks_structure():
    def squares(n):
        for i in range(n):
            yield i, i * i

    dataset = Dataset.from_generator(squares, args=(4,))
    first, second = list(dataset), list(dataset)
    assert [(int(a), int(b)) for a, b in first] == [(0, 0), (1, 1), (2, 4), (3, 9)]
    assert len(second) == 4
    assert dataset.cardinality() == UNKNOWN_CARDINALITY

    def changing():
        yield 1, 2
        yield 3

    with pytest.raises(ValueError, match=r"\(tensor, tensor\).*tensor for element 1"):
        list(Dataset.from_generator(changing))
    with pytest.raises(ValueError, match="generator object"):
        Dataset.from_generator(squares(3))


def test_from_generator_with_signature_and_types():
    def pairs():
        for i in range(3):
            yield [i, i + 1], i * 0.5

    spec = (TensorSpec([2], "int32"), TensorSpec([], torch.float64))
    items = list(Dataset.from_generator(pairs, output_signature=spec))
    assert items[2][0].dtype == torch.int32 and items[2][0].tolist() == [2, 3]
    assert items[2][1].dtype == torch.float64 and float(items[2][1]) == 1.0
    typed = list(Dataset.from_generator(pairs, output_types=("int64", "float32"),
                                        output_shapes=([None], [])))
    assert typed[1][1].dtype == torch.float32
    with pytest.raises(ValueError, match=r"Element 0 has shape \[2\].*expects \[3\]"):
        list(Dataset.from_generator(pairs, output_signature=(TensorSpec([3], "int64"),
                                                             TensorSpec([]))))
    strings = Dataset.from_generator(lambda: iter(["a", "b"]), output_types="string")
    assert list(strings) == [b"a", b"b"]


def test_list_files_sorted_shuffled_and_missing(tmp_path):
    for name in ("b.csv", "a.csv", "c.csv", "notes.txt"):
        (tmp_path / name).write_text("x\n")
    pattern = str(tmp_path / "*.csv")
    ordered = list(Dataset.list_files(pattern, shuffle=False))
    assert ordered == [str(tmp_path / n).encode() for n in ("a.csv", "b.csv", "c.csv")]
    shuffled = Dataset.list_files(pattern, seed=42)
    orders = [tuple(shuffled) for _ in range(6)]
    assert all(sorted(order) == ordered for order in orders)
    assert len(set(orders)) > 1  # a new order each iteration
    same = Dataset.list_files([str(tmp_path / "c.csv"), str(tmp_path / "a.csv")], shuffle=False)
    assert list(same) == [ordered[0], ordered[2]]
    with pytest.raises(FileNotFoundError, match="missing_\\*.csv"):
        Dataset.list_files(str(tmp_path / "missing_*.csv"))


def test_list_files_seed_repeats_across_datasets(tmp_path):
    for index in range(8):
        (tmp_path / f"f{index}.csv").write_text("")
    first = [list(Dataset.list_files(str(tmp_path / "*.csv"), seed=7)) for _ in range(2)]
    assert first[0] == first[1]


def test_zip_and_concatenate():
    a, b = Dataset.range(3), Dataset.range(10, 15)
    pairs = list(Dataset.zip(a, b))
    assert [(int(x), int(y)) for x, y in pairs] == [(0, 10), (1, 11), (2, 12)]
    named = list(Dataset.zip({"a": a, "b": (b, a)}))
    assert int(named[1]["b"][0]) == 11 and int(named[1]["b"][1]) == 1
    assert Dataset.zip((a, b)).cardinality() == 3
    assert Dataset.zip(a, b.repeat()).cardinality() == 3
    joined = a.concatenate(b)
    assert [int(x) for x in joined] == [0, 1, 2, 10, 11, 12, 13, 14]
    assert joined.cardinality() == 8
    with pytest.raises(ValueError, match="Dataset.zip"):
        Dataset.zip(a, [1, 2])


def test_len_cardinality_repr_and_numpy():
    dataset = Dataset.range(10).repeat(3).batch(7)
    assert len(dataset) == 5 and dataset.cardinality() == 5
    assert Dataset.range(10).batch(3, drop_remainder=True).cardinality() == 3
    assert Dataset.range(4).repeat().cardinality() == INFINITE_CARDINALITY
    assert Dataset.range(10).filter(lambda x: x > 3).cardinality() == UNKNOWN_CARDINALITY
    assert Dataset.range(10).repeat().take(4).cardinality() == 4
    assert Dataset.range(10).skip(4).cardinality() == 6
    with pytest.raises(TypeError, match="infinite"):
        len(Dataset.range(4).repeat())
    with pytest.raises(TypeError, match="unknown"):
        len(Dataset.range(10).filter(lambda x: x > 3))
    assert list(Dataset.range(10).filter(lambda x: x > 6)) == [7, 8, 9]  # list() copes
    assert repr(dataset) == ("<Dataset range(0, 10) -> repeat(3) -> batch(7), cardinality=5>")
    arrays = list(Dataset.from_tensor_slices(({"x": np.eye(2)}, [b"a", b"b"]))
                  .as_numpy_iterator())
    assert isinstance(arrays[0][0]["x"], np.ndarray) and arrays[1][1] == b"b"
    np.testing.assert_array_equal(arrays[1][0]["x"], [0.0, 1.0])
    assert bool(Dataset.range(0)) is True


def test_kiln_data_namespace():
    assert kiln.data.AUTOTUNE == -1
    assert kiln.data.INFINITE_CARDINALITY == -1 and kiln.data.UNKNOWN_CARDINALITY == -2
