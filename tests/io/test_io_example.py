"""Tests for kiln.io.example: wire-compatible tf.train.Example protos and their parsing."""

import pytest
import torch

pytest.importorskip("google.protobuf")

from kiln import io as kio  # noqa: E402
from kiln.io import BytesList, Example, Feature, FeatureList, FeatureLists, Features  # noqa: E402
from kiln.io import FloatList, Int64List, SequenceExample  # noqa: E402


def person():
    return Example(
        features=Features(
            feature={
                "name": Feature(bytes_list=BytesList(value=[b"Alice"])),
                "id": Feature(int64_list=Int64List(value=[123])),
                "emails": Feature(bytes_list=BytesList(value=[b"a@b.com", b"c@d.com"])),
            }
        )
    )


BOOK_DESCRIPTION = {
    "name": kio.FixedLenFeature([], "string", default_value=""),
    "id": kio.FixedLenFeature([], "int64", default_value=0),
    "emails": kio.VarLenFeature("string"),
}


def test_messages_carry_tensorflows_names_and_field_numbers():
    assert Example.DESCRIPTOR.full_name == "tensorflow.Example"
    assert SequenceExample.DESCRIPTOR.full_name == "tensorflow.SequenceExample"
    numbers = {field.name: field.number for field in Feature.DESCRIPTOR.fields}
    assert numbers == {"bytes_list": 1, "float_list": 2, "int64_list": 3}
    assert [oneof.name for oneof in Feature.DESCRIPTOR.oneofs] == ["kind"]
    assert Features.DESCRIPTOR.fields_by_name["feature"].message_type.GetOptions().map_entry


def test_single_feature_example_matches_the_hand_derived_wire_bytes():
    example = Example(
        features=Features(feature={"name": Feature(bytes_list=BytesList(value=[b"Alice"]))})
    )
    # BytesList: field 1, wire type 2 (tag 0x0a), length 5, "Alice".
    bytes_list = "0a05" + b"Alice".hex()
    feature = "0a07" + bytes_list  # Feature.bytes_list = 1
    entry = "0a04" + b"name".hex() + "1209" + feature  # map entry: key = 1, value = 2
    features = "0a11" + entry  # Features.feature = 1
    assert example.SerializeToString().hex() == "0a13" + features


def test_numeric_lists_are_packed():
    # Packed: one tag, the byte length, then the varints / little-endian floats.
    assert Int64List(value=[123]).SerializeToString().hex() == "0a017b"
    assert Int64List(value=[300, -1]).SerializeToString().hex() == "0a0cac02" + "ff" * 9 + "01"
    assert (
        FloatList(value=[1.0, -2.5]).SerializeToString().hex() == "0a08" + "0000803f" + "000020c0"
    )
    assert (
        Feature(float_list=FloatList(value=[1.0])).SerializeToString().hex() == "12060a040000803f"
    )
    assert Feature(int64_list=Int64List(value=[1])).SerializeToString().hex() == "1a030a0101"


def test_book_example_serializes_deterministically_with_sorted_keys():
    entries = {
        "emails": "0a1e0a06"
        + b"emails".hex()
        + "12140a120a07"
        + b"a@b.com".hex()
        + "0a07"
        + b"c@d.com".hex(),
        "id": "0a0b0a02" + b"id".hex() + "12051a030a017b",
        "name": "0a110a04" + b"name".hex() + "12090a070a05" + b"Alice".hex(),
    }
    features = "".join(entries[key] for key in sorted(entries))
    assert len(features) // 2 == 0x40
    assert person().SerializeToString(deterministic=True).hex() == "0a40" + features
    assert Example.FromString(person().SerializeToString()) == person()


def test_sequence_example_wire_bytes():
    tokens = FeatureList(feature=[Feature(int64_list=Int64List(value=[v])) for v in (1, 2)])
    sequence = SequenceExample(feature_lists=FeatureLists(feature_list={"tokens": tokens}))
    feature_list = "0a05" + "1a030a0101" + "0a05" + "1a030a0102"
    entry = "0a06" + b"tokens".hex() + "120e" + feature_list
    assert sequence.SerializeToString().hex() == "121a" + "0a18" + entry


def test_parse_single_example_as_in_the_book():
    parsed = kio.parse_single_example(person().SerializeToString(), BOOK_DESCRIPTION)
    assert parsed["name"] == b"Alice"
    assert (
        parsed["id"].dtype == torch.int64
        and parsed["id"].shape == ()
        and parsed["id"].item() == 123
    )
    emails = parsed["emails"]
    assert emails.values == [b"a@b.com", b"c@d.com"]
    assert torch.equal(emails.indices, torch.tensor([[0], [1]]))
    assert torch.equal(emails.dense_shape, torch.tensor([2]))
    assert kio.sparse_to_dense(emails, default_value=b"") == [b"a@b.com", b"c@d.com"]


def test_defaults_fill_missing_features():
    description = {
        "name": kio.FixedLenFeature([], "string", default_value=""),
        "id": kio.FixedLenFeature([], torch.int64, default_value=7),
        "point": kio.FixedLenFeature([2, 2], torch.float32, default_value=[[1.0, 2.0], [3.0, 4.0]]),
        "ones": kio.FixedLenFeature([3], "float32", default_value=1.0),
        "tags": kio.VarLenFeature("int64"),
    }
    parsed = kio.parse_single_example(Example().SerializeToString(), description)
    assert parsed["name"] == b""
    assert parsed["id"].item() == 7
    assert torch.equal(parsed["point"], torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert torch.equal(parsed["ones"], torch.ones(3))
    assert parsed["tags"].values.dtype == torch.int64 and parsed["tags"].values.numel() == 0
    assert torch.equal(parsed["tags"].to_dense(), torch.zeros(0, dtype=torch.int64))


def test_fixed_shapes_reshape_values():
    example = Example(
        features=Features(
            feature={
                "m": Feature(float_list=FloatList(value=[1, 2, 3, 4, 5, 6])),
                "s": Feature(bytes_list=BytesList(value=[b"a", b"b", b"c", b"d"])),
            }
        )
    )
    description = {
        "m": kio.FixedLenFeature([2, 3], "float32"),
        "s": kio.FixedLenFeature([2, 2], "string"),
    }
    parsed = kio.parse_single_example(example.SerializeToString(), description)
    assert torch.equal(parsed["m"], torch.arange(1.0, 7.0).reshape(2, 3))
    assert parsed["s"] == [[b"a", b"b"], [b"c", b"d"]]


def test_parse_example_batches():
    other = Example(features=Features(feature={"id": Feature(int64_list=Int64List(value=[5]))}))
    batch = [person().SerializeToString(), other.SerializeToString(), person().SerializeToString()]
    parsed = kio.parse_example(batch, BOOK_DESCRIPTION)
    assert parsed["name"] == [b"Alice", b"", b"Alice"]
    assert torch.equal(parsed["id"], torch.tensor([123, 5, 123]))
    emails = parsed["emails"]
    assert torch.equal(emails.indices, torch.tensor([[0, 0], [0, 1], [2, 0], [2, 1]]))
    assert torch.equal(emails.dense_shape, torch.tensor([3, 2]))
    assert emails.to_dense(b"-") == [
        [b"a@b.com", b"c@d.com"],
        [b"-", b"-"],
        [b"a@b.com", b"c@d.com"],
    ]


def test_numeric_sparse_to_dense():
    floats = Example(
        features=Features(feature={"f": Feature(float_list=FloatList(value=[0.5, 1.5]))})
    )
    batch = [floats.SerializeToString(), Example().SerializeToString(), floats.SerializeToString()]
    sparse = kio.parse_example(batch, {"f": kio.VarLenFeature("float32")})["f"]
    expected = torch.tensor([[0.5, 1.5], [-1.0, -1.0], [0.5, 1.5]])
    assert torch.equal(kio.sparse_to_dense(sparse, default_value=-1.0), expected)
    assert sparse.shape == (3, 2)


def test_required_missing_and_mismatched_features_raise():
    serialized = person().SerializeToString()
    with pytest.raises(ValueError, match="Feature 'age' is missing.*no default_value"):
        kio.parse_single_example(serialized, {"age": kio.FixedLenFeature([], "int64")})
    with pytest.raises(ValueError, match="Feature 'id' .*int64_list.*expects a float_list"):
        kio.parse_single_example(serialized, {"id": kio.FixedLenFeature([], "float32")})
    with pytest.raises(ValueError, match="Feature 'emails' .*has 2 values.*expects 3"):
        kio.parse_single_example(serialized, {"emails": kio.FixedLenFeature([3], "string")})
    with pytest.raises(ValueError, match="Feature 'id' is missing from example 1 of the batch"):
        kio.parse_example(
            [serialized, Example().SerializeToString()], {"id": kio.FixedLenFeature([], "int64")}
        )


def test_bad_descriptions_and_inputs_raise():
    with pytest.raises(ValueError, match="Unknown dtype.*'int46'.*Did you mean 'int64'"):
        kio.FixedLenFeature([], "int46")
    with pytest.raises(ValueError, match="VarLenFeature dtype.*float64"):
        kio.VarLenFeature(torch.float64)
    with pytest.raises(ValueError, match="Invalid shape.*-1"):
        kio.FixedLenFeature([-1], "int64")
    with pytest.raises(ValueError, match="default_value.*shape \\[3\\].*3 values.*\\[1, 2\\]"):
        kio.FixedLenFeature([3], "int64", default_value=[1, 2])
    with pytest.raises(ValueError, match="Invalid features"):
        kio.parse_single_example(b"", {"x": "int64"})
    with pytest.raises(ValueError, match="Could not parse the serialized example"):
        kio.parse_single_example(b"\xff\xff\xff", BOOK_DESCRIPTION)
    with pytest.raises(ValueError, match="expected bytes, but received int"):
        kio.parse_single_example(3, BOOK_DESCRIPTION)
    with pytest.raises(ValueError, match="list of serialized examples"):
        kio.parse_example(person().SerializeToString(), BOOK_DESCRIPTION)
