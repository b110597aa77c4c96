"""The optimizer base class that every kiln optimizer extends.

An optimizer binds a list of torch tensors (usually a model's trainable variables), keeps
per-variable slot tensors (momentum, velocity, ...) and updates the variables once per step.
A subclass supplies only what makes it different: the names of its slots, how a slot starts
(zeros unless it says otherwise), its update rule and its config. The base does the rest: the
learning rate (a number, or a schedule evaluated at the current step), gradient clipping,
`iterations`, variable binding, gradients that are None, config and state for saving and exact
resume.

Every update runs under `torch.no_grad()` on whole lists of tensors with torch's multi-tensor
kernels (`torch._fused_*` or `torch._foreach_*`); no update math loops over variables in
Python. Those kernels need one device and one dtype per call, so the variables are split once,
at build time, into `VariableGroup`s (nearly always a single one). torch's fused CPU kernels
also walk their tensors as flat memory without checking shapes or strides, so each step the
base checks, in one cheap pass, that every gradient has its variable's shape and memory layout:
a gradient with the right shape but another layout (e.g. a transposed view returned by
`torch.autograd.grad`) is copied into the variable's layout; a wrong shape raises `ValueError`.
"""

import math

import torch

from kiln.saving import registry


class Optimizer:
    """Base class for kiln optimizers (Keras semantics, PyTorch kernels).

    Args:
        learning_rate: a number >= 0, or a schedule: a callable that takes the step number (an
            int, the number of updates applied so far) and returns that step's learning rate.
            Schedules are called on the host once per step; return a Python float (kiln's
            schedules do): a tensor is read back with `float()`, which waits for the device.
        name: name of the optimizer.
        clipnorm: if set, each gradient is rescaled so that its L2 norm is at most this value.
        clipvalue: if set, each gradient is clipped elementwise to `[-clipvalue, clipvalue]`.
        global_clipnorm: if set, all gradients are rescaled together so that the L2 norm of
            their concatenation is at most this value. Only one of `clipnorm` and
            `global_clipnorm` may be set. Unlike Keras 3, which silently ignores `clipvalue`
            when a norm clip is set, kiln applies the norm clip and then the value clip.
        **kwargs: two Keras 2 arguments: `lr`, the old name of `learning_rate`, and `decay`
            (a number >= 0): the learning rate then decays as `lr / (1 + decay * iterations)`,
            i.e. `learning_rate` becomes `schedules.InverseTimeDecay(lr, 1, decay)`. Any other
            keyword is an error.

    Clipping works in place on the gradient tensors given to `apply`/`apply_gradients`
    (gradients returned by `torch.autograd.grad` are fresh tensors, so nothing else sees it).

    A subclass implements `_slot_names()`, `_update_step(group, grads, learning_rate)` and, when
    it has arguments of its own, `get_config()`; it overrides `_create_slot(name, variable)`
    for slots that do not start at zero. An optimizer with a momentum-like hyperparameter
    names its attribute in `_momentum_attribute`: a schedule with a `momentum(step)` method
    (such as `schedules.OneCycle`) then sets it before each step.

    Example:

    >>> class PlainSGD(kiln.optimizers.Optimizer):
    ...     def __init__(self, learning_rate=0.01, name="PlainSGD", **kwargs):
    ...         super().__init__(learning_rate=learning_rate, name=name, **kwargs)
    ...     def _slot_names(self):
    ...         return ()
    ...     def _update_step(self, group, grads, learning_rate):
    ...         torch._foreach_add_(group.variables, grads, alpha=-learning_rate)
    >>> optimizer = PlainSGD(learning_rate=0.1, clipnorm=1.0)
    >>> optimizer.apply_gradients(zip(grads, model.trainable_variables))
    """

    # Name of the attribute a schedule's `momentum(step)` sets; None: no momentum to cycle.
    _momentum_attribute = None

    def __init__(self, learning_rate, name, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, **kwargs):
        if "lr" in kwargs:
            learning_rate = kwargs.pop("lr")
        decay = kwargs.pop("decay", None)
        if kwargs:
            raise ValueError(
                f"Unknown keyword argument(s) for optimizer {name!r}: "
                f"{', '.join(sorted(kwargs))}."
            )
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError(
                "Only one of `clipnorm` and `global_clipnorm` can be set; received: "
                f"clipnorm={clipnorm!r}, global_clipnorm={global_clipnorm!r}."
            )
        self.name = name
        self.clipnorm = _optional_positive("clipnorm", clipnorm)
        self.clipvalue = _optional_positive("clipvalue", clipvalue)
        self.global_clipnorm = _optional_positive("global_clipnorm", global_clipnorm)
        self.learning_rate = _with_legacy_decay(learning_rate, decay)
        self.iterations = 0
        self.built = False
        self._variables = []
        self._layouts = []
        self._index = {}
        self._slots = {}
        self._groups = []
        self._bound_list = None
        self._pending_slots = None

    @property
    def learning_rate(self):
        """The learning rate of the next step, as a float.

        With a schedule, this is the schedule evaluated at `iterations`. Assigning a number or a
        schedule (also after building, e.g. from a callback) takes effect on the next step.
        """
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):
            self._schedule = value
            self._learning_rate = None
            momentum = getattr(value, "momentum", None)
            self._momentum_schedule = momentum if callable(momentum) else None
        else:
            self._learning_rate = check_float(
                "learning_rate", value, lambda x: 0.0 <= x < math.inf,
                "a finite number >= 0 or a schedule callable(step)")
            self._schedule = None
            self._momentum_schedule = None

    @property
    def variables(self):
        """The optimizer's state as tensors: `iterations` (a 0-dim int64 copy), then each
        variable's slots in build order (Keras order: `m0, v0, m1, v1, ...` for Adam)."""
        slots = [slot for per_variable in zip(*self._slots.values()) for slot in per_variable]
        return [torch.tensor(self.iterations)] + slots

    def build(self, variables):
        """Binds `variables` (a list of torch tensors, e.g. parameters) and creates their slots.

        `apply` and `apply_gradients` build on first use, so calling this is optional. As in
        Keras, a built optimizer ignores further calls; create a new optimizer for other
        variables.

        Args:
            variables: list of floating-point torch tensors, each at most once.
        """
        if self.built:
            return
        variables = list(variables)
        self._check_variables(variables)
        self._variables = variables
        self._layouts = [(variable.shape, variable.stride()) for variable in variables]
        self._index = {id(variable): index for index, variable in enumerate(variables)}
        with torch.no_grad():
            self._slots = {
                name: [self._create_slot(name, variable) for variable in variables]
                for name in self._slot_names()
            }
        self._groups = self._group(range(len(variables)))
        self.built = True
        if self._pending_slots is not None:
            pending, self._pending_slots = self._pending_slots, None
            self._load_slots(pending)

    def rebind(self, variables):
        """Binds a new variable list, e.g. after layers were frozen or unfrozen.

        Variables the optimizer already knew keep their slots (momentum, moment estimates);
        new ones start from fresh slots. `fit` calls this when the trainable weights change,
        so that recompiling after `layer.trainable = ...` is not required.
        """
        if not self.built:
            self.build(variables)
            return
        known = {id(variable): index for index, variable in enumerate(self._variables)}
        previous = self._slots
        self.built = False
        self.build(variables)
        with torch.no_grad():
            for index, variable in enumerate(self._variables):
                old = known.get(id(variable))
                if old is not None:
                    for name, slots in self._slots.items():
                        slots[index].copy_(previous[name][old])

    def apply_gradients(self, grads_and_vars):
        """Applies one update from `(gradient, variable)` pairs, Keras style.

        Builds the optimizer on first use. Pairs whose gradient is None are skipped for this
        step; the variables may be any subset of the built ones, in any order.

        Args:
            grads_and_vars: iterable of `(gradient, variable)` pairs, e.g.
                `zip(grads, model.trainable_variables)`.

        Returns:
            `iterations` after the update.

        Example:

        >>> grads = torch.autograd.grad(loss, model.trainable_variables)
        >>> optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """
        pairs = list(grads_and_vars)
        if not pairs:
            raise ValueError("`grads_and_vars` is empty: expected (gradient, variable) pairs.")
        grads, variables = zip(*pairs)
        return self.apply(grads, variables)

    def apply(self, grads, variables=None):
        """Applies one update: the fast path the training loop calls every step.

        Args:
            grads: list or tuple of gradient tensors aligned with the built variable list. An
                entry may be None (a variable that did not contribute to the loss): that
                variable is skipped for this step.
            variables: optional. On the first call, the variables to build with; later, the
                variables the gradients belong to (the built list itself is the fastest: it is
                recognised by identity; any other sequence is matched variable by variable).

        Returns:
            `iterations` after the update.
        """
        if variables is not None and variables is not self._bound_list:
            grads = self._align(grads, variables)
        elif not self.built or len(grads) != len(self._variables):
            raise self._count_error(grads)
        grads, groups = self._checked_gradients(grads)
        learning_rate = self._learning_rate
        if learning_rate is None:
            learning_rate = self._scheduled_hyperparameters()
        with torch.no_grad():
            self._clip_gradients(grads)
            if len(groups) == 1:
                self._update_step(groups[0], groups[0].in_memory_order(grads), learning_rate)
            else:
                for group in groups:
                    group_grads = [grads[position] for position in group.positions]
                    self._update_step(group, group.in_memory_order(group_grads), learning_rate)
        self.iterations += 1
        return self.iterations

    def get_config(self):
        """Returns the arguments that rebuild this optimizer (JSON-serializable)."""
        if self._schedule is None:
            learning_rate = self._learning_rate
        else:
            learning_rate = registry.serialize_object(self._schedule)
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Creates an optimizer from `get_config()` output.

        Args:
            config: the dict returned by `get_config()`.
            custom_objects: optional mapping of names to schedule classes or functions not
                registered with `kiln.saving.register_serializable`.
        """
        config = dict(config)
        if isinstance(config.get("learning_rate"), (dict, str)):
            config["learning_rate"] = _deserialize_schedule(
                config["learning_rate"], custom_objects)
        return cls(**config)

    def state_dict(self):
        """Returns the optimizer's state as plain numbers and tensors (copies).

        Returns:
            A dict with `"iterations"` (int), `"learning_rate"` (float, or None when a schedule
            sets it) and `"slots"` (slot name -> list of tensors in build order).
        """
        return {
            "iterations": self.iterations,
            "learning_rate": self._learning_rate,
            "slots": {name: [slot.detach().clone() for slot in slots]
                      for name, slots in self._slots.items()},
        }

    def load_state_dict(self, state):
        """Restores a state returned by `state_dict()`, so training continues exactly.

        `iterations` and the learning rate are restored at once; slots are copied into the
        existing slot tensors, or, before the optimizer is built, when it builds.

        Args:
            state: a dict as returned by `state_dict()`; tensors may also be numpy arrays.
        """
        missing = {"iterations", "learning_rate", "slots"} - set(state)
        if missing:
            raise ValueError(
                f"`state` for optimizer {self.name!r} lacks {', '.join(sorted(missing))}; "
                f"received keys: {', '.join(sorted(state))}."
            )
        self.iterations = int(state["iterations"])
        if state["learning_rate"] is not None:
            self.learning_rate = state["learning_rate"]
        if self.built:
            self._load_slots(state["slots"])
        else:
            self._pending_slots = state["slots"]

    def _slot_names(self):
        """Returns the names of the per-variable slots, e.g. `("momentum", "velocity")`."""
        raise NotImplementedError(f"{type(self).__name__} must implement _slot_names().")

    def _create_slot(self, name, variable):
        """Returns the initial tensor of slot `name` for `variable` (zeros by default)."""
        return torch.zeros_like(variable, memory_format=torch.preserve_format)

    def _update_step(self, group, grads, learning_rate):
        """Updates `group.variables` in place from `grads` (same order) at `learning_rate`."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update_step().")

    def _current_learning_rate(self):
        if self._schedule is None:
            return self._learning_rate
        return self._scheduled_learning_rate()

    def _scheduled_learning_rate(self):
        rate = self._schedule(self.iterations)
        if rate.__class__ is not float or not 0.0 <= rate < math.inf:
            rate = self._checked_schedule_value(
                "learning_rate", rate, lambda x: 0.0 <= x < math.inf, "a finite number >= 0",
                self._schedule)
        return rate

    def _scheduled_hyperparameters(self):
        """Returns this step's scheduled learning rate, after applying the scheduled momentum."""
        if self._momentum_schedule is not None and self._momentum_attribute is not None:
            momentum = self._momentum_schedule(self.iterations)
            if momentum.__class__ is not float or not 0.0 <= momentum <= 1.0:
                momentum = self._checked_schedule_value(
                    "momentum", momentum, lambda x: 0.0 <= x <= 1.0, "a number between 0 and 1",
                    self._momentum_schedule)
            setattr(self, self._momentum_attribute, momentum)
        return self._scheduled_learning_rate()

    def _checked_schedule_value(self, argument, value, condition, expected, schedule):
        try:
            return check_float(argument, value, condition, expected)
        except ValueError as error:
            raise ValueError(
                f"{error} (returned by {schedule!r} at step {self.iterations} of optimizer "
                f"{self.name!r})."
            ) from None

    def _clip_gradients(self, grads):
        if self.clipnorm is not None:
            _clip_each_norm_(grads, self.clipnorm)
        elif self.global_clipnorm is not None:
            _clip_global_norm_(grads, self.global_clipnorm)
        if self.clipvalue is not None:
            torch._foreach_clamp_min_(grads, -self.clipvalue)
            torch._foreach_clamp_max_(grads, self.clipvalue)

    def _checked_gradients(self, grads):
        """Returns the gradients and groups for this step; the common case costs one pass."""
        try:
            for grad, (shape, stride) in zip(grads, self._layouts):
                if grad is None or grad.stride() != stride or grad.shape != shape:
                    return self._repaired_gradients(grads)
        except AttributeError:
            return self._repaired_gradients(grads)
        return grads, self._groups

    def _repaired_gradients(self, grads):
        present = []
        dense_grads = []
        for index, (grad, variable) in enumerate(zip(grads, self._variables)):
            if grad is None:
                continue
            if not isinstance(grad, torch.Tensor):
                raise ValueError(
                    f"Gradient {index} for optimizer {self.name!r} must be a torch tensor or "
                    f"None; received: {type(grad).__name__}."
                )
            if grad.shape != variable.shape:
                raise ValueError(
                    f"Gradient {index} for optimizer {self.name!r} has shape "
                    f"{tuple(grad.shape)}, but its variable has shape {tuple(variable.shape)}."
                )
            if grad.stride() != variable.stride():
                grad = torch.empty_like(variable).copy_(grad)
            present.append(index)
            dense_grads.append(grad)
        if not dense_grads:
            raise ValueError(
                f"No gradients provided for any variable of optimizer {self.name!r} "
                "(every gradient is None)."
            )
        if len(present) == len(self._variables):
            return dense_grads, self._groups
        return dense_grads, self._group(present)

    def _align(self, grads, variables):
        """Reorders `grads` to the build order, given the variables they belong to."""
        if len(grads) != len(variables):
            raise ValueError(
                f"Received {len(grads)} gradients for {len(variables)} variables; "
                "expected one gradient per variable."
            )
        if not self.built:
            self.build(variables)
            self._bound_list = variables
            return grads
        if len(variables) == len(self._variables) and all(
                given is built for given, built in zip(variables, self._variables)):
            return grads
        aligned = [None] * len(self._variables)
        for grad, variable in zip(grads, variables):
            index = self._index.get(id(variable))
            if index is None:
                raise ValueError(
                    f"Unknown variable of shape {tuple(variable.shape)}: optimizer "
                    f"{self.name!r} was built for {len(self._variables)} other variables. "
                    "Create a new optimizer for a new set of variables."
                )
            aligned[index] = grad
        return aligned

    def _count_error(self, grads):
        if not self.built:
            return ValueError(
                f"Optimizer {self.name!r} is not built: pass `variables` on the first call to "
                "apply() or call build(variables) first."
            )
        return ValueError(
            f"Optimizer {self.name!r} expected {len(self._variables)} gradients (one per "
            f"variable, in build order); received {len(grads)}."
        )

    def _check_variables(self, variables):
        if not variables:
            raise ValueError(f"Optimizer {self.name!r} received an empty list of variables.")
        seen = set()
        for index, variable in enumerate(variables):
            if not isinstance(variable, torch.Tensor) or not variable.is_floating_point():
                received = (f"a {variable.dtype} tensor" if isinstance(variable, torch.Tensor)
                            else type(variable).__name__)
                raise ValueError(
                    f"Variable {index} for optimizer {self.name!r} must be a floating-point "
                    f"torch tensor; received: {received}."
                )
            if id(variable) in seen:
                raise ValueError(
                    f"Variable {index} for optimizer {self.name!r} appears more than once."
                )
            seen.add(id(variable))
            if torch.empty_like(variable, device="meta").stride() != variable.stride():
                raise ValueError(
                    f"Variable {index} for optimizer {self.name!r} is a strided view with gaps "
                    f"(stride {variable.stride()} for shape {tuple(variable.shape)}); "
                    "optimize a dense tensor instead, e.g. `.contiguous()`."
                )

    def _group(self, indices):
        """Splits the variables at `indices` by (device, dtype); positions index `indices`."""
        members = {}
        for position, index in enumerate(indices):
            variable = self._variables[index]
            members.setdefault((variable.device, variable.dtype), []).append((position, index))
        return [
            VariableGroup(
                [self._variables[index] for _, index in pairs],
                {name: [slots[index] for _, index in pairs] for name, slots in self._slots.items()},
                [position for position, _ in pairs],
            )
            for pairs in members.values()
        ]

    def _load_slots(self, saved):
        if set(saved) != set(self._slots):
            raise ValueError(
                f"Saved state has slots {sorted(saved)}, but optimizer {self.name!r} has slots "
                f"{sorted(self._slots)}."
            )
        for name, slots in self._slots.items():
            tensors = [torch.as_tensor(tensor) for tensor in saved[name]]
            if len(tensors) != len(slots):
                raise ValueError(
                    f"Saved state has {len(tensors)} {name!r} slots; optimizer {self.name!r} "
                    f"has {len(slots)} variables."
                )
            for index, (tensor, slot) in enumerate(zip(tensors, slots)):
                if tensor.shape != slot.shape:
                    raise ValueError(
                        f"Saved {name!r} slot {index} has shape {tuple(tensor.shape)}; the "
                        f"variable has shape {tuple(slot.shape)}."
                    )
            with torch.no_grad():
                for tensor, slot in zip(tensors, slots):
                    slot.copy_(tensor)


class VariableGroup:
    """Variables that share one device and dtype, with their slots: one multi-tensor call.

    A variable stored with its axes in another memory order (a convolution kernel keeps Keras'
    shape but torch's layout) is seen here through a view with its axes permuted into memory
    order: the same memory, contiguous. torch's fused kernels copy non-contiguous tensors in and
    out (5x slower on a ResNet's kernels), and every update here is elementwise, so the views
    change nothing else. Slots share their variable's layout, and `apply` has checked that each
    gradient does too, so `in_memory_order` turns them into contiguous views the same way.

    Args:
        variables: list of variables.
        slots: dict of slot name -> list of slot tensors aligned with `variables`.
        positions: index of each variable's gradient in the list the step received.
    """

    __slots__ = ("variables", "slots", "positions", "_orders", "_steps")

    def __init__(self, variables, slots, positions):
        orders = [_memory_order(variable) for variable in variables]
        self._orders = orders if any(order is not None for order in orders) else None
        self.variables = self.in_memory_order(variables)
        self.slots = {name: self.in_memory_order(tensors) for name, tensors in slots.items()}
        self.positions = positions
        self._steps = {}

    def in_memory_order(self, tensors):
        """`tensors` (aligned with the variables, in their layouts) as contiguous views."""
        if self._orders is None:
            return tensors
        return [tensor if order is None else tensor.permute(order)
                for tensor, order in zip(tensors, self._orders)]

    def constant_steps(self, value):
        """Returns a list (one per variable) of the same 0-dim float32 tensor holding `value`.

        It is what torch's fused kernels take as `state_steps`, on the group's device. With
        `value=math.inf` their built-in bias correction vanishes (`beta ** inf == 0`), so an
        optimizer can apply its own correction through the learning rate it passes.
        """
        steps = self._steps.get(value)
        if steps is None:
            step = torch.full((), value, dtype=torch.float32, device=self.variables[0].device)
            steps = self._steps[value] = [step] * len(self.variables)
        return steps


def _memory_order(tensor):
    """The axes of a dense `tensor` from the largest stride to the smallest, or None when that
    is already their order (a contiguous tensor)."""
    if tensor.is_contiguous():
        return None
    return tuple(sorted(range(tensor.ndim), key=lambda axis: -tensor.stride(axis)))


def check_float(argument, value, condition, expected):
    """Returns `value` as a float if `condition(float)` holds, else raises a `ValueError`.

    Args:
        argument: the argument's name, for the message.
        value: the value received (a Python or numpy number or a one-element tensor).
        condition: predicate on the float value.
        expected: what a valid value is, e.g. `"a number between 0 and 1"`.
    """
    number = None
    if not isinstance(value, (bool, str, bytes)):
        try:
            number = float(value)
        except (TypeError, ValueError, RuntimeError):
            number = None
    if number is None or not condition(number):
        raise ValueError(
            f"Argument `{argument}` must be {expected}; received: {argument}={value!r}")
    return number


def _optional_positive(argument, value):
    if value is None:
        return None
    return check_float(argument, value, lambda x: 0.0 < x < math.inf, "None or a number > 0")


def _clip_each_norm_(grads, clipnorm):
    """Scales each gradient in place by `clipnorm / max(norm, clipnorm)` (Keras clip_by_norm)."""
    norms = torch._foreach_norm(grads)
    torch._foreach_clamp_min_(norms, clipnorm)
    torch._foreach_div_(grads, norms)
    torch._foreach_mul_(grads, clipnorm)


def _clip_global_norm_(grads, clipnorm):
    """Scales all gradients in place by `clipnorm / max(global_norm, clipnorm)`."""
    global_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, global_norm.clamp_min_(clipnorm).reciprocal_().mul_(clipnorm))


def _with_legacy_decay(learning_rate, decay):
    """Applies Keras 2's `decay=` argument: `learning_rate / (1 + decay * iterations)`."""
    if decay is None:
        return learning_rate
    decay = check_float("decay", decay, lambda x: 0.0 <= x < math.inf, "a finite number >= 0")
    if decay == 0.0:
        return learning_rate
    if callable(learning_rate):
        raise ValueError(
            f"Argument `decay` needs a number as `learning_rate`; received decay={decay!r} with "
            f"the schedule learning_rate={learning_rate!r}. Pass a single schedule instead.")
    from kiln.optimizers.schedules import InverseTimeDecay  # schedules imports this module

    return InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)


def _deserialize_schedule(serialized, custom_objects):
    from kiln.optimizers import schedules  # schedules imports this module

    return schedules.deserialize(serialized, custom_objects)
