import numpy as np
import pytest
import torch

from kiln.layers import Hashing
from kiln.layers.preprocessing.hashing import fingerprint64

# FarmHash Fingerprint64 of prefixes of _DATA, computed with the reference C++ implementation
# (pyfarmhash), one length per code path: 1-3, 4-7, 8-16, 17-32, 33-64 and over 64 bytes.
_DATA = b"kiln farmhash reference " * 10
_REFERENCE = {1: 0x6394D20B061DF62D, 3: 0x531BB6517814FEDB, 5: 0x9742A0B1B2BD84A2,
              12: 0x69233BACD2367D6F, 20: 0x2D1BD62D2D650167, 40: 0x1A242F9804374E5D,
              100: 0xD44CD3B38A32E711, 200: 0xCFF93C7B73027E07}


def test_book_example_matches_tensorflow_bins():
    layer = Hashing(num_bins=10)
    out = layer([["Paris"], ["Tokyo"], ["Auckland"], ["Montreal"]])
    assert out.dtype == torch.int64 and out.tolist() == [[0], [1], [9], [1]]


def test_fingerprint_matches_farmhash_on_every_code_path():
    assert fingerprint64(b"") == 0x9AE16A3B2F90404F
    for length, expected in _REFERENCE.items():
        assert fingerprint64(_DATA[:length]) == expected, length
    assert fingerprint64(b"Foo") % 5 == 4 and fingerprint64(b"Bar") % 5 == 3


def test_mask_salt_ints_and_encoding():
    masked = Hashing(num_bins=3, mask_value="")
    out = masked(["", "a", "b", ""]).tolist()
    assert out[0] == out[3] == 0 and all(1 <= v <= 2 for v in out[1:3])
    assert Hashing(num_bins=10)(torch.tensor([1, 2])).tolist() == \
        Hashing(num_bins=10)(["1", "2"]).tolist()
    salted = Hashing(num_bins=1000, salt=[1, 2])(["Paris", "Tokyo"])
    assert salted.tolist() == Hashing(num_bins=1000, salt=[1, 2])(["Paris", "Tokyo"]).tolist()
    one_hot = Hashing(num_bins=10, output_mode="one_hot")([["Paris"], ["Auckland"]])
    np.testing.assert_array_equal(one_hot.numpy(), np.eye(10)[[0, 9]])


def test_errors_and_config():
    with pytest.raises(ValueError, match="num_bins"):
        Hashing(num_bins=1, mask_value="")
    with pytest.raises(ValueError, match="salt"):
        Hashing(num_bins=4, salt="x")
    with pytest.raises(ValueError, match="dtype"):
        Hashing(num_bins=4)(torch.tensor([1.5]))
    layer = Hashing(num_bins=7, salt=3, output_mode="count")
    assert Hashing.from_config(layer.get_config()).get_config() == layer.get_config()
