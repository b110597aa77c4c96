"""`compile`, `fit`, `evaluate` and `predict`: the training loop, mixed into `kiln.Model`.

The step is the hot path and is kept as short as a careful hand-written PyTorch loop: gradients
come from `torch.autograd.grad` over a parameter list cached once per `fit`, the optimizer
updates all weights with multi-tensor kernels, losses and metrics accumulate in tensors and are
read only when the progress bar redraws or an epoch ends, and callbacks are called per batch
only when they override a batch hook.
"""

import warnings

import numpy as np
import torch

from kiln import optimizers as optimizers_module
from kiln.callbacks import CallbackList
from kiln.engine import data_adapter, tree
from kiln.engine.layer import added_losses, has_added_losses
from kiln.engine.threads import thread_count, threads_for
from kiln.utils.random import get_random_state
from kiln.engine.compile_utils import CompiledLoss, CompiledMetrics

class Trainer:
    """The Keras training API of `kiln.Model`."""

    def _init_trainer(self):
        self.optimizer = None
        self.compiled_loss = None
        self.compiled_metrics = None
        self.stop_training = False
        self.history = None
        self._jit_compile = False
        self._step_parameters = None
        self._weight_penalties = []
        self._constraints = None
        self._compiled_forward = None
        self._prepared_signature = None
        self._expand_targets = False
        self._threads = None  # intra-op threads for this model's work (None: torch's setting)
        self._resume_point = None
        self._epoch_random_state = None
        self._epoch_data_iteration = None
        self._callbacks = None
        self._train_data = None

    # ------------------------------------------------------------------ compile

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, jit_compile=False, steps_per_execution=1):
        """Configures the model for training.

        Args:
            optimizer: name (``"sgd"``, ``"adam"``, ...) or optimizer instance.
            loss: name, function or `kiln.losses.Loss`; a list or dict (by output name) gives
                one loss per output.
            metrics: list of metrics (names, functions or `kiln.metrics.Metric`) for every
                output, or a list / dict of lists per output. ``"accuracy"`` picks binary,
                categorical or sparse categorical accuracy from the loss and shapes, as Keras.
            loss_weights: list or dict of floats weighting the outputs' losses.
            weighted_metrics: metrics that take `sample_weight` / `class_weight` into account.
            jit_compile: True runs the model through `torch.compile` (slow to start, faster
                for large models).
            steps_per_execution: accepted for compatibility; kiln's loop has no per-step
                dispatch cost to amortize, so it must be 1.

        Example:

        >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
        ...               metrics=["accuracy"])
        """
        if steps_per_execution != 1:
            raise ValueError(f"`steps_per_execution` must be 1, but received: {steps_per_execution}.")
        self.optimizer = optimizers_module.get(optimizer)
        self.compiled_loss = CompiledLoss(loss, loss_weights)
        self.compiled_metrics = CompiledMetrics(metrics, weighted_metrics)
        if self._declared_output_names() is not None:
            self.compiled_loss.build(self._declared_output_names())
        self.loss = loss
        self._jit_compile = bool(jit_compile)
        self._compiled_forward = None
        self._step_parameters = None
        self._prepared_signature = None

    @property
    def metrics(self):
        """The loss trackers and metrics of the compiled model, in `metrics_names` order."""
        if self.compiled_loss is None:
            return []
        return self.compiled_loss.trackers() + self.compiled_metrics.metrics

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    # ------------------------------------------------------------------ steps (overridable)

    def train_step(self, data):
        """One optimization step on a batch `(x, y, sample_weight)`; returns None or logs.

        Override it to customize training (as in Keras); `fit` shows whatever dict it returns.
        """
        x, y, sample_weight = data_adapter.unpack(data)
        loss, y_true, y_pred = self._loss_and_outputs(x, y, sample_weight, training=True)
        grads = torch.autograd.grad(loss, self._step_parameters, allow_unused=True)
        self.optimizer.apply(grads)
        if self._constraints:
            _apply_constraints(self._constraints)
        self.compiled_metrics.update_state(y_true, y_pred, sample_weight)

    def test_step(self, data):
        """Computes the loss and metrics on a batch `(x, y[, sample_weight])`."""
        x, y, sample_weight = data_adapter.unpack(data)
        _, y_true, y_pred = self._loss_and_outputs(x, y, sample_weight, training=False)
        self.compiled_metrics.update_state(y_true, y_pred, sample_weight)

    def predict_step(self, data):
        """Returns the model's outputs on a batch `(x,)` (targets, if any, are ignored)."""
        return self._forward(data_adapter.unpack(data)[0], False)

    def _loss_and_outputs(self, x, y, sample_weight, training):
        """Runs the model on a batch; returns the total loss (tracked) and the paired outputs."""
        y_true, y_pred = self._as_output_lists(y, self._forward(x, training))
        penalties = self._regularization_losses()
        loss = self.compiled_loss(y_true, y_pred, sample_weight, penalties or None)
        return loss, y_true, y_pred

    def _regularization_losses(self):
        """Weight penalties (collected once per fit) plus the losses layers added in this call."""
        penalties = [regularize(getattr(layer, name))
                     for layer, name, regularize in self._weight_penalties]
        return penalties + added_losses() if has_added_losses() else penalties

    # ------------------------------------------------------------------ fit

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains the model for a number of epochs.

        Args:
            x: inputs: an array or tensor, a list / tuple of them (several inputs), a dict keyed
                by input name, pandas objects, or an iterable of `(x, y[, sample_weight])`
                batches (a `kiln.data.Dataset`, a torch `DataLoader`).
            y: targets, shaped like the outputs (None when `x` yields them).
            batch_size: samples per step for arrays (default 32).
            epochs: index of the last epoch to run.
            verbose: 0 silent, 1 progress bar, 2 one line per epoch; "auto" is 1.
            callbacks: list of `kiln.callbacks.Callback`.
            validation_split: fraction of the array data (taken from the end) held out.
            validation_data: `(x_val, y_val)`, `(x_val, y_val, w_val)` or an iterable.
            shuffle: reshuffle array data every epoch.
            class_weight: dict mapping class index to a weight for the loss.
            sample_weight: per-sample weights for the loss.
            initial_epoch: epoch to start from (to resume a previous run).
            steps_per_epoch: batches per epoch (default: the whole data).
            validation_steps, validation_batch_size, validation_freq: as in Keras.

        Returns:
            A `History`: `history.history` maps each metric name to its per-epoch values.

        Unlike Keras, `fit` honours changes of `layer.trainable` made since `compile` (frozen
        weights get no updates, unfrozen ones train, with fresh optimizer slots); recompiling,
        as the book does after freezing layers, works too.
        """
        self._check_compiled("fit")
        _check_int("epochs", epochs, minimum=0)
        _check_int("initial_epoch", initial_epoch, minimum=0)
        verbose = _check_verbose(verbose)
        if validation_split and validation_data is not None:
            validation_split = 0.0  # Keras: validation_data takes precedence
        train_data = data_adapter.adapt(x, y, sample_weight, batch_size, steps_per_epoch,
                                        class_weight)
        val_data = None
        if validation_split:
            if not isinstance(train_data, data_adapter.ArrayData):
                raise ValueError("`validation_split` is only supported for array data; pass "
                                 "`validation_data` with a dataset.")
            train_data, val_data = train_data.split(validation_split)
        elif validation_data is not None:
            val_data = _adapt_validation(validation_data, validation_batch_size or batch_size,
                                         validation_steps)
        train_data = self._prepare_for(train_data, training=True)
        if val_data is not None:
            val_data = val_data.to(_device_of(self))
            self._check_data(val_data.first_batch(), "validation_data", _full_targets(val_data))
            if self._expand_targets:
                val_data = val_data.with_expanded_targets()

        callbacks = _callback_list(callbacks, self, verbose, epochs, train_data.steps)
        self._callbacks, self._train_data = callbacks, train_data
        self.stop_training = False
        logs = {}
        with thread_count(self._threads):
            try:
                callbacks.on_train_begin()
                resume, self._resume_point = self._resume_point, None  # set by BackupAndRestore
                first_epoch = initial_epoch if resume is None else resume.epoch
                for epoch in range(first_epoch, epochs):
                    self._reset_metrics()
                    callbacks.on_epoch_begin(epoch)
                    self.train(True)
                    train_data.open_next_epoch = epoch + 1 < epochs
                    logs = self._run_epoch(train_data, callbacks, shuffle, epoch,
                                           resume if epoch == first_epoch else None)
                    self.train(False)
                    if val_data is not None and (epoch + 1) % validation_freq == 0:
                        val_data.open_next_epoch = epoch + 1 + validation_freq <= epochs
                        val_logs = self._evaluate_data(val_data, callbacks)
                        logs.update({f"val_{name}": value for name, value in val_logs.items()})
                    callbacks.on_epoch_end(epoch, logs)
                    if self.stop_training:
                        break
                callbacks.on_train_end(logs)
            except BaseException:  # an error or Ctrl-C: let callbacks close files and threads
                self.train(False)
                for callback in callbacks:
                    callback.on_train_abort()
                raise
        return self.history

    def _run_epoch(self, data, callbacks, shuffle, epoch, resume=None):
        train_step = self.train_step
        step_logs = None
        logs_reader = self._logs_reader(lambda: step_logs)
        # On the CPU reading the running loss costs a microsecond: check it every step; on an
        # accelerator that would wait for the device, so check it once per epoch.
        loss_total = self.compiled_loss.total_tracker
        check_each_step = _device_of(self).type == "cpu"
        if resume is not None:
            resume.restore_epoch_start(data)
        # What BackupAndRestore saves mid-epoch: the generators and the dataset iteration that
        # fix this epoch's data order.
        self._epoch_random_state = get_random_state()
        self._epoch_data_iteration = getattr(data, "next_iteration", None)
        batches = data.batches(shuffle=shuffle)
        first_step = resume.steps_done if resume is not None else 0
        if first_step:
            for _ in zip(range(first_step), batches):  # replay the order; skip the steps done
                pass
            resume.restore_step(self)
        step = -1
        for step, batch in enumerate(batches, first_step):
            callbacks.on_train_batch_begin(step)
            step_logs = train_step(batch)
            callbacks.on_train_batch_end(step, logs_reader)
            if check_each_step and loss_total.is_nan():
                self._stop_on_nan(epoch, f"step {step + 1}")
            if self.stop_training:
                break
        if step < 0:
            raise ValueError(f"The training data yielded no batch in epoch {epoch + 1}.")
        if not check_each_step and loss_total.is_nan():
            self._stop_on_nan(epoch, "one of its steps")
        return logs_reader()

    def _stop_on_nan(self, epoch, where):
        self.stop_training = True
        warnings.warn(f"The loss became NaN in epoch {epoch + 1}, {where}: training stopped. "
                      "Lower the learning rate, look for NaN in the data, or clip the gradients "
                      "(e.g. an optimizer with clipnorm=1.0).", RuntimeWarning, stacklevel=3)

    def _logs_reader(self, custom_logs):
        """A function returning the current logs as floats (read only when asked for)."""
        def read():
            custom = custom_logs()
            if custom is not None:
                return {name: _to_float(value) for name, value in custom.items()}
            return {m.name: _to_float(m.result()) for m in self.metrics}
        return read

    # ------------------------------------------------------------------ evaluate and predict

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Returns the loss and metrics of the model on the given data.

        Returns:
            The loss as a float when there are no metrics, else the list
            `[loss, *output losses, *metrics]` in `model.metrics_names` order; a dict with
            `return_dict=True`.
        """
        self._check_compiled("evaluate")
        verbose = _check_verbose(verbose)
        data = data_adapter.adapt(x, y, sample_weight, batch_size, steps)
        data = self._prepare_for(data, training=False)
        callbacks = _callback_list(callbacks, self, verbose, 1, data.steps)
        self._reset_metrics()
        with thread_count(self._threads):
            logs = self._evaluate_data(data, callbacks)
        return _logs_result(logs, return_dict)

    def _evaluate_data(self, data, callbacks):
        self._reset_metrics()
        self.train(False)
        test_step = self.test_step
        callbacks.on_test_begin()
        step_logs = None
        logs_reader = self._logs_reader(lambda: step_logs)
        with torch.no_grad():
            for step, batch in enumerate(data.batches()):
                callbacks.on_test_batch_begin(step)
                step_logs = test_step(batch)
                callbacks.on_test_batch_end(step, logs_reader)
        logs = logs_reader()
        callbacks.on_test_end(logs)
        return logs

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Returns the model's predictions as numpy arrays (a list for several outputs)."""
        verbose = _check_verbose(verbose)
        data = data_adapter.adapt(x, None, None, batch_size, steps)
        data = self._prepare_for(data, training=False, needs_targets=False)
        callbacks = _callback_list(callbacks, self, verbose, 1, data.steps)
        self.train(False)
        chunks = []
        callbacks.on_predict_begin()
        with thread_count(self._threads), torch.no_grad():
            for step, batch in enumerate(data.batches()):
                callbacks.on_predict_batch_begin(step)
                outputs = self.predict_step(batch)
                chunks.append(outputs)
                callbacks.on_predict_batch_end(step, {"outputs": outputs})
        callbacks.on_predict_end()
        return _concat_outputs(chunks)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """Runs one training step on one batch and returns its loss and metrics."""
        self._check_compiled("train_on_batch")
        data = data_adapter.adapt(x, y, sample_weight, None, None, class_weight)
        data = self._prepare_for(data, training=True)
        self._reset_metrics()
        self.train(True)
        try:
            custom = self.train_step(data_adapter.pack(data.x, data.y, data.sample_weight))
        finally:
            self.train(False)
        return _logs_result(self._logs_reader(lambda: custom)(), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Computes the loss and metrics on one batch."""
        self._check_compiled("test_on_batch")
        data = data_adapter.adapt(x, y, sample_weight, None, None)
        data = self._prepare_for(data, training=False)
        self._reset_metrics()
        self.train(False)
        with torch.no_grad():
            custom = self.test_step(data_adapter.pack(data.x, data.y, data.sample_weight))
        return _logs_result(self._logs_reader(lambda: custom)(), return_dict)

    def predict_on_batch(self, x):
        """Returns the predictions for one batch as numpy arrays."""
        data = data_adapter.adapt(x, None, None, None, None)
        data = self._prepare_for(data, training=False, needs_targets=False)
        self.train(False)
        with torch.no_grad():
            return _concat_outputs([self.predict_step((data.x,))])

    # ------------------------------------------------------------------ preparation

    def _forward(self, x, training):
        if self._compiled_forward is not None:
            return self._compiled_forward(x, training=training)
        return self(x, training=training)

    def _prepare_for(self, data, training, needs_targets=True):
        """Builds the model on a first batch and checks the data, before any step runs.

        Returns the data placed on the model's device (that of its weights, or the CPU).
        """
        device = _device_of(self)
        batch = data_adapter.to_device(data.first_batch(), device)
        signature = (_signature(batch), training, needs_targets, self.compiled_loss is not None)
        if signature != self._prepared_signature:  # train_on_batch in a loop prepares once
            x = data_adapter.unpack(batch)[0]
            self._check_inputs(x)
            if not self.built:
                with torch.no_grad():
                    self(x, training=False)
            if needs_targets:
                self._check_data(batch, "y", _full_targets(data))
            if device.type == "cpu":
                self._threads = threads_for(self, x)
            self._prepared_signature = signature
        if training:
            self._collect_step_parameters()
        self._weight_penalties = [(layer, name, regularize) for layer in self.modules()
                                  for name, regularize in
                                  getattr(layer, "_weight_regularizers", {}).items()]
        if self._jit_compile and self._compiled_forward is None:
            # Kept out of the module tree: the compiled wrapper holds this model.
            object.__setattr__(self, "_compiled_forward", torch.compile(self))
        if needs_targets and self._expand_targets:
            data = data.with_expanded_targets()
        return data.to(device)

    def _check_data(self, batch, argument, full_targets=None):
        """Checks the targets against the outputs (labels over all of `full_targets` when
        given, else over the batch), and builds the losses and metrics."""
        x, y, _ = data_adapter.unpack(batch)
        if y is None:
            raise ValueError(f"No targets given: pass `y` (or yield `(x, y)` batches) to train "
                             f"or evaluate model {self.name!r}.")
        with torch.no_grad():
            y_pred = self(x, training=False)
        if not self.compiled_loss.built:
            count = 1 if isinstance(y_pred, torch.Tensor) else len(y_pred)
            names = list(y_pred) if isinstance(y_pred, dict) else [
                f"output_{i + 1}" for i in range(count)]
            self.compiled_loss.build(names)
        y_true, y_pred = self._as_output_lists(y, y_pred, argument)
        labels = y_true if full_targets is None else self._as_output_lists(
            full_targets, y_pred, argument)[0]
        for loss, truth, pred, name in zip(self.compiled_loss.losses, labels, y_pred,
                                           self.compiled_loss.output_names):
            _check_sparse_labels(loss, truth, pred, name, argument)
        if not self.compiled_metrics.built:
            self.compiled_metrics.build(y_true, y_pred, self.compiled_loss.output_names,
                                        self.compiled_loss.losses)
        # A 1-D target for a (batch, 1) output is reshaped once, not by the loss every step.
        self._expand_targets = (len(y_pred) == 1 and y_true[0].ndim == y_pred[0].ndim - 1
                                and y_pred[0].shape[-1] == 1)

    def _collect_step_parameters(self):
        parameters = [p for p in self.parameters() if p.requires_grad]
        if not parameters:
            raise ValueError(f"Model {self.name!r} has no trainable weights to train.")
        if self._step_parameters is None or len(parameters) != len(self._step_parameters) or any(
                a is not b for a, b in zip(parameters, self._step_parameters)):
            self._step_parameters = parameters
            self.optimizer.rebind(parameters)
        self._constraints = [(p, c) for layer in self.modules()
                             for name, c in getattr(layer, "_weight_constraints", {}).items()
                             for p in [getattr(layer, name)]]

    def _as_output_lists(self, y, y_pred, argument="y"):
        """Pairs the targets with the outputs: two lists of the same length."""
        if isinstance(y_pred, torch.Tensor):
            if isinstance(y, (list, tuple)) and len(y) == 1:
                y = y[0]
            if not isinstance(y, torch.Tensor):
                raise ValueError(f"Model {self.name!r} has 1 output, but `{argument}` has "
                                 f"{len(y)} arrays.")
            return [y], [y_pred]
        y_pred = list(y_pred.values()) if isinstance(y_pred, dict) else list(y_pred)
        names = self.compiled_loss.output_names
        if isinstance(y, dict):
            missing = [n for n in names if n not in y]
            if missing:
                raise ValueError(f"`{argument}` is missing targets for outputs {missing}; the "
                                 f"model's outputs are {names}.")
            y = [y[n] for n in names]
        elif isinstance(y, torch.Tensor):
            y = [y]
        if len(y) != len(y_pred):
            raise ValueError(f"Model {self.name!r} has {len(y_pred)} outputs, but `{argument}` "
                             f"has {len(y)} arrays.")
        return list(y), y_pred

    def _check_compiled(self, method):
        if self.compiled_loss is None:
            raise RuntimeError(f"You must call compile() on model {self.name!r} before {method}().")

    def _reset_metrics(self):
        self.compiled_loss.reset_state()
        self.compiled_metrics.reset_state()


def _device_of(model):
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _apply_constraints(constraints):
    with torch.no_grad():
        for parameter, constraint in constraints:
            parameter.copy_(constraint(parameter))


def _check_sparse_labels(loss, y_true, y_pred, output_name, argument):
    name = getattr(loss, "name", "") or ""
    fn = getattr(loss, "fn", None)
    if "sparse_categorical_crossentropy" not in (name, getattr(fn, "__name__", "")):
        return
    if y_true.is_floating_point() and bool((y_true != y_true.round()).any()):
        raise ValueError(f"sparse_categorical_crossentropy expects integer class indices in "
                         f"`{argument}` for output {output_name!r}, but received non-integer "
                         "values. Use categorical_crossentropy for one-hot targets.")
    classes = y_pred.shape[-1]
    low, high = int(y_true.min()), int(y_true.max())
    if low < 0 or high >= classes:
        raise ValueError(f"Received a label value of {high if high >= classes else low} in "
                         f"`{argument}`, which is outside the valid range of [0, {classes}) for "
                         f"output {output_name!r} with {classes} units.")


def _adapt_validation(validation_data, batch_size, steps):
    if not isinstance(validation_data, (tuple, list)):
        return data_adapter.adapt(validation_data, steps=steps)  # a dataset of batches
    if len(validation_data) not in (2, 3):
        raise ValueError("`validation_data` must be (x_val, y_val) or (x_val, y_val, "
                         f"sample_weight_val), but received a sequence of {len(validation_data)}.")
    return data_adapter.adapt(*validation_data, batch_size=batch_size, steps=steps)


def _full_targets(data):
    """All the targets of in-memory data (to check every label once), or None."""
    return data.y if isinstance(data, data_adapter.ArrayData) else None


def _signature(batch):
    return tuple((tuple(t.shape), t.dtype) if isinstance(t, torch.Tensor) else type(t)
                 for t in tree.flatten(batch))


def _logs_result(logs, return_dict):
    """What evaluate and the *_on_batch methods return: the dict, or its values (one: a float)."""
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _callback_list(callbacks, model, verbose, epochs, steps):
    if isinstance(callbacks, CallbackList):
        callbacks.set_model(model)
        return callbacks
    return CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                        verbose=verbose, epochs=epochs, steps=steps)


def _check_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto', but received: {verbose!r}.")
    return int(verbose)


def _check_int(name, value, minimum):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, but received: {value!r}.")


def _to_float(value):
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def _concat_outputs(chunks):
    if not chunks:
        raise ValueError("predict() received no data.")
    first = chunks[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(chunks).cpu().numpy()
    if isinstance(first, dict):
        return {k: torch.cat([c[k] for c in chunks]).cpu().numpy() for k in first}
    return [torch.cat([c[i] for c in chunks]).cpu().numpy() for i in range(len(first))]

