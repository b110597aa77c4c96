"""BackupAndRestore: resume an interrupted `fit` exactly where it stopped.

A backup is one model file (written atomically, so a crash mid-write keeps the previous one)
holding the weights and optimizer state, plus the training state: the epoch and the number of
steps done in it, the random generators at the start of the epoch and now, the running
metrics, and the state of the other callbacks (History, EarlyStopping, ModelCheckpoint,
ReduceLROnPlateau, ...). Running the same script again after a crash (even SIGKILL in the
middle of an epoch) replays the epoch's data order, skips the steps already done and
continues: with `kiln.utils.set_random_seed`, the final weights equal those of a run that was
never interrupted. This holds for in-memory arrays and for `kiln.data` pipelines (whose shuffle
order is fixed by the iteration number, which the backup records); for other iterables the
skipped batches are read again, which is exact when the iterable is deterministic.
"""

import json
import os

import torch

from kiln.callbacks.base import Callback
from kiln.saving import saving_lib, weights
from kiln.saving.registry import is_plain
from kiln.utils.random import get_random_state, set_random_state

_STATE_MEMBER = "training_state.json"
_TENSORS_MEMBER = "training_state.safetensors"
_SKIPPED_CALLBACKS = ("ProgbarLogger",)


class BackupAndRestore(Callback):
    """Backs up the whole training state, and resumes from the backup when `fit` starts again.

    Args:
        backup_dir: folder of the backup (created if missing); use one folder per run.
        save_freq: ``"epoch"`` (at the start of every epoch, i.e. after the previous one
            ended, its callbacks included) or an integer N (also every N steps).
        delete_checkpoint: delete the backup when training ends normally.

    Example:

    >>> backup_cb = kiln.callbacks.BackupAndRestore("backup", save_freq=100)
    >>> model.fit(X_train, y_train, epochs=10, callbacks=[backup_cb])  # re-run after a crash
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore needs a `backup_dir`.")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError(f"`save_freq` must be 'epoch' or a positive integer, but received: "
                             f"{save_freq!r}.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self._epoch = 0
        self._pending_callback_state = None
        if save_freq != "epoch":  # only then a batch hook, so fit calls nothing per step else
            self.on_train_batch_end = self._backup_every_n_steps

    @property
    def backup_path(self):
        return os.path.join(self.backup_dir, "backup.kiln")

    def on_train_begin(self, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        if not os.path.exists(self.backup_path):
            return
        members = saving_lib.restore_into(self.model, self.backup_path)
        state = json.loads(members[_STATE_MEMBER])
        tensors, _ = weights.decode(members[_TENSORS_MEMBER], f"{self.backup_path}:tensors")
        self.model._resume_point = ResumePoint(state, tensors)
        self._pending_callback_state = (state["callbacks"], tensors)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self._pending_callback_state is not None:  # after the siblings' on_train_begin
            states, tensors = self._pending_callback_state
            _load_callback_states(self._siblings(), states, tensors)
            self._pending_callback_state = None
            return
        data = getattr(self.model, "_train_data", None)
        self._backup(epoch, steps_done=0, epoch_random_state=None,
                     data_iteration=getattr(data, "next_iteration", None))

    def _backup_every_n_steps(self, batch, logs=None):
        if (batch + 1) % self.save_freq == 0:
            self._backup(self._epoch, steps_done=batch + 1,
                         epoch_random_state=self.model._epoch_random_state,
                         data_iteration=self.model._epoch_data_iteration)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_path):
            os.remove(self.backup_path)

    def _siblings(self):
        callbacks = getattr(self.model, "_callbacks", None) or []
        return [c for c in callbacks if c is not self]

    def _backup(self, epoch, steps_done, epoch_random_state, data_iteration):
        tensors = {}
        random_state = get_random_state()
        state = {
            "epoch": epoch,
            "steps_done": steps_done,
            "data_iteration": data_iteration,
            "epoch_random_state": epoch_random_state or random_state,
            "random_state": random_state,
            "metrics": _object_states(self.model.metrics, "metric", tensors),
            "callbacks": _object_states(self._siblings(), "callback", tensors),
        }
        saving_lib.save_model(self.model, self.backup_path, extra_members={
            _STATE_MEMBER: json.dumps(state).encode(),
            _TENSORS_MEMBER: weights.encode(tensors),
        })


class ResumePoint:
    """Where an interrupted `fit` resumes: read by the training loop, set by BackupAndRestore.

    Attributes:
        epoch: the epoch to resume.
        steps_done: the steps of that epoch already done (to skip).
    """

    def __init__(self, state, tensors):
        self.epoch = state["epoch"]
        self.steps_done = state["steps_done"]
        self._state = state
        self._tensors = tensors

    def restore_epoch_start(self, data):
        """Puts the generators (and a `kiln.data.Dataset`'s iteration number) back as they were
        when the epoch drew its data order."""
        set_random_state(self._state["epoch_random_state"])
        if hasattr(data, "resume_iteration"):
            data.resume_iteration(self._state.get("data_iteration"))

    def restore_step(self, model):
        """Puts the generators and running metrics back as they were after `steps_done`."""
        set_random_state(self._state["random_state"])
        for index, (metric, state) in enumerate(zip(model.metrics, self._state["metrics"])):
            _load_state(metric, state, self._tensors, f"metric/{index}")


def _object_states(objects, prefix, tensors):
    """The plain-value and tensor attributes of each object (tensors go into `tensors`)."""
    states = []
    for index, obj in enumerate(objects):
        if type(obj).__name__ in _SKIPPED_CALLBACKS:
            states.append({"class": type(obj).__name__, "values": {}, "tensors": []})
            continue
        values, names = {}, []
        for name, value in vars(obj).items():
            if name in ("model", "params") or callable(value):
                continue
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}/{index}/{name}"] = value.detach().cpu().contiguous()
                names.append(name)
            elif isinstance(value, dict) and value and all(
                    isinstance(v, torch.Tensor) for v in value.values()):
                for key, tensor in value.items():
                    tensors[f"{prefix}/{index}/{name}/{key}"] = tensor.detach().cpu().contiguous()
                names.append(name)
            elif is_plain(value):
                values[name] = value
        states.append({"class": type(obj).__name__, "values": values, "tensors": names})
    return states


def _load_state(obj, state, tensors, key):
    """Sets the attributes saved by `_object_states` back on `obj`; its tensors are named
    ``key/attribute`` in `tensors`."""
    if type(obj).__name__ != state["class"]:
        raise ValueError(f"The backup's {key} is a {state['class']}, but this run has a "
                         f"{type(obj).__name__}: resume with the same script.")
    for name, value in state["values"].items():
        setattr(obj, name, value)
    for name in state["tensors"]:
        tensor_key = f"{key}/{name}"
        if tensor_key not in tensors:  # a dict of tensors, saved as key/name/item
            items = [k for k in tensors if k.startswith(tensor_key + "/")]
            setattr(obj, name, {k[len(tensor_key) + 1:]: tensors[k].clone() for k in items})
            continue
        current, value = getattr(obj, name, None), tensors[tensor_key]
        if isinstance(current, torch.Tensor) and current.shape == value.shape:
            with torch.no_grad():
                current.copy_(value)  # keeps references (e.g. a metric's weight list)
        else:
            setattr(obj, name, value.clone())


def _load_callback_states(callbacks, states, tensors):
    """Gives each callback the saved state of the callback of its class at the same rank among
    those of that class (a resumed run may have added or left out other callbacks)."""
    saved_by_class, seen = {}, {}
    for index, state in enumerate(states):
        saved_by_class.setdefault(state["class"], []).append((index, state))
    for callback in callbacks:
        name = type(callback).__name__
        rank = seen[name] = seen.get(name, -1) + 1
        candidates = saved_by_class.get(name, [])
        if rank < len(candidates):
            index, state = candidates[rank]
            _load_state(callback, state, tensors, f"callback/{index}")
