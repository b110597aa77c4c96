"""Tests for the IDX parser and the MNIST / Fashion MNIST loaders, on small IDX files."""

import gzip
import hashlib
import struct

import numpy as np
import pytest

from kiln.datasets import fashion_mnist, idx, mnist


def idx_bytes(array, type_code):
    """Encodes an array as an IDX file by hand: header, big-endian dims, big-endian data."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    big_endian = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    return header + array.astype(big_endian[type_code]).tobytes()


def write_idx_set(folder, rng, n_train=5, n_test=3, rows=4, cols=3):
    """Writes the four gzip IDX files of a tiny image set; returns the arrays and checksums."""
    arrays = {
        "x_train": rng.integers(0, 256, size=(n_train, rows, cols), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, rows, cols), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True)
    checksums = {}
    for key, name in idx.IDX_FILES.items():
        data = gzip.compress(idx_bytes(arrays[key], 0x08))
        (folder / name).write_bytes(data)
        checksums[name] = hashlib.sha256(data).hexdigest()
    return arrays, checksums


@pytest.mark.parametrize("type_code, values", [
    (0x08, np.array([[0, 1, 255], [7, 128, 9]], dtype=np.uint8)),
    (0x09, np.array([-128, -1, 0, 127], dtype=np.int8)),
    (0x0B, np.array([[-300, 2], [1000, -1]], dtype=np.int16)),
    (0x0C, np.array([1 << 20, -5, 3], dtype=np.int32)),
    (0x0D, np.array([[1.5, -2.25], [3e-3, 0.0]], dtype=np.float32)),
    (0x0E, np.array([np.pi, -1e300], dtype=np.float64)),
])
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_decodes_every_type_plain_and_gzipped(tmp_path, type_code, values, compressed):
    data = idx_bytes(values, type_code)
    path = tmp_path / "values.idx"
    path.write_bytes(gzip.compress(data) if compressed else data)
    result = idx.read_idx(path)
    assert result.dtype == values.dtype and result.dtype.isnative
    np.testing.assert_array_equal(result, values)


def test_read_idx_reads_big_endian_dimensions_and_values(tmp_path):
    # 1 image of 2x3 int16 values written byte by byte: 0x0102 = 258.
    data = bytes([0, 0, 0x0B, 3]) + bytes([0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3])
    data += b"".join(bytes([1, value]) for value in range(6))
    path = tmp_path / "image.idx"
    path.write_bytes(data)
    np.testing.assert_array_equal(idx.read_idx(path), 256 + np.arange(6).reshape(1, 2, 3))


def test_read_idx_rejects_a_file_that_is_not_idx(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello, world")
    with pytest.raises(ValueError, match=r"notes\.txt is not an IDX file"):
        idx.read_idx(path)


def test_read_idx_rejects_truncated_data_naming_the_file(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((2, 3, 3), np.uint8), 0x08)[:-1])
    with pytest.raises(ValueError, match=r"short-idx3-ubyte has 17 bytes of data.*\(2, 3, 3\)"):
        idx.read_idx(path)


def test_read_idx_rejects_a_corrupt_gzip_stream(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100, np.uint8), 0x08))[:-12])
    with pytest.raises(ValueError, match=r"Cannot decompress the gzip IDX file .*broken\.gz"):
        idx.read_idx(path)


@pytest.mark.parametrize("module, folder", [(mnist, "mnist"), (fashion_mnist, "fashion-mnist")])
def test_load_data_reads_the_cached_files(tmp_path, monkeypatch, module, folder):
    arrays, checksums = write_idx_set(tmp_path / folder, np.random.default_rng(0))
    monkeypatch.setenv("KILN_DATASETS", str(tmp_path))
    monkeypatch.setattr(module, "CHECKSUMS", checksums)
    (x_train, y_train), (x_test, y_test) = module.load_data()
    for key, result in zip(["x_train", "y_train", "x_test", "y_test"],
                           [x_train, y_train, x_test, y_test]):
        assert result.dtype == np.uint8
        np.testing.assert_array_equal(result, arrays[key])


def test_load_data_refuses_mismatched_images_and_labels(tmp_path, monkeypatch):
    _, checksums = write_idx_set(tmp_path / "mnist", np.random.default_rng(1))
    labels = gzip.compress(idx_bytes(np.zeros(4, np.uint8), 0x08))  # 4 labels for 5 images
    (tmp_path / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(labels)
    checksums["train-labels-idx1-ubyte.gz"] = hashlib.sha256(labels).hexdigest()
    monkeypatch.setenv("KILN_DATASETS", str(tmp_path))
    monkeypatch.setattr(mnist, "CHECKSUMS", checksums)
    with pytest.raises(ValueError, match=r"train files of mnist do not match.*\(5, 4, 3\).*\(4,\)"):
        mnist.load_data()


def test_the_checksum_tables_name_the_four_files_with_sha256_digests():
    for module in (mnist, fashion_mnist):
        assert sorted(module.CHECKSUMS) == sorted(idx.IDX_FILES.values())
        assert all(len(digest) == 64 and int(digest, 16) >= 0
                   for digest in module.CHECKSUMS.values())
    assert len(fashion_mnist.CLASS_NAMES) == 10 and fashion_mnist.CLASS_NAMES[9] == "Ankle boot"
