"""kiln.data.TextLineDataset: plain, GZIP and ZLIB files, line endings, non-UTF-8 bytes, missing
files, and the book's CSV pipeline over several shards."""

import gzip
import io
import zlib

import numpy as np
import pytest
import torch

from kiln.data import Dataset, TextLineDataset


def write(path, data, compression=None):
    if compression == "GZIP":
        data = gzip.compress(data)
    elif compression == "ZLIB":
        data = zlib.compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("compression", [None, "GZIP", "ZLIB"])
def test_lines_without_endings(tmp_path, compression):
    content = b"first\nsecond\r\n\nlatin1 caf\xe9\nlast without newline"
    path = write(tmp_path / "lines.txt", content, compression)
    lines = list(TextLineDataset(str(path), compression_type=compression))
    assert lines == [b"first", b"second", b"", b"latin1 caf\xe9", b"last without newline"]
    assert all(type(line) is bytes for line in lines)


def test_large_zlib_file_spans_many_reads(tmp_path):
    rows = [f"{i},{i * 0.5}".encode() for i in range(20000)]
    path = write(tmp_path / "big.z", b"\n".join(rows) + b"\n", "ZLIB")
    assert list(TextLineDataset(path, "ZLIB")) == rows


def test_several_files_in_order_and_in_parallel(tmp_path):
    paths = [write(tmp_path / f"f{i}.txt", f"a{i}\nb{i}\nc{i}\n".encode()) for i in range(3)]
    assert list(TextLineDataset([str(p) for p in paths])) == [
        b"a0", b"b0", b"c0", b"a1", b"b1", b"c1", b"a2", b"b2", b"c2"]
    parallel = TextLineDataset([str(p) for p in paths], num_parallel_reads=3)
    assert list(parallel) == [b"a0", b"a1", b"a2", b"b0", b"b1", b"b2", b"c0", b"c1", b"c2"]


def test_missing_and_corrupt_files(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        list(TextLineDataset(str(missing)))
    bad = write(tmp_path / "bad.gz", gzip.compress(b"x\n" * 1000)[:-30])
    with pytest.raises(ValueError, match="bad.gz.*GZIP"):
        list(TextLineDataset(str(bad), "GZIP"))
    truncated = write(tmp_path / "bad.z", zlib.compress(b"y\n" * 1000)[:-4])
    with pytest.raises(ValueError, match="bad.z.*ZLIB"):
        list(TextLineDataset(str(truncated), "ZLIB"))
    with pytest.raises(ValueError, match="compression_type='BZIP2'"):
        TextLineDataset(str(missing), compression_type="BZIP2")
    with pytest.raises(ValueError, match="filenames"):
        TextLineDataset([])


def parse_csv_line(line):
    fields = [float(field) for field in line.decode().split(",")]
    return torch.tensor(fields[:-1]), torch.tensor(fields[-1:])


def test_book_csv_reader_dataset(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(60, 4)).round(3)
    paths = []
    for shard in range(6):
        rows = data[shard * 10:(shard + 1) * 10]
        text = "a,b,c,target\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)
        paths.append(str(write(tmp_path / f"my_train_{shard:02d}.csv", text.encode())))

    def csv_reader_dataset(filepaths, n_readers=5, n_read_threads=None, n_parse_threads=5,
                           shuffle_buffer_size=10_000, seed=42, batch_size=32):
        dataset = Dataset.list_files(filepaths, seed=seed)
        dataset = dataset.interleave(
            lambda filepath: TextLineDataset(filepath).skip(1),
            cycle_length=n_readers, num_parallel_calls=n_read_threads)
        dataset = dataset.map(parse_csv_line, num_parallel_calls=n_parse_threads)
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)
        return dataset.batch(batch_size).prefetch(1)

    for threads in (None, 3):
        batches = list(csv_reader_dataset(paths, n_read_threads=threads))
        assert [len(y) for _, y in batches] == [32, 28]
        X = torch.cat([x for x, _ in batches]).numpy()
        y = torch.cat([y for _, y in batches]).numpy()
        order = np.argsort(y[:, 0])
        expected = data[np.argsort(data[:, 3])]
        np.testing.assert_allclose(X[order], expected[:, :3], rtol=1e-6)


@pytest.mark.parametrize("block_size", [1, 2, 3, 1 << 20])
def test_line_endings_split_across_read_blocks(block_size):
    from kiln.data.files import _lines
    data = b"a\nb\r\n\r\nc\rd\n\nlast\r"
    expected = [b"a", b"b", b"", b"c\rd", b"", b"last\r"]  # a last line keeps a lone \r
    assert list(_lines(io.BytesIO(data), block_size)) == expected
