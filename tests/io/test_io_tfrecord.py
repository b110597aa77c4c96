"""Tests for kiln.io.tfrecord: exact TFRecord framing, compression, atomic writes, corruption."""

import gzip
import os
import struct
import zlib

import pytest

from kiln import io as kio


def bitwise_crc32c(data):
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) % 2**32


def framed(record):
    length = struct.pack("<Q", len(record))
    return (
        length
        + struct.pack("<I", masked(bitwise_crc32c(length)))
        + record
        + struct.pack("<I", masked(bitwise_crc32c(record)))
    )


def write(path, records, options=None):
    with kio.TFRecordWriter(path, options) as writer:
        for record in records:
            writer.write(record)


def test_reference_crc32c_matches_the_standard_check_value():
    assert bitwise_crc32c(b"123456789") == 0xE3069283


def test_writer_produces_the_exact_tensorflow_framing(tmp_path):
    path = tmp_path / "my_data.tfrecord"
    records = [b"This is the first record", b"And this is the second record", b""]
    write(path, records)
    assert path.read_bytes() == b"".join(framed(record) for record in records)
    # A hand-written header: length 24, then its masked CRC, checked bit by bit above.
    assert path.read_bytes()[:8] == bytes([24, 0, 0, 0, 0, 0, 0, 0])


def test_reading_gives_back_the_books_records(tmp_path):
    path = tmp_path / "my_data.tfrecord"
    write(path, [b"This is the first record", "And this is the second record"])
    assert list(kio.iterate_records(path)) == [
        b"This is the first record",
        b"And this is the second record",
    ]


def test_reader_accepts_bytes_written_independently(tmp_path):
    path = tmp_path / "foreign.tfrecord"
    records = [bytes(range(256)) * 3, b"x", b""]
    path.write_bytes(b"".join(framed(record) for record in records))
    assert list(kio.iterate_records(path)) == records


@pytest.mark.parametrize("buffer_size", [1, 5, 13, 64, 1 << 20])
def test_records_straddling_read_buffers(tmp_path, buffer_size):
    path = tmp_path / "sizes.tfrecord"
    records = [bytes([i % 251]) * size for i, size in enumerate([0, 1, 7, 100, 3000, 2, 0, 65])]
    write(path, records)
    assert list(kio.iterate_records(path, buffer_size=buffer_size)) == records


@pytest.mark.parametrize("compression_type", ["GZIP", "ZLIB"])
def test_compressed_files_hold_the_framed_stream(tmp_path, compression_type):
    path = tmp_path / "my_compressed.tfrecord"
    records = [b"Compress, compress, compress!", b"", b"z" * 5000]
    write(path, records, kio.TFRecordOptions(compression_type=compression_type))
    decompress = gzip.decompress if compression_type == "GZIP" else zlib.decompress
    assert decompress(path.read_bytes()) == b"".join(framed(record) for record in records)
    assert list(kio.iterate_records(path, compression_type)) == records
    assert list(kio.iterate_records(path, compression_type.lower(), buffer_size=7)) == records


def test_options_may_be_a_plain_compression_name_and_a_level(tmp_path):
    write(tmp_path / "a.tfrecord", [b"a" * 1000], "ZLIB")
    write(tmp_path / "b.tfrecord", [b"a" * 1000], kio.TFRecordOptions("ZLIB", compression_level=0))
    assert zlib.decompress((tmp_path / "a.tfrecord").read_bytes()) == framed(b"a" * 1000)
    # Level 0 stores the data: the file is larger than the framed record.
    assert (tmp_path / "b.tfrecord").stat().st_size > len(framed(b"a" * 1000))
    assert kio.TFRecordOptions.get_compression_type_string(None) == ""
    assert kio.TFRecordOptions.get_compression_type_string(kio.TFRecordOptions("GZIP")) == "GZIP"


def test_reads_multi_member_gzip_files_from_other_writers(tmp_path):
    path = tmp_path / "members.tfrecord.gz"
    path.write_bytes(gzip.compress(framed(b"one")) + gzip.compress(framed(b"two")))
    assert list(kio.iterate_records(path, "GZIP")) == [b"one", b"two"]


def test_flush_makes_compressed_records_readable_before_close(tmp_path):
    path = tmp_path / "flushed.tfrecord"
    writer = kio.TFRecordWriter(path, "GZIP")
    writer.write(b"first")
    writer.flush()
    temporary = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert len(temporary) == 1 and not path.exists()
    partial = zlib.decompressobj(31).decompress((tmp_path / temporary[0]).read_bytes())
    assert partial == framed(b"first")
    writer.close()
    writer.close()
    assert list(kio.iterate_records(path, "GZIP")) == [b"first"]
    assert os.listdir(tmp_path) == ["flushed.tfrecord"]


def test_a_failing_with_block_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "data.tfrecord"
    write(path, [b"old"])
    with pytest.raises(RuntimeError, match="crash"):
        with kio.TFRecordWriter(path) as writer:
            writer.write(b"new")
            raise RuntimeError("crash")
    assert list(kio.iterate_records(path)) == [b"old"]
    assert os.listdir(tmp_path) == ["data.tfrecord"]


def test_an_unclosed_writer_discards_its_records_with_a_warning(tmp_path):
    writer = kio.TFRecordWriter(tmp_path / "lost.tfrecord")
    writer.write(b"record")
    with pytest.warns(RuntimeWarning, match="never closed"):
        del writer
    assert os.listdir(tmp_path) == []


def test_writer_rejects_bad_input(tmp_path):
    with kio.TFRecordWriter(tmp_path / "x.tfrecord") as writer:
        with pytest.raises(ValueError, match="expected bytes or str.*int"):
            writer.write(3)
        writer.write(bytearray(b"ok"))
    with pytest.raises(ValueError, match="is closed"):
        writer.write(b"late")
    assert list(kio.iterate_records(tmp_path / "x.tfrecord")) == [b"ok"]
    with pytest.raises(ValueError, match="compression_type.*'BZIP2'"):
        kio.TFRecordOptions("BZIP2")
    with pytest.raises(ValueError, match="compression_level.*10"):
        kio.TFRecordOptions("GZIP", compression_level=10)
    with pytest.raises(ValueError, match="buffer_size.*0"):
        kio.iterate_records(tmp_path / "x.tfrecord", buffer_size=0)


def test_corrupted_data_names_the_file_and_offset(tmp_path):
    path = tmp_path / "bad.tfrecord"
    write(path, [b"first", b"second", b"third"])
    data = bytearray(path.read_bytes())
    second = len(framed(b"first"))
    data[second + 12 + 2] ^= 0x01
    path.write_bytes(bytes(data))
    records = kio.iterate_records(path)
    assert next(records) == b"first"
    with pytest.raises(
        kio.DataLossError, match=f"bad.tfrecord.*offset {second}: the data's checksum"
    ) as info:
        next(records)
    assert isinstance(info.value, ValueError)
    assert info.value.offset == second and info.value.path == str(path)


def test_corrupted_length_is_caught_before_it_is_used(tmp_path):
    path = tmp_path / "bad_length.tfrecord"
    data = bytearray(framed(b"first") + framed(b"second"))
    data[len(framed(b"first")) + 3] = 0xFF  # a huge length
    path.write_bytes(bytes(data))
    with pytest.raises(
        kio.DataLossError, match=f"offset {len(framed(b'first'))}: the length's checksum"
    ):
        list(kio.iterate_records(path))


def test_truncated_file_names_the_offset_of_the_cut_record(tmp_path):
    path = tmp_path / "cut.tfrecord"
    whole = framed(b"first") + framed(b"second record")
    path.write_bytes(whole[:-3])
    with pytest.raises(
        kio.DataLossError,
        match=f"Truncated record in .*cut.tfrecord.* offset {len(framed(b'first'))}",
    ):
        list(kio.iterate_records(path))


def test_truncated_and_mislabelled_compressed_files(tmp_path):
    path = tmp_path / "cut.tfrecord.gz"
    write(path, [b"a" * 100, b"b" * 100], "GZIP")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(kio.DataLossError, match="GZIP stream of .*cut.tfrecord.gz"):
        list(kio.iterate_records(path, "GZIP"))
    zlib_path = tmp_path / "cut.tfrecord.z"
    zlib_path.write_bytes(zlib.compress(framed(b"x" * 100))[:-6])
    with pytest.raises(kio.DataLossError, match="ZLIB stream .*ends before"):
        list(kio.iterate_records(zlib_path, "ZLIB"))
    gzip_path = tmp_path / "whole.tfrecord"
    write(gzip_path, [b"data"], "GZIP")
    with pytest.raises(kio.DataLossError, match='offset 0.*compression_type="GZIP"'):
        list(kio.iterate_records(gzip_path))
    with pytest.raises(kio.DataLossError, match="ZLIB stream"):
        list(kio.iterate_records(gzip_path, "ZLIB"))


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.tfrecord"):
        list(kio.iterate_records(tmp_path / "nowhere.tfrecord"))


def test_tensorboard_reads_kilns_files(tmp_path):
    loader = pytest.importorskip("tensorboard.backend.event_processing.event_file_loader")
    path = tmp_path / "events.tfrecord"
    records = [b"This is the first record", b"", bytes(range(256))]
    write(path, records)
    assert list(loader.RawEventFileLoader(str(path)).Load()) == records
