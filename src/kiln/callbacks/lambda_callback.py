"""LambdaCallback: a callback assembled from plain functions, one per hook."""

from kiln.callbacks.base import Callback

_HOOK_NAMES = frozenset(name for name in vars(Callback) if name.startswith("on_"))


class LambdaCallback(Callback):
    """A callback made of the functions given for some hooks, for quick custom behaviour.

    Each function takes the arguments of its hook: `on_epoch_begin(epoch, logs)`,
    `on_epoch_end(epoch, logs)`, `on_train_begin(logs)`, `on_train_end(logs)`,
    `on_train_batch_begin(batch, logs)`, `on_train_batch_end(batch, logs)`. The other hooks
    (`on_test_*`, `on_predict_*`, and the legacy `on_batch_begin` / `on_batch_end`) are given by
    keyword the same way. Only the hooks given are called: a LambdaCallback with no batch
    function costs nothing per training step.

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin,
        on_train_batch_end: functions for those hooks, or None.
        **hooks: functions for any other hook, by hook name.

    Example:

    >>> import json
    >>> json_log = open("loss_log.json", mode="wt", buffering=1)
    >>> json_logging_callback = kiln.callbacks.LambdaCallback(
    ...     on_epoch_end=lambda epoch, logs: json_log.write(
    ...         json.dumps({"epoch": epoch, "loss": logs["loss"]}) + "\\n"),
    ...     on_train_end=lambda logs: json_log.close())
    >>> model.fit(X_train, y_train, epochs=10, callbacks=[json_logging_callback])
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **hooks):
        super().__init__()
        unknown = sorted(set(hooks).difference(_HOOK_NAMES))
        if unknown:
            raise ValueError(f"LambdaCallback received {unknown}, which are not callback hooks; "
                             f"the hooks are {sorted(_HOOK_NAMES)}.")
        hooks.update(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for hook, function in hooks.items():
            if function is None:
                continue
            if not callable(function):
                raise ValueError(f"`{hook}` must be a function, but received: {function!r}.")
            # An instance attribute replaces the empty hook of Callback, and CallbackList sees
            # it as overridden; the hooks not given stay the inherited ones and are not called.
            setattr(self, hook, function)
