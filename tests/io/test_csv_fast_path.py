"""Tests for the fast path of kiln.io.decode_csv (records whose columns share one numeric dtype):
it must give exactly what the general path gives, and leave every other record to it."""

import numpy as np
import pytest
import torch

from kiln import io as kio

LINE = b"8.3252,41.0,6.98,1.02,322.0,2.55,37.88,-122.23,4.526"


@pytest.mark.parametrize(
    "default, numpy_dtype",
    [(0.0, np.float32), (torch.tensor(0.0, dtype=torch.float64), np.float64)],
)
def test_float_records_equal_a_numpy_parse(default, numpy_dtype):
    fields = kio.decode_csv(LINE, [default] * 9)
    expected = np.array(LINE.decode().split(","), dtype=np.float64).astype(numpy_dtype)
    assert isinstance(fields, list) and len(fields) == 9
    assert all(field.shape == () and field.dtype == fields[0].dtype for field in fields)
    np.testing.assert_array_equal(torch.stack(fields).numpy(), expected)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_integer_records(dtype):
    fields = kio.decode_csv(" 12,-7,2147483647", [torch.tensor(0, dtype=dtype)] * 3)
    assert [field.dtype for field in fields] == [dtype] * 3
    assert torch.equal(torch.stack(fields), torch.tensor([12, -7, 2147483647], dtype=dtype))


def test_str_records_select_cols_and_other_delimiters():
    assert [f.item() for f in kio.decode_csv("1.5;-2", [0.0, 0.0], field_delim=";")] == [1.5, -2.0]
    fields = kio.decode_csv("9,1.25,x,2.5", [0.0, 0.0], select_cols=[1, 3])
    assert [field.item() for field in fields] == [1.25, 2.5]
    assert kio.decode_csv("9,7", [0], select_cols=[1])[0].item() == 7


def test_fields_are_ordinary_tensors():
    fields = kio.decode_csv(LINE, [0.0] * 9)
    fields[0].add_(1.0)  # writable, and writes reach no other field
    assert fields[0].item() == pytest.approx(9.3252) and fields[1].item() == 41.0
    x = torch.stack(fields[:-1]).requires_grad_()
    (x * 2.0).sum().backward()
    assert torch.equal(x.grad, torch.full((8,), 2.0))


def test_records_the_fast_path_cannot_take_go_to_the_general_path():
    assert [f.item() for f in kio.decode_csv("1,,3", [0.0, 5.0, 0.0])] == [1.0, 5.0, 3.0]
    assert [f.item() for f in kio.decode_csv('"1.5",2', [0.0, 0.0])] == [1.5, 2.0]
    assert [f.item() for f in kio.decode_csv("NA,2", [4.0, 0.0], na_value="NA")] == [4.0, 2.0]
    with pytest.raises(ValueError, match="Field 1 in CSV record b'1,x' is not a valid float32"):
        kio.decode_csv(b"1,x", [0.0, 0.0])
    with pytest.raises(ValueError, match="Expected 2 fields but received 3"):
        kio.decode_csv(b"1,2,3", [0.0, 0.0])
    with pytest.raises(ValueError, match="value 2147483648 does not fit the column dtype int32"):
        kio.decode_csv("2147483648", [torch.tensor(0, dtype=torch.int32)])
    with pytest.raises(ValueError, match="Expected at least 3 fields but received 2"):
        kio.decode_csv("1,2", [0.0], select_cols=[2])


def test_reused_decoders_follow_changed_defaults():
    defaults = [1.0, 2.0]
    assert [f.item() for f in kio.decode_csv(",", defaults)] == [1.0, 2.0]
    defaults[0] = 5.0  # the same list, changed in place
    assert [f.item() for f in kio.decode_csv(",", defaults)] == [5.0, 2.0]
    for dtype in [torch.float32, torch.float64, torch.float32]:  # fresh empty tensors each call
        fields = kio.decode_csv("1,2", [0.0, torch.tensor([], dtype=dtype)])
        assert fields[1].dtype == dtype and fields[1].item() == 2.0
        with pytest.raises(ValueError, match="Field 1 is required but missing"):
            kio.decode_csv("1,", [0.0, torch.tensor([], dtype=dtype)])
    assert kio.decode_csv(",", [0.0, torch.tensor([3.0])])[1].item() == 3.0
    assert kio.decode_csv("1,7", [0.0, 0.0], na_value="7")[1].item() == 0.0
    assert kio.decode_csv("1,7", [0.0, 0.0])[1].item() == 7.0
