"""Tests for kiln.regularizers and kiln.constraints: values against numpy, and the registries."""

import numpy as np
import pytest
import torch

from kiln import constraints, regularizers
from kiln.saving import registry

RNG = np.random.default_rng(0)
W = RNG.normal(size=(6, 4))
KERNEL = RNG.normal(size=(3, 3, 2, 5))


def _cosine_penalty(w, factor):
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    cosines = np.abs(unit @ unit.T)
    n = len(w)
    return factor * 0.5 * (cosines.sum() - np.trace(cosines)) / (n * (n - 1) / 2)


# ---------------------------------------------------------------- regularizers


@pytest.mark.parametrize(
    "regularizer, expected",
    [
        (regularizers.L1(0.3), 0.3 * np.abs(W).sum()),
        (regularizers.L2(0.3), 0.3 * np.square(W).sum()),
        (regularizers.L1L2(l1=0.1, l2=0.2), 0.1 * np.abs(W).sum() + 0.2 * np.square(W).sum()),
        (regularizers.L1L2(l1=0.1), 0.1 * np.abs(W).sum()),
        (regularizers.L1L2(l2=0.2), 0.2 * np.square(W).sum()),
        (regularizers.L1L2(), 0.0),
        (regularizers.l1_l2(), 0.01 * np.abs(W).sum() + 0.01 * np.square(W).sum()),
        (regularizers.l2(0.05), 0.05 * np.square(W).sum()),
        (regularizers.OrthogonalRegularizer(0.2, mode="rows"), _cosine_penalty(W, 0.2)),
        (regularizers.OrthogonalRegularizer(0.2, mode="columns"), _cosine_penalty(W.T, 0.2)),
    ],
    ids=repr,
)
def test_regularizer_values_match_numpy(regularizer, expected):
    penalty = regularizer(torch.tensor(W))
    assert penalty.shape == ()
    np.testing.assert_allclose(penalty.numpy(), expected, rtol=1e-12)


def test_l2_gradient_has_no_one_half():
    weight = torch.tensor(W, requires_grad=True)
    regularizers.L2(0.5)(weight).backward()
    np.testing.assert_allclose(weight.grad.numpy(), 2 * 0.5 * W)


def test_orthogonal_regularizer_extremes():
    q, _ = np.linalg.qr(RNG.normal(size=(6, 6)))
    assert regularizers.OrthogonalRegularizer(1.0)(torch.tensor(q)).item() == pytest.approx(
        0.0, abs=1e-12
    )
    same_rows = torch.ones(5, 3)
    assert regularizers.OrthogonalRegularizer(0.7)(same_rows).item() == pytest.approx(0.7)
    with pytest.raises(ValueError, match=r"2-D weight, but received one of shape \(2, 3, 4\)"):
        regularizers.OrthogonalRegularizer()(torch.ones(2, 3, 4))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: regularizers.L2(-0.1), "l2=-0.1"),
        (lambda: regularizers.L1("big"), "l1='big'"),
        (lambda: regularizers.L1L2(l1=float("nan")), "l1=nan"),
        (
            lambda: regularizers.OrthogonalRegularizer(mode="diagonal"),
            "'rows' or 'columns'.*mode='diagonal'",
        ),
    ],
)
def test_invalid_regularizer_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_regularizer_get():
    assert regularizers.get(None) is None
    assert repr(regularizers.get("l2")) == "L2(l2=0.01)"
    assert repr(regularizers.get("L1")) == "L1(l1=0.01)"
    assert repr(regularizers.get("l1_l2")) == "L1L2(l1=0.01, l2=0.01)"
    assert repr(regularizers.get("L1L2")) == "L1L2(l1=0.0, l2=0.0)"
    assert type(regularizers.get("orthogonal_regularizer")) is regularizers.OrthogonalRegularizer
    assert type(regularizers.get(regularizers.L2)) is regularizers.L2
    instance = regularizers.l1(0.5)
    assert isinstance(instance, regularizers.L1) and regularizers.get(instance) is instance


def test_registered_custom_regularizer_round_trip():
    @registry.register_serializable(package="test_regularizers")
    class MaxAbs(regularizers.Regularizer):
        def __init__(self, factor=0.01):
            self.factor = factor

        def __call__(self, weight):
            return self.factor * weight.abs().max()

        def get_config(self):
            return {"factor": self.factor}

    config = regularizers.serialize(MaxAbs(2.0))
    assert config == {"class_name": "test_regularizers>MaxAbs", "config": {"factor": 2.0}}
    rebuilt = regularizers.get(config)
    assert rebuilt(torch.tensor(W)).item() == pytest.approx(2.0 * np.abs(W).max())


# ---------------------------------------------------------------- constraints

EPSILON = 1e-7


def _rescale(w, desired, norms):
    return w * desired / (EPSILON + norms)


def test_max_norm_clips_only_the_long_columns():
    # Columns of norm 5, 0.5, 13 and 2: with max_value=2, the first and third are shrunk.
    w = np.array([[3.0, 0.3, 5.0, 0.0], [4.0, 0.4, 12.0, 2.0]])
    result = constraints.MaxNorm(max_value=2.0)(torch.tensor(w)).numpy()
    norms = np.sqrt((w**2).sum(axis=0, keepdims=True))
    np.testing.assert_allclose(result, _rescale(w, np.clip(norms, 0, 2.0), norms), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(result, axis=0), [2.0, 0.5, 2.0, 2.0], rtol=1e-6)


def test_max_norm_on_a_conv_kernel_and_rows():
    kernel = RNG.normal(size=(3, 3, 2, 5))
    result = constraints.MaxNorm(1.5, axis=[0, 1, 2])(torch.tensor(kernel)).numpy()
    norms = np.sqrt((kernel**2).sum(axis=(0, 1, 2), keepdims=True))
    np.testing.assert_allclose(result, _rescale(kernel, np.clip(norms, 0, 1.5), norms), rtol=1e-12)
    rows = constraints.max_norm(1.0, axis=1)(torch.tensor(W)).numpy()
    row_norms = np.sqrt((W**2).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(rows, _rescale(W, np.clip(row_norms, 0, 1.0), row_norms), rtol=1e-12)


def test_non_neg_and_unit_norm():
    np.testing.assert_array_equal(constraints.NonNeg()(torch.tensor(W)).numpy(), np.maximum(W, 0.0))
    result = constraints.UnitNorm(axis=0)(torch.tensor(W)).numpy()
    np.testing.assert_allclose(
        result, W / (EPSILON + np.linalg.norm(W, axis=0, keepdims=True)), rtol=1e-12
    )
    np.testing.assert_allclose(np.linalg.norm(result, axis=0), np.ones(4), rtol=1e-6)


@pytest.mark.parametrize("rate", [1.0, 0.5, 0.0])
def test_min_max_norm(rate):
    w = W * np.array([0.05, 0.3, 1.0, 5.0])  # column norms below, inside and above [0.5, 1.5]
    result = constraints.MinMaxNorm(min_value=0.5, max_value=1.5, rate=rate)(
        torch.tensor(w)
    ).numpy()
    norms = np.sqrt((w**2).sum(axis=0, keepdims=True))
    desired = rate * np.clip(norms, 0.5, 1.5) + (1 - rate) * norms
    np.testing.assert_allclose(result, _rescale(w, desired, norms), rtol=1e-12)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: constraints.MaxNorm(-1.0), "max_value=-1.0"),
        (lambda: constraints.MaxNorm(axis="rows"), "axis='rows'"),
        (lambda: constraints.UnitNorm(axis=[]), r"axis=\[\]"),
        (lambda: constraints.MinMaxNorm(min_value=2.0, max_value=1.0), "max_value >= min_value"),
        (lambda: constraints.MinMaxNorm(rate=1.5), "rate=1.5"),
    ],
)
def test_invalid_constraint_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_constraint_get():
    assert constraints.get(None) is None
    for name, cls in [
        ("max_norm", constraints.MaxNorm),
        ("MaxNorm", constraints.MaxNorm),
        ("non_neg", constraints.NonNeg),
        ("unit_norm", constraints.UnitNorm),
        ("min_max_norm", constraints.MinMaxNorm),
        ("maxnorm", constraints.MaxNorm),
    ]:
        assert type(constraints.get(name)) is cls
    assert constraints.max_norm is constraints.MaxNorm and constraints.non_neg is constraints.NonNeg
    assert type(constraints.get(constraints.UnitNorm)) is constraints.UnitNorm
    clip = lambda w: w.clamp(-1, 1)  # noqa: E731
    assert constraints.get(clip) is clip


# ---------------------------------------------------------------- both

ROUND_TRIP_CASES = [
    (regularizers, regularizers.L1(0.2)),
    (regularizers, regularizers.L2(0.3)),
    (regularizers, regularizers.L1L2(0.1, 0.4)),
    (regularizers, regularizers.OrthogonalRegularizer(0.5, "columns")),
    (constraints, constraints.MaxNorm(3.0, axis=[0, 1, 2])),
    (constraints, constraints.NonNeg()),
    (constraints, constraints.UnitNorm(axis=1)),
    (constraints, constraints.MinMaxNorm(0.1, 2.0, 0.5, axis=0)),
]


@pytest.mark.parametrize(
    "module, instance", ROUND_TRIP_CASES, ids=[repr(instance) for _, instance in ROUND_TRIP_CASES]
)
def test_serialize_round_trip(module, instance):
    config = module.serialize(instance)
    assert config["class_name"] == type(instance).__name__
    weight = torch.tensor(W if module is regularizers else KERNEL)
    for rebuilt in (module.deserialize(config), module.get(config)):
        assert type(rebuilt) is type(instance) and rebuilt.get_config() == instance.get_config()
        assert torch.equal(rebuilt(weight), instance(weight))
