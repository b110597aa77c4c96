"""Tests for kiln.io.csv: decode_csv on lines and batches, and iterate_csv on files."""

import gzip
import zlib

import pytest
import torch

from kiln import io as kio


def test_books_parse_csv_line():
    n_inputs = 8
    defs = [0.0] * n_inputs + [torch.tensor([], dtype=torch.float32)]
    fields = kio.decode_csv(
        b"8.3252,41.0,6.98,1.02,322.0,2.55,37.88,-122.23,4.526", record_defaults=defs
    )
    assert len(fields) == 9 and all(field.shape == () for field in fields)
    x, y = torch.stack(fields[:-1]), torch.stack(fields[-1:])
    expected = torch.tensor([8.3252, 41.0, 6.98, 1.02, 322.0, 2.55, 37.88, -122.23])
    assert x.dtype == torch.float32 and torch.equal(x, expected)
    assert torch.equal(y, torch.tensor([4.526]))


def test_types_come_from_the_defaults_and_fill_empty_fields():
    defaults = [
        0.5,
        7,
        "none",
        b"raw",
        torch.tensor(2.0, dtype=torch.float64),
        torch.tensor([3], dtype=torch.int32),
    ]
    fields = kio.decode_csv(",,,,,", defaults)
    assert fields[:4] == [torch.tensor(0.5), torch.tensor(7), b"none", b"raw"]
    assert [field.dtype for field in (fields[0], fields[1], fields[4], fields[5])] == [
        torch.float32,
        torch.int64,
        torch.float64,
        torch.int32,
    ]
    assert fields[4].item() == 2.0 and fields[5].item() == 3
    fields = kio.decode_csv("1.25,-4,café,x,1e300,12", defaults)
    assert fields[0].item() == 1.25 and fields[1].item() == -4
    assert fields[2] == "café".encode("utf-8") and fields[3] == b"x"
    assert fields[4].item() == 1e300 and fields[5].item() == 12


def test_quotes_delimiters_and_missing_values():
    fields = kio.decode_csv('"a,b",1,"say ""hi"""', ["", 0, ""])
    assert fields[0] == b"a,b" and fields[1].item() == 1 and fields[2] == b'say "hi"'
    fields = kio.decode_csv('"a;1', ["", 0], field_delim=";", use_quote_delim=False)
    assert fields[0] == b'"a' and fields[1].item() == 1
    fields = kio.decode_csv("NA|2.5", [9.0, 0.0], field_delim="|", na_value="NA")
    assert fields[0].item() == 9.0 and fields[1].item() == 2.5


def test_select_cols_keeps_some_columns():
    fields = kio.decode_csv("a,1,b,2.5,c", [0, 0.0], select_cols=[1, 3])
    assert fields[0].item() == 1 and fields[1].item() == 2.5
    assert kio.decode_csv("a,1", [0], select_cols=[1])[0].item() == 1


def test_batch_decoding_gives_one_column_per_field():
    columns = kio.decode_csv(["1,x,2", b"3,,4"], [0.0, "d", 0])
    assert torch.equal(columns[0], torch.tensor([1.0, 3.0]))
    assert columns[1] == [b"x", b"d"]
    assert columns[2].dtype == torch.int64 and torch.equal(columns[2], torch.tensor([2, 4]))
    empty = kio.decode_csv([], [0.0, ""])
    assert empty[0].shape == (0,) and empty[1] == []


def test_required_field_missing_names_the_field_and_line():
    with pytest.raises(
        ValueError, match=r"Field 8 is required but missing in CSV record '1,2,3,4,5,6,7,8,'"
    ):
        kio.decode_csv("1,2,3,4,5,6,7,8,", [0.0] * 8 + [[]])
    with pytest.raises(ValueError, match="Field 1 is required"):
        kio.decode_csv("a,", ["", str])


def test_wrong_field_counts_and_bad_values_raise():
    with pytest.raises(ValueError, match="Expected 3 fields but received 2 in CSV record '1,2'"):
        kio.decode_csv("1,2", [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="Expected at least 4 fields but received 2"):
        kio.decode_csv("1,2", [0.0], select_cols=[3])
    with pytest.raises(
        ValueError, match="Field 1 in CSV record b'1,abc' is not a valid float32: b'abc'"
    ):
        kio.decode_csv(b"1,abc", [0.0, 0.0])
    with pytest.raises(ValueError, match="Field 0 .* is not a valid int64: b'1.5'"):
        kio.decode_csv("1.5", [0])
    with pytest.raises(
        ValueError, match="column 0: value 99999999999999999999 does not fit .*int64"
    ):
        kio.decode_csv("99999999999999999999", [0])
    with pytest.raises(ValueError, match="Malformed CSV record"):
        kio.decode_csv('"a"b,1', ["", 0])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"record_defaults\[1\].*True"):
        kio.decode_csv("1,2", [0.0, True])
    with pytest.raises(ValueError, match=r"record_defaults\[0\].*\[1\.0, 2\.0\]"):
        kio.decode_csv("1", [[1.0, 2.0]])
    with pytest.raises(ValueError, match="field_delim.*'::'"):
        kio.decode_csv("1", [0.0], field_delim="::")
    with pytest.raises(ValueError, match="select_cols.*\\[3, 1\\]"):
        kio.decode_csv("1,2,3,4", [0.0, 0.0], select_cols=[3, 1])
    with pytest.raises(ValueError, match="Invalid records"):
        kio.decode_csv(5, [0.0])


def test_decoder_reuses_checked_defaults():
    decode = kio.CsvDecoder([0.0, 0.0])
    assert [field.item() for field in decode("1,2")] == [1.0, 2.0]
    assert [field.item() for field in decode("3,4")] == [3.0, 4.0]


def test_decode_csv_never_mixes_up_defaults_between_calls():
    # decode_csv reuses decoders for equal defaults: unequal ones must still give their own.
    assert str(kio.decode_csv(",", [0.0, -0.0])) == "[tensor(0.), tensor(-0.)]"
    assert kio.decode_csv(",", [1, 1.0])[0].dtype == torch.int64
    assert kio.decode_csv(",", [1.0, 1])[0].dtype == torch.float32
    assert kio.decode_csv(",", [torch.tensor([5.0]), "a"])[0].item() == 5.0
    assert kio.decode_csv(",", [torch.tensor([6.0]), "a"])[0].item() == 6.0
    assert (
        kio.decode_csv(",", [torch.tensor(6.0, dtype=torch.float64), "a"])[0].dtype == torch.float64
    )
    assert kio.decode_csv(",", [0.0, "b"])[1] == b"b"
    assert kio.decode_csv("1,7", [0.0, 0.0], na_value="7")[1].item() == 0.0
    assert kio.decode_csv("1,7", [0.0, 0.0])[1].item() == 7.0


def write_csv(path, text, compression_type=None):
    data = text.encode("utf-8")
    if compression_type == "GZIP":
        data = gzip.compress(data)
    elif compression_type == "ZLIB":
        data = zlib.compress(data)
    path.write_bytes(data)


@pytest.mark.parametrize("compression_type", [None, "GZIP", "ZLIB"])
def test_iterate_csv_reads_files(tmp_path, compression_type):
    path = tmp_path / "data.csv"
    write_csv(path, 'x,label,name\r\n1.5,1,"a\nb"\r\n\r\n2.5,,c\r\n', compression_type)
    rows = list(kio.iterate_csv(path, [0.0, 7, ""], compression_type=compression_type, header=True))
    assert len(rows) == 2 and all(isinstance(row, tuple) for row in rows)
    assert rows[0][0].item() == 1.5 and rows[0][1].item() == 1 and rows[0][2] == b"a\nb"
    assert rows[1][0].item() == 2.5 and rows[1][1].item() == 7 and rows[1][2] == b"c"


def test_iterate_csv_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    write_csv(path, "a,b\n1,2\n3\n")
    rows = kio.iterate_csv(path, [0.0, 0.0], header=True)
    assert next(rows)[1].item() == 2.0
    with pytest.raises(ValueError, match="Expected 2 fields but received 1 in '.*bad.csv', line 3"):
        next(rows)
    write_csv(path, "1,\n")
    with pytest.raises(ValueError, match="Field 1 is required but missing in '.*bad.csv', line 1"):
        list(kio.iterate_csv(path, [0.0, []]))
    write_csv(path, "1,2\n" * 50, "GZIP")
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(kio.DataLossError, match="GZIP stream of .*bad.csv"):
        list(kio.iterate_csv(path, [0, 0], compression_type="GZIP"))
