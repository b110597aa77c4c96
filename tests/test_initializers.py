"""Tests for kiln.initializers: distributions against formulas, seeding, fans, the registry."""

import math

import numpy as np
import pytest
import torch

from kiln import initializers
from kiln.saving import registry

# A non-square shape with a million entries, so that fan_in, fan_out and fan_avg all differ.
SHAPE = (400, 2500)
FAN_IN, FAN_OUT = 400, 2500
FAN_AVG = (FAN_IN + FAN_OUT) / 2
TRUNCATION = 0.87962566103423978


def _moments(initializer, shape=SHAPE):
    values = initializer(shape).double()
    return values.mean().item(), values.std().item()


@pytest.mark.parametrize(
    "initializer, mean, std",
    [
        (initializers.RandomNormal(mean=1.0, stddev=2.0), 1.0, 2.0),
        (initializers.RandomUniform(minval=-1.0, maxval=3.0), 1.0, 4.0 / math.sqrt(12.0)),
        (initializers.TruncatedNormal(mean=0.5, stddev=2.0), 0.5, 2.0 * TRUNCATION),
        (
            initializers.VarianceScaling(3.0, "fan_in", "truncated_normal"),
            0.0,
            math.sqrt(3.0 / FAN_IN),
        ),
        (
            initializers.VarianceScaling(3.0, "fan_out", "untruncated_normal"),
            0.0,
            math.sqrt(3.0 / FAN_OUT),
        ),
        (initializers.VarianceScaling(3.0, "fan_avg", "uniform"), 0.0, math.sqrt(3.0 / FAN_AVG)),
        (initializers.GlorotUniform(), 0.0, math.sqrt(2.0 / (FAN_IN + FAN_OUT))),
        (initializers.GlorotNormal(), 0.0, math.sqrt(2.0 / (FAN_IN + FAN_OUT))),
        (initializers.HeUniform(), 0.0, math.sqrt(2.0 / FAN_IN)),
        (initializers.HeNormal(), 0.0, math.sqrt(2.0 / FAN_IN)),
        (initializers.LecunUniform(), 0.0, math.sqrt(1.0 / FAN_IN)),
        (initializers.LecunNormal(), 0.0, math.sqrt(1.0 / FAN_IN)),
    ],
    ids=lambda value: repr(value) if isinstance(value, initializers.Initializer) else None,
)
def test_random_initializers_match_their_mean_and_std(initializer, mean, std):
    sample_mean, sample_std = _moments(initializer)
    assert sample_mean == pytest.approx(mean, abs=0.01 * std)
    assert sample_std == pytest.approx(std, rel=0.02)


def test_truncated_normal_stays_within_two_stddevs():
    values = initializers.TruncatedNormal(mean=1.0, stddev=0.5)((1000, 1000))
    assert values.min() >= 0.0 and values.max() <= 2.0
    # The truncation is at 2 stddev, not tighter: values come close to both bounds.
    assert values.min() < 0.01 and values.max() > 1.99


@pytest.mark.parametrize(
    "initializer, limit",
    [
        (initializers.GlorotUniform(), math.sqrt(6.0 / (FAN_IN + FAN_OUT))),
        (initializers.HeUniform(), math.sqrt(6.0 / FAN_IN)),
        (initializers.LecunUniform(), math.sqrt(3.0 / FAN_IN)),
    ],
)
def test_uniform_presets_fill_their_limits(initializer, limit):
    values = initializer(SHAPE)
    assert values.abs().max() <= limit
    assert values.abs().max() > 0.999 * limit


def test_truncated_variance_scaling_is_truncated_at_two_corrected_stddevs():
    values = initializers.HeNormal()(SHAPE)
    bound = 2 * math.sqrt(2.0 / FAN_IN) / TRUNCATION
    assert values.abs().max() <= bound * (1 + 1e-6)
    assert values.abs().max() > 0.99 * bound


def test_constant_initializers():
    assert torch.equal(initializers.Zeros()((2, 3)), torch.zeros(2, 3))
    assert torch.equal(initializers.Ones()([4]), torch.ones(4))
    np.testing.assert_array_equal(
        initializers.Constant(0.25)((2, 2)).numpy(), np.full((2, 2), 0.25, np.float32)
    )
    assert initializers.Constant(3)((2,), dtype="int64").tolist() == [3, 3]


def test_compute_fans_uses_keras_layouts():
    assert initializers.compute_fans((3, 3, 16, 32)) == (3 * 3 * 16, 3 * 3 * 32)
    assert initializers.compute_fans((5, 7)) == (5, 7)
    assert initializers.compute_fans((6,)) == (6, 6)
    assert initializers.compute_fans(()) == (1, 1)


def test_variance_scaling_on_a_conv_kernel_uses_the_receptive_field():
    # Conv2D kernel (kh, kw, in, out): fan_in = 5 * 5 * 64 = 1600.
    _, std = _moments(
        initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal"), (5, 5, 64, 640)
    )
    assert std == pytest.approx(math.sqrt(2.0 / 1600), rel=0.02)


def test_dtypes():
    assert initializers.GlorotUniform()((3, 4)).dtype == torch.float32
    assert initializers.GlorotUniform()((3, 4), dtype="float64").dtype == torch.float64
    assert initializers.RandomNormal()((3, 4), dtype=torch.float16).dtype == torch.float16
    assert initializers.Orthogonal()((3, 4), dtype=torch.bfloat16).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="floating-point"):
        initializers.RandomNormal()((3,), dtype="int32")
    with pytest.raises(ValueError, match="dtype='float99'"):
        initializers.Zeros()((3,), dtype="float99")
    with pytest.raises(ValueError, match="shape"):
        initializers.Zeros()((3, -1))


@pytest.mark.parametrize(
    "cls",
    [
        initializers.RandomNormal,
        initializers.RandomUniform,
        initializers.TruncatedNormal,
        initializers.GlorotUniform,
        initializers.HeNormal,
        initializers.Orthogonal,
    ],
)
def test_a_seeded_initializer_repeats_its_values(cls):
    first = cls(seed=7)((20, 30))
    assert torch.equal(first, cls(seed=7)((20, 30)))
    same_instance = cls(seed=7)
    assert torch.equal(same_instance((20, 30)), same_instance((20, 30)))
    assert not torch.equal(first, cls(seed=8)((20, 30)))


def test_a_seeded_initializer_leaves_the_global_generator_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    initializers.HeNormal(seed=1)((10, 10))
    assert torch.equal(torch.rand(3), expected)


def test_unseeded_initializers_follow_the_global_seed():
    initializer = initializers.GlorotUniform()
    torch.manual_seed(42)
    first = initializer((20, 30))
    second = initializer((20, 30))
    torch.manual_seed(42)
    assert torch.equal(initializer((20, 30)), first)
    assert not torch.equal(first, second)


@pytest.mark.parametrize("shape", [(50, 30), (30, 50), (40, 40)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    q = initializers.Orthogonal(gain=1.0, seed=3)(shape).double()
    small = min(shape)
    gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
    np.testing.assert_allclose(gram.numpy(), np.eye(small), atol=1e-5)


def test_orthogonal_gain_and_higher_rank():
    q = initializers.Orthogonal(gain=2.0, seed=3)((3, 3, 4, 8)).double()
    assert q.shape == (3, 3, 4, 8)
    flat = q.reshape(36, 8)
    np.testing.assert_allclose((flat.T @ flat).numpy(), 4.0 * np.eye(8), atol=1e-5)
    with pytest.raises(ValueError, match="rank 2 or more"):
        initializers.Orthogonal()((5,))


def test_identity():
    np.testing.assert_array_equal(initializers.Identity()((3, 3)).numpy(), np.eye(3))
    np.testing.assert_array_equal(
        initializers.Identity(gain=0.5)((2, 4)).numpy(), 0.5 * np.eye(2, 4)
    )
    with pytest.raises(ValueError, match=r"2-D shape, but received shape=\(2, 2, 2\)"):
        initializers.Identity()((2, 2, 2))


def test_presets_document_their_variance_scaling_and_can_be_subclassed():
    doc = initializers.HeNormal.__doc__
    assert "mode='fan_in', distribution='truncated_normal')" in doc
    assert "seed: optional int" in doc and "initializers.HeNormal(seed=42)" in doc

    class Custom(initializers.HeNormal):
        """A preset subclass keeps its parent's preset."""

    assert Custom.__doc__ == "A preset subclass keeps its parent's preset."
    assert Custom(seed=3).get_config() == {"seed": 3}
    assert torch.equal(Custom(seed=3)((4, 4)), initializers.HeNormal(seed=3)((4, 4)))


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: initializers.VarianceScaling(mode="fan_middle"),
            "'fan_in', 'fan_out', 'fan_avg'.*mode='fan_middle'",
        ),
        (
            lambda: initializers.VarianceScaling(distribution="normalish"),
            "distribution='normalish'",
        ),
        (lambda: initializers.VarianceScaling(scale=0.0), "scale=0.0"),
        (lambda: initializers.VarianceScaling(scale=-1), "scale=-1"),
        (lambda: initializers.RandomNormal(stddev=-0.1), "stddev=-0.1"),
        (lambda: initializers.RandomUniform(minval=1.0, maxval=1.0), "maxval > minval"),
        (lambda: initializers.HeNormal(seed=1.5), "seed=1.5"),
        (lambda: initializers.Constant("a"), "value='a'"),
    ],
)
def test_invalid_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "name, cls",
    [
        ("glorot_uniform", initializers.GlorotUniform),
        ("GlorotUniform", initializers.GlorotUniform),
        ("he_normal", initializers.HeNormal),
        ("zeros", initializers.Zeros),
        ("ones", initializers.Ones),
        ("random_normal", initializers.RandomNormal),
        ("truncated_normal", initializers.TruncatedNormal),
        ("variance_scaling", initializers.VarianceScaling),
        ("orthogonal", initializers.Orthogonal),
        ("identity", initializers.Identity),
        ("lecun_normal", initializers.LecunNormal),
        ("uniform", initializers.RandomUniform),
    ],
)
def test_get_by_name_returns_a_new_instance(name, cls):
    first = initializers.get(name)
    assert type(first) is cls
    assert initializers.get(name) is not first


def test_get_other_identifiers():
    assert initializers.get(None) is None
    custom = lambda shape, dtype=None: torch.zeros(shape)  # noqa: E731
    assert initializers.get(custom) is custom
    instance = initializers.HeNormal(seed=1)
    assert initializers.get(instance) is instance
    assert type(initializers.get(initializers.HeUniform)) is initializers.HeUniform
    with pytest.raises(ValueError, match="'class_name'"):
        initializers.deserialize({"config": {}})


@pytest.mark.parametrize(
    "initializer",
    [
        initializers.Zeros(),
        initializers.Constant(1.5),
        initializers.RandomNormal(0.1, 0.2, seed=1),
        initializers.RandomUniform(-0.2, 0.3, seed=2),
        initializers.TruncatedNormal(0.0, 0.3, seed=3),
        initializers.VarianceScaling(0.5, "fan_out", "uniform", seed=4),
        initializers.GlorotNormal(seed=5),
        initializers.Orthogonal(gain=2.0, seed=6),
        initializers.Identity(gain=3.0),
    ],
    ids=repr,
)
def test_serialize_round_trip(initializer):
    config = initializers.serialize(initializer)
    assert config["class_name"] == type(initializer).__name__
    rebuilt = initializers.get(config)
    assert type(rebuilt) is type(initializer)
    assert rebuilt.get_config() == initializer.get_config()
    assert torch.equal(rebuilt((4, 4)), initializer((4, 4)))


def test_registered_custom_initializers_round_trip():
    @registry.register_serializable(package="test_initializers")
    class Halves(initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return torch.full(shape, 0.5)

    @registry.register_serializable(package="test_initializers")
    def twos(shape, dtype=None):
        return torch.full(shape, 2.0)

    config = initializers.serialize(Halves())
    assert config == {"class_name": "test_initializers>Halves", "config": {}}
    assert type(initializers.get(config)) is Halves
    assert initializers.serialize(twos) == "test_initializers>twos"
    assert initializers.get("test_initializers>twos") is twos
