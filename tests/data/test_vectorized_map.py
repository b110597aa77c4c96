"""Vectorized map (kiln.data.vectorize): a map followed by batch or shuffle calls its function
once per chunk through torch.func.vmap, with the results of the element-by-element map."""

import pytest
import torch

import kiln
from kiln.data import Dataset, TextLineDataset

DEFAULTS = [0.0] * 3 + [torch.tensor([])]
MEAN, STD = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 8.0])


class Counted:
    """Wraps a map function and counts its calls."""

    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args):
        self.calls += 1
        return self.function(*args)


def preprocess(line):
    """The book's CSV preprocess, on 3 features."""
    fields = kiln.io.decode_csv(line, record_defaults=DEFAULTS)
    x = torch.stack(fields[:-1])
    y = torch.stack(fields[-1:])
    return (x - MEAN) / STD, y


def write_lines(path, count, bad_line=None):
    lines = [f"{i * 0.25},{i % 7},{-i / 3},{i * 1.5}" for i in range(count)]
    if bad_line is not None:
        lines[bad_line] = "1,2,3"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def element_by_element(dataset, function):
    """The expected elements: the function called on each element, in order."""
    return [function(*e) if isinstance(e, tuple) else function(e) for e in dataset]


def assert_same_batches(batches, elements, batch_size):
    for number, (x, y) in enumerate(batches):
        rows = elements[number * batch_size:(number + 1) * batch_size]
        torch.testing.assert_close(x, torch.stack([row[0] for row in rows]), rtol=0, atol=0)
        torch.testing.assert_close(y, torch.stack([row[1] for row in rows]), rtol=0, atol=0)
    assert sum(len(x) for x, _ in batches) == len(elements)


def test_book_preprocess_runs_once_per_chunk_with_the_same_batches(tmp_path):
    path = write_lines(tmp_path / "data.csv", 600)
    counted = Counted(preprocess)
    batches = list(TextLineDataset(path).map(counted).batch(32))
    assert counted.calls <= 4  # 3 chunks of up to 256 lines, and one ordinary call to check
    assert_same_batches(batches, element_by_element(TextLineDataset(path), preprocess), 32)


def test_map_then_shuffle_gives_the_element_by_element_order(tmp_path):
    path = write_lines(tmp_path / "data.csv", 300)
    shuffled = list(TextLineDataset(path).map(preprocess).shuffle(50, seed=3).batch(10))
    expected = element_by_element(TextLineDataset(path), preprocess)
    reference = list(Dataset.from_generator(lambda: iter(expected)).shuffle(50, seed=3).batch(10))
    for (x, y), (x_ref, y_ref) in zip(shuffled, reference, strict=True):
        assert torch.equal(x, x_ref) and torch.equal(y, y_ref)


def test_tensor_elements_and_dict_outputs():
    data = torch.arange(600, dtype=torch.float32).reshape(300, 2)
    counted = Counted(lambda row: {"sum": row.sum(), "scaled": row * 2})
    batch = next(iter(Dataset.from_tensor_slices(data).map(counted).batch(300)))
    assert counted.calls == 3  # two chunks and the check
    assert torch.equal(batch["sum"], data.sum(1)) and torch.equal(batch["scaled"], data * 2)


@pytest.mark.parametrize("function", [
    lambda x: x * 2 if x.item() > 5 else x,               # a Python branch on a value
    lambda x: x + torch.rand(()),                         # random: one draw per element
    lambda x: torch.tensor(float(x) + 1),                 # leaves torch for Python
], ids=["branch", "random", "python"])
def test_functions_vmap_cannot_follow_run_element_by_element(function):
    torch.manual_seed(0)
    counted = Counted(function)
    batches = list(Dataset.range(300).map(counted).batch(100))
    assert counted.calls >= 300
    torch.manual_seed(0)
    expected = [function(x) for x in Dataset.range(300)]
    assert torch.equal(torch.cat(batches), torch.stack(expected))


def test_a_function_with_state_is_caught_by_the_check():
    calls = []

    def numbered(x):
        calls.append(1)
        return x + len(calls)

    values = torch.cat(list(Dataset.range(300).map(numbered).batch(100)))
    # vectorized, the first chunk would have given one count to all; the check sees it differ
    # from an ordinary call, and the map goes element by element from the first element on.
    assert values.tolist() == [i + 3 + i for i in range(300)]


def test_a_bad_line_in_a_later_chunk_raises_the_usual_error_after_the_lines_before(tmp_path):
    path = write_lines(tmp_path / "data.csv", 600, bad_line=400)
    rows = 0
    with pytest.raises(ValueError, match="Expected 4 fields but received 3") as info:
        for x, _ in TextLineDataset(path).map(preprocess).batch(10):
            rows += len(x)
    assert rows == 400
    assert "1,2,3" in str(info.value)


def test_ragged_elements_and_string_outputs_are_not_vectorized():
    ragged = Dataset.range(1, 4).map(lambda n: torch.ones(int(n)) * n)
    assert next(iter(ragged.map(lambda t: t * 2).padded_batch(3))).tolist() == [
        [2.0, 0.0, 0.0], [4.0, 4.0, 0.0], [6.0, 6.0, 6.0]]
    lines = Dataset.from_tensor_slices(["a", "bb"]).map(lambda line: line + b"!")
    assert next(iter(lines.batch(2))) == [b"a!", b"bb!"]


def test_decode_csv_of_many_records_matches_one_by_one():
    records = [b"1.5,2,3,4", b"-0.25,1e3,7,8", b"5, 6 ,7,8"]
    columns = kiln.io.decode_csv(records, record_defaults=DEFAULTS)
    rows = [kiln.io.decode_csv(record, record_defaults=DEFAULTS) for record in records]
    for column, values in zip(columns, zip(*rows)):
        assert torch.equal(column, torch.stack(values))
    # a quoted field or a missing value takes the general path, with the same results
    general = kiln.io.decode_csv([b'"1",2,3,4', b",2,3,4"], record_defaults=[1.0] * 4)
    assert [c.tolist() for c in general] == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]]
    with pytest.raises(ValueError, match="Expected 4 fields"):
        kiln.io.decode_csv([b"1,2,3,4", b"1,2,3"], record_defaults=DEFAULTS)


def test_shuffle_and_batch_keep_the_order_when_the_map_stops_vectorizing_midway():
    # 300 rows of 2 values, then rows of 3: the second chunk cannot be stacked, so the map goes
    # element by element from there while the shuffle buffer already holds column blocks.
    rows = [torch.full((2,), float(i)) for i in range(300)] + [
        torch.full((3,), float(i)) for i in range(300, 700)]

    def total(row):
        return row.sum()

    dataset = Dataset.from_generator(lambda: iter(rows)).map(total)
    expected = [total(row) for row in rows]
    reference = Dataset.from_generator(lambda: iter(expected))
    for size, drop in [(64, False), (50, True)]:
        got = list(dataset.shuffle(100, seed=5).batch(size, drop_remainder=drop))
        want = list(reference.shuffle(100, seed=5).batch(size, drop_remainder=drop))
        assert [b.tolist() for b in got] == [b.tolist() for b in want]


def test_resuming_a_vectorized_pipeline_gives_the_same_next_batch(tmp_path):
    path = write_lines(tmp_path / "data.csv", 500)
    dataset = TextLineDataset(path).map(preprocess).shuffle(200, seed=1).batch(16)
    iterator = iter(dataset)
    for _ in range(7):
        next(iterator)
    state, expected = iterator.state_dict(), next(iterator)
    resumed = iter(dataset)
    resumed.load_state_dict(state)
    got = next(resumed)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_decode_csv_of_a_long_chunk_matches_one_by_one(dtype):
    # long chunks may go through pandas' C parser: the values must be those of float()
    values = ["0.1", "-2.5e-3", "1e3", "6.984126984126984", "2.1096774193548387", "-0",
              "nan", "inf", "+5", "3.4028235e38", "1.401298464324817e-45", "123456789.123456789"]
    records = [",".join(values[(row + column) % len(values)] for column in range(3)).encode()
               for row in range(200)]
    defaults = [torch.tensor([], dtype=dtype)] * 3
    columns = kiln.io.decode_csv(records, record_defaults=defaults)
    one_by_one = [kiln.io.decode_csv(record, record_defaults=defaults) for record in records]
    for column, expected in zip(columns, zip(*one_by_one)):
        assert column.dtype == dtype
        torch.testing.assert_close(column, torch.stack(expected), rtol=0, atol=0, equal_nan=True)
    spaced = [b" 1, 2,3"] * 100  # not plain numbers for the fast parsers: the general path
    assert kiln.io.decode_csv(spaced, record_defaults=defaults)[1].tolist() == [2.0] * 100
    with pytest.raises(ValueError, match="Expected 3 fields but received 2"):
        kiln.io.decode_csv([b"1,2,3"] * 100 + [b"1,2"], record_defaults=defaults)
    with pytest.raises(ValueError, match="Expected 3 fields but received 4"):
        kiln.io.decode_csv([b"1,2,3"] * 100 + [b"1,2,3,4"], record_defaults=defaults)
    with_default = kiln.io.decode_csv([b"1,2,3"] * 100 + [b"1,,3"], record_defaults=[0.0] * 3)
    assert with_default[1][-1] == 0.0 and with_default[1][0] == 2.0
    with pytest.raises(ValueError, match="Field 1 is required"):
        kiln.io.decode_csv([b"1,2,3"] * 100 + [b"1,,3"], record_defaults=defaults)
