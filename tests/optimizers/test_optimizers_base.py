"""The optimizer base: learning rate, binding, None gradients, layouts, state, config, get()."""

import numpy as np
import pytest
import torch

import kiln.optimizers
from kiln.optimizers import SGD, Adam, Optimizer
from kiln.saving import registry


class Accumulate(Optimizer):
    """A minimal subclass: w -= lr * (g + a), where slot a starts at 1 and accumulates g."""

    def __init__(self, learning_rate=0.1, name="Accumulate", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def _slot_names(self):
        return ("accumulator",)

    def _create_slot(self, name, variable):
        return torch.ones_like(variable)

    def _update_step(self, group, grads, learning_rate):
        accumulators = group.slots["accumulator"]
        torch._foreach_add_(accumulators, grads)
        torch._foreach_add_(group.variables, accumulators, alpha=-learning_rate)


def make_variables(seed=0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    shapes = [(3, 2), (2,), (2, 4)]
    return [torch.nn.Parameter(torch.randn(s, generator=generator, dtype=dtype)) for s in shapes]


def make_grads(variables, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(v.shape, generator=generator, dtype=v.dtype) for v in variables]


def snapshot(variables):
    return [v.detach().clone() for v in variables]


def test_subclass_gets_slots_learning_rate_and_iterations():
    variables = make_variables()
    start = snapshot(variables)
    grads = make_grads(variables)
    optimizer = Accumulate(learning_rate=0.5)
    optimizer.apply(grads, variables)
    optimizer.apply(grads, variables)
    for variable, w, g in zip(variables, start, grads):
        # step 1: a = 1 + g; step 2: a = 1 + 2g  ->  w - 0.5 * (2 + 3g)
        torch.testing.assert_close(variable.detach(), w - 0.5 * (2 + 3 * g))
    assert optimizer.iterations == 2
    assert optimizer.built


def test_lr_alias_and_unknown_keyword():
    assert SGD(lr=0.3).learning_rate == 0.3
    with pytest.raises(ValueError, match="momentun"):
        SGD(learning_rate=0.1, momentun=0.9)


@pytest.mark.parametrize("kwargs, argument", [
    ({"clipnorm": 1.0, "global_clipnorm": 1.0}, "global_clipnorm"),
    ({"clipnorm": 0.0}, "clipnorm"),
    ({"clipvalue": -1.0}, "clipvalue"),
    ({"global_clipnorm": "big"}, "global_clipnorm"),
    ({"learning_rate": float("nan")}, "learning_rate"),
])
def test_bad_clip_and_learning_rate_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        SGD(**kwargs)


def test_learning_rate_set_after_build_takes_effect_next_step():
    variables = make_variables()
    grads = make_grads(variables)
    optimizer = SGD(learning_rate=0.1)
    optimizer.apply(grads, variables)
    before = snapshot(variables)
    optimizer.learning_rate = 0.01
    assert optimizer.learning_rate == 0.01
    optimizer.apply(grads, variables)
    for variable, w, g in zip(variables, before, grads):
        torch.testing.assert_close(variable.detach(), w - 0.01 * g)


def test_schedule_learning_rate_property_and_replacement():
    optimizer = SGD(learning_rate=lambda step: 1.0 / (step + 1))
    variables = make_variables()
    assert optimizer.learning_rate == 1.0
    optimizer.apply(make_grads(variables), variables)
    assert optimizer.learning_rate == 0.5
    optimizer.learning_rate = 0.25
    assert optimizer.learning_rate == 0.25
    assert optimizer.get_config()["learning_rate"] == 0.25


def test_apply_gradients_zip_form_equals_apply():
    first, second = make_variables(), make_variables()
    grads = make_grads(first)
    Adam(learning_rate=0.1).apply(grads, first)
    optimizer = Adam(learning_rate=0.1)
    assert optimizer.apply_gradients(zip(grads, second)) == 1
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_apply_gradients_accepts_subset_in_any_order():
    variables = make_variables()
    grads = make_grads(variables)
    optimizer = SGD(learning_rate=0.1)
    optimizer.build(variables)
    start = snapshot(variables)
    optimizer.apply_gradients([(grads[2], variables[2]), (grads[0], variables[0])])
    torch.testing.assert_close(variables[0].detach(), start[0] - 0.1 * grads[0])
    torch.testing.assert_close(variables[1].detach(), start[1])
    torch.testing.assert_close(variables[2].detach(), start[2] - 0.1 * grads[2])


def test_none_gradients_skip_their_variables_and_slots():
    variables = make_variables()
    grads = make_grads(variables)
    optimizer = SGD(learning_rate=0.1, momentum=0.9)
    optimizer.apply(grads, variables)
    start = snapshot(variables)
    momentums = [m.clone() for m in optimizer.state_dict()["slots"]["momentum"]]
    optimizer.apply([grads[0], None, grads[2]])
    torch.testing.assert_close(variables[1].detach(), start[1], rtol=0, atol=0)
    slots = optimizer.state_dict()["slots"]["momentum"]
    torch.testing.assert_close(slots[1], momentums[1], rtol=0, atol=0)
    expected = 0.9 * momentums[0] - 0.1 * grads[0]
    torch.testing.assert_close(slots[0], expected)
    torch.testing.assert_close(variables[0].detach(), start[0] + expected)
    with pytest.raises(ValueError, match="No gradients"):
        optimizer.apply([None, None, None])


def test_gradient_with_another_memory_layout_is_handled():
    contiguous, transposed = make_variables(), make_variables()
    grads = make_grads(contiguous)
    other_layout = [g.t().contiguous().t() if g.dim() == 2 else g for g in grads]
    assert not other_layout[0].is_contiguous()
    for _ in range(2):
        Adam(learning_rate=0.1).apply(grads, contiguous)
    optimizer = Adam(learning_rate=0.1)
    for _ in range(2):
        optimizer.apply(other_layout, transposed)
    for a, b in zip(contiguous, transposed):
        torch.testing.assert_close(a, b)


def test_bad_gradients_raise_value_error():
    variables = make_variables()
    optimizer = Adam()
    with pytest.raises(ValueError, match="not built"):
        optimizer.apply(make_grads(variables))
    optimizer.build(variables)
    grads = make_grads(variables)
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*shape \(3, 2\)"):
        optimizer.apply([grads[0].t(), grads[1], grads[2]])
    with pytest.raises(ValueError, match="expected 3 gradients.*received 2"):
        optimizer.apply(grads[:2])
    with pytest.raises(ValueError, match="must be a torch tensor"):
        optimizer.apply([grads[0].numpy(), grads[1], grads[2]])
    with pytest.raises(ValueError, match="Unknown variable"):
        optimizer.apply_gradients([(grads[1], torch.nn.Parameter(torch.zeros(2)))])
    assert optimizer.iterations == 0


def test_bad_variables_raise_value_error():
    with pytest.raises(ValueError, match="floating-point"):
        SGD().build([torch.zeros(3, dtype=torch.int64)])
    variable = torch.nn.Parameter(torch.zeros(3))
    with pytest.raises(ValueError, match="more than once"):
        SGD().build([variable, variable])
    with pytest.raises(ValueError, match="gaps"):
        SGD().build([torch.zeros(4, 6)[:, ::2]])


def test_build_is_idempotent():
    variables = make_variables()
    optimizer = Adam()
    optimizer.build(variables)
    slots = optimizer.state_dict()["slots"]
    optimizer.build(make_variables(seed=3))
    assert len(optimizer.state_dict()["slots"]["momentum"]) == len(slots["momentum"])
    optimizer.apply(make_grads(variables), variables)
    assert optimizer.iterations == 1


def test_variables_lists_iterations_then_slots_in_keras_order():
    variables = make_variables()
    optimizer = Adam()
    optimizer.apply(make_grads(variables), variables)
    state = optimizer.variables
    assert len(state) == 1 + 2 * len(variables)
    assert state[0].item() == 1
    slots = optimizer.state_dict()["slots"]
    torch.testing.assert_close(state[1], slots["momentum"][0])
    torch.testing.assert_close(state[2], slots["velocity"][0])
    torch.testing.assert_close(state[3], slots["momentum"][1])


@pytest.mark.parametrize("make", [
    lambda: SGD(learning_rate=0.1, momentum=0.9),
    lambda: Adam(learning_rate=lambda step: 0.1 / (1 + step), amsgrad=True),
    lambda: kiln.optimizers.AdamW(learning_rate=0.1, weight_decay=0.1),
    lambda: kiln.optimizers.Nadam(learning_rate=0.1),
    lambda: kiln.optimizers.Adamax(learning_rate=0.1),
    lambda: kiln.optimizers.RMSprop(learning_rate=0.1, momentum=0.5, centered=True),
    lambda: kiln.optimizers.Adagrad(learning_rate=0.1),
    lambda: SGD(learning_rate=kiln.optimizers.schedules.OneCycle(0.1, 6), momentum=0.9),
])
def test_state_dict_round_trip_continues_identically(make):
    variables = make_variables()
    grads = [make_grads(variables, seed) for seed in range(5)]
    optimizer = make()
    for step_grads in grads[:3]:
        optimizer.apply(step_grads, variables)
    checkpoint_weights = snapshot(variables)
    state = optimizer.state_dict()
    for step_grads in grads[3:]:
        optimizer.apply(step_grads, variables)

    restored_variables = [torch.nn.Parameter(w.clone()) for w in checkpoint_weights]
    restored = make()
    restored.build(restored_variables)
    restored.load_state_dict(state)
    assert restored.iterations == 3
    for step_grads in grads[3:]:
        restored.apply(step_grads, restored_variables)
    for a, b in zip(variables, restored_variables):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_load_state_dict_before_build_applies_at_build():
    variables = make_variables()
    optimizer = SGD(learning_rate=0.1, momentum=0.5)
    optimizer.apply(make_grads(variables), variables)
    optimizer.learning_rate = 0.05
    state = optimizer.state_dict()
    state["slots"]["momentum"] = [m.numpy() for m in state["slots"]["momentum"]]

    fresh = SGD(learning_rate=0.1, momentum=0.5)
    fresh.load_state_dict(state)
    assert (fresh.iterations, fresh.learning_rate) == (1, 0.05)
    fresh.build(make_variables())
    for got, want in zip(fresh.state_dict()["slots"]["momentum"], state["slots"]["momentum"]):
        np.testing.assert_array_equal(got.numpy(), want)


def test_load_state_dict_rejects_mismatched_state():
    variables = make_variables()
    adam = Adam()
    adam.build(variables)
    sgd = SGD(momentum=0.9)
    sgd.build(variables)
    with pytest.raises(ValueError, match="slots"):
        sgd.load_state_dict(adam.state_dict())
    state = sgd.state_dict()
    state["slots"]["momentum"][0] = torch.zeros(5)
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        sgd.load_state_dict(state)
    with pytest.raises(ValueError, match="iterations"):
        sgd.load_state_dict({"slots": {}})


def test_state_dict_returns_copies():
    variables = make_variables()
    optimizer = SGD(momentum=0.9)
    optimizer.apply(make_grads(variables), variables)
    state = optimizer.state_dict()
    saved = state["slots"]["momentum"][0].clone()
    optimizer.apply(make_grads(variables), variables)
    torch.testing.assert_close(state["slots"]["momentum"][0], saved, rtol=0, atol=0)


def test_variables_of_several_dtypes_are_updated_per_group():
    mixed = make_variables()
    mixed[2] = torch.nn.Parameter(mixed[2].detach().double())
    expected = [torch.nn.Parameter(v.detach().double()) for v in mixed]
    grads = make_grads(mixed)
    Adam(learning_rate=0.1, global_clipnorm=1.0).apply(grads, mixed)
    Adam(learning_rate=0.1, global_clipnorm=1.0).apply([g.double() for g in grads], expected)
    assert [v.dtype for v in mixed] == [torch.float32, torch.float32, torch.float64]
    for got, want in zip(mixed, expected):
        torch.testing.assert_close(got.detach().double(), want.detach(), rtol=1e-5, atol=1e-6)


def test_get_resolves_names_configs_and_instances():
    assert isinstance(kiln.optimizers.get("sgd"), SGD)
    assert isinstance(kiln.optimizers.get("SGD"), SGD)
    assert isinstance(kiln.optimizers.get("Adam"), Adam)
    assert isinstance(kiln.optimizers.get("ADAM"), Adam)
    assert isinstance(kiln.optimizers.get(Adam), Adam)
    instance = SGD(momentum=0.9)
    assert kiln.optimizers.get(instance) is instance
    assert kiln.optimizers.get(None) is None
    adam = kiln.optimizers.get({"class_name": "Adam", "config": {"learning_rate": 0.01}})
    assert isinstance(adam, Adam) and adam.learning_rate == 0.01


def test_schedule_config_round_trip_through_registry():
    @registry.register_serializable(package="tests")
    class HalvingSchedule:
        def __init__(self, initial):
            self.initial = initial

        def __call__(self, step):
            return self.initial * 0.5**step

        def get_config(self):
            return {"initial": self.initial}

    config = Adam(learning_rate=HalvingSchedule(0.2)).get_config()
    assert config["learning_rate"] == {"class_name": "tests>HalvingSchedule",
                                       "config": {"initial": 0.2}}
    clone = Adam.from_config(config)
    clone.iterations = 2
    assert clone.learning_rate == pytest.approx(0.05)


def test_function_schedule_needs_custom_objects():
    def warmup(step):
        return 0.01 * min(step + 1, 10)

    config = SGD(learning_rate=warmup).get_config()
    assert config["learning_rate"] == "warmup"
    with pytest.raises(ValueError,
                       match="Unknown learning-rate schedule: 'warmup'.*custom_objects"):
        SGD.from_config(config)
    assert SGD.from_config(config, custom_objects={"warmup": warmup}).learning_rate == 0.01
