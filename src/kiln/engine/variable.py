"""`Variable`: a layer weight, i.e. a `torch.nn.Parameter` that also speaks Keras' variable API."""

import numpy as np
import torch


class Variable(torch.nn.Parameter):
    """A layer weight: a torch Parameter with a Keras name, path and `trainable` flag.

    It is a plain Parameter for torch (optimizers, `state_dict`, `torch.compile` see nothing
    else), and offers what Keras code reads and calls: `name` (``"kernel"``), `path`
    (``"dense/kernel"``), `trainable`, `numpy()`, `assign()`, `assign_add()`, `assign_sub()`.

    `trainable` is the weight's own flag (False for statistics such as a moving mean); the
    weight receives gradients only when it and its layer are trainable.

    Example:

    >>> [(var.name, var.trainable) for var in model.layers[1].variables]
    [('gamma', True), ('beta', True), ('moving_mean', False), ('moving_variance', False)]
    """

    def __new__(cls, data, trainable=True, name=None, path=None):
        variable = super().__new__(cls, data, requires_grad=bool(trainable))
        variable._trainable = bool(trainable)
        variable._name = name
        variable._path = path or name
        return variable

    @property
    def name(self):
        return self._name

    @property
    def path(self):
        return self._path

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        self.requires_grad_(self._trainable)

    def numpy(self, *, force=False):
        """Returns the value as a numpy array (detached from autograd; `force` is accepted
        for torch's signature and always implied)."""
        return self.detach().cpu().numpy()

    def assign(self, value):
        """Sets the value in place (shapes must match) and returns the variable."""
        with torch.no_grad():
            self.copy_(torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor)
                                       else value, dtype=self.dtype))
        return self

    def assign_add(self, delta):
        """Adds `delta` in place and returns the variable."""
        with torch.no_grad():
            self.add_(torch.as_tensor(delta, dtype=self.dtype, device=self.device))
        return self

    def assign_sub(self, delta):
        """Subtracts `delta` in place and returns the variable."""
        with torch.no_grad():
            self.sub_(torch.as_tensor(delta, dtype=self.dtype, device=self.device))
        return self

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            copy = Variable(self.data.clone(memory_format=torch.preserve_format),
                            self._trainable, self._name, self._path)
            copy.requires_grad_(self.requires_grad)
            memo[id(self)] = copy
        return memo[id(self)]

    def __reduce_ex__(self, protocol):
        return (_rebuild_variable, (self.data, self._trainable, self._name, self._path,
                                    self.requires_grad))

    def __repr__(self):
        dtype = str(self.dtype).replace("torch.", "")
        return f"<Variable path={self._path}, shape={tuple(self.shape)}, dtype={dtype}>"


def _rebuild_variable(data, trainable, name, path, requires_grad):
    variable = Variable(data, trainable, name, path)
    variable.requires_grad_(requires_grad)
    return variable


def is_trainable(weight):
    """A weight's own trainable flag (True for plain torch parameters)."""
    return getattr(weight, "trainable", True) if isinstance(weight, Variable) else True
