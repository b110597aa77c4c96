"""Tests for kiln.saving.registry: the lookup, `get` and serialization that every family shares."""

import re

import pytest

import kiln.optimizers
from kiln import activations, constraints, initializers, losses, metrics, regularizers
from kiln.saving import registry

# ---------------------------------------------------------------- every family's `get`


@pytest.mark.parametrize(
    "get, name, patterns",
    [
        (
            initializers.get,
            "glorot_unifrom",
            ["Did you mean 'glorot_uniform'.*Valid initializer names are: .*he_normal"],
        ),
        (regularizers.get, "l22", ["Did you mean 'l2'.*Valid regularizer names are: .*l1_l2"]),
        (
            constraints.get,
            "max_nrom",
            ["Did you mean 'max_norm'.*Valid constraint names are: .*unit_norm"],
        ),
        (activations.get, "rleu", ["Did you mean 'relu'.*Valid activation names are: .*softmax"]),
        (
            losses.get,
            "mean_squared_eror",
            [
                re.escape("Unknown loss: 'mean_squared_eror'. Did you mean 'mean_squared_error'"),
                "sparse_categorical_crossentropy",
                "Huber",
            ],
        ),
        (
            metrics.get,
            "acuracy",
            [
                re.escape("Unknown metric: 'acuracy'. Did you mean 'accuracy'"),
                "RootMeanSquaredError",
                "sparse_categorical_accuracy",
            ],
        ),
        (kiln.optimizers.get, "adma",
         [r"Unknown optimizer: 'adma'\. Did you mean [^?]*'adam'[,?]"]),
    ],
    ids=lambda value: getattr(value, "__module__", None),
)
def test_unknown_name_suggests_the_closest_and_lists_the_valid_ones(get, name, patterns):
    with pytest.raises(ValueError) as error:
        get(name)
    for pattern in patterns:
        assert re.search(pattern, str(error.value))


@pytest.mark.parametrize(
    "get, identifier, message",
    [
        (initializers.get, 3, "received 3"),
        (regularizers.get, 0.1, "received 0.1"),
        (constraints.get, 2, "received 2"),
        (activations.get, 3, "received 3"),
        (losses.get, 3, "Could not interpret loss identifier: 3"),
        (metrics.get, None, "Could not interpret metric identifier: None"),
        (kiln.optimizers.get, 42, "Could not interpret"),
    ],
    ids=lambda value: getattr(value, "__module__", None),
)
def test_get_rejects_other_identifiers(get, identifier, message):
    with pytest.raises(ValueError, match=message):
        get(identifier)


# ---------------------------------------------------------------- the shared functions


class Base(registry.Serializable):
    def __init__(self, size=1):
        self.size = size

    def get_config(self):
        return {"size": self.size}


class Other(registry.Serializable):
    pass


def double(x):
    return 2 * x


TABLE = {"base": Base, "Base": Base, "double": double, "Other": Other}


def test_serializable_repr_and_config_round_trip():
    assert repr(Base(3)) == "Base(size=3)" and repr(Other()) == "Other()"
    assert Base.from_config(Base(3).get_config()).size == 3


def test_registered_name_is_the_object_own():
    @registry.register_serializable(package="test_registry")
    class Registered(Base):
        pass

    class Unregistered(Registered):
        pass

    assert registry.registered_name(Registered) == "test_registry>Registered"
    assert registry.registered_name(Unregistered) == "Unregistered"
    assert registry.registered_name(double) == "double"
    assert registry.serialize_object(Unregistered(2)) == {
        "class_name": "Unregistered",
        "config": {"size": 2},
    }


def test_serialize_and_deserialize_object():
    config = registry.serialize_object(Base(4))
    assert config == {"class_name": "Base", "config": {"size": 4}}
    rebuilt = registry.deserialize_object(config, TABLE, "thing")
    assert type(rebuilt) is Base and rebuilt.size == 4
    assert registry.serialize_object(double) == "double"
    assert registry.deserialize_object("double", TABLE, "thing") is double
    assert registry.deserialize_object("base", TABLE, "thing").size == 1
    no_config = {"class_name": "Base", "config": None}
    assert registry.deserialize_object(no_config, TABLE, "thing").size == 1
    with pytest.raises(ValueError, match=r"Invalid thing config: \{'config': \{\}\}\. Expected"):
        registry.deserialize_object({"config": {}}, TABLE, "thing")
    with pytest.raises(ValueError, match="class_name 'Other' does not name a Base class"):
        registry.deserialize_object({"class_name": "Other"}, TABLE, "thing", base_class=Base)
    with pytest.raises(ValueError, match="Unknown thing: 'Bsae'. Did you mean 'Base'"):
        registry.deserialize_object({"class_name": "Bsae"}, TABLE, "thing")


def test_resolve_class_and_check_config():
    assert registry.resolve_class({"class_name": "base"}, TABLE, "thing", base_class=Base) is Base
    custom = {"Mine": Other}
    assert registry.resolve_class({"class_name": "Mine"}, TABLE, "thing", custom) is Other
    registry.check_config({"class_name": "Base"}, "thing")
    with pytest.raises(ValueError, match="Invalid thing config: 'Base'"):
        registry.check_config("Base", "thing")


def test_get_object():
    deserialize = lambda config: registry.deserialize_object(config, TABLE, "thing")  # noqa: E731
    assert registry.get_object(None, deserialize, "thing") is None
    assert type(registry.get_object("base", deserialize, "thing")) is Base
    config = {"class_name": "Base", "config": {"size": 5}}
    assert registry.get_object(config, deserialize, "thing").size == 5
    assert type(registry.get_object(Base, deserialize, "thing")) is Base
    assert registry.get_object(Base, deserialize, "thing", base_class=Other) is Base
    assert registry.get_object(Base, deserialize, "thing", base_class=None) is Base
    assert registry.get_object(double, deserialize, "thing") is double
    with pytest.raises(
        ValueError,
        match="Could not interpret thing identifier: expected None, a name, a config dict or a "
        "callable, but received 1.5.",
    ):
        registry.get_object(1.5, deserialize, "thing")
