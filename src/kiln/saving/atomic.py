"""Atomic file writes: a file is either the old one or the complete new one, never half written.

`atomic_write` hands out a temporary file created in the target's own folder (so the final
rename stays on one file system); when the block ends without error the data is flushed,
`fsync`-ed, and the temporary file is renamed over the target with `os.replace`, which is atomic
on POSIX and Windows. If anything fails, or the process is killed, before the rename, the target
keeps its previous content; on an exception the temporary file is removed. Because the data
reaches the disk before the rename, even a power cut leaves the old or the new file whole (the
folder itself is not synced: that would only make the new name durable sooner, and costs as much
as the file's own fsync). Model files, weights, checkpoints and exports are all written through
it.

`check_writable` tells, before any work starts, whether a path can be written at all (a missing
folder, a folder that is not writable, a path that is a folder), so that a checkpoint callback
can fail at the start of training rather than after the first epoch.
"""

import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None):
    """Opens a temporary file that replaces `path` atomically when the block ends without error.

    The temporary file lives in the folder of `path` and is named ``.<name>.<random>.tmp``; it is
    created with the permissions a plain `open` would give (0o666 minus the umask).

    Args:
        path: the file to write (a string or path-like); its folder must exist.
        mode: ``"wb"`` (default) or ``"w"`` for text.
        encoding: the text encoding for ``mode="w"`` (default UTF-8).

    Yields:
        The open file object to write to.

    Raises:
        ValueError: if `mode` is not ``"wb"`` or ``"w"``, or `path` cannot be written (see
            `check_writable`).

    Example:

    >>> with kiln.saving.atomic.atomic_write("history.json", "w") as file:
    ...     json.dump(history.history, file)
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"Argument `mode` must be 'wb' or 'w', but received: mode={mode!r}.")
    path = os.fspath(path)
    check_writable(path)
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
    try:
        if mode == "wb":
            file = os.fdopen(descriptor, "wb")
        else:
            file = os.fdopen(descriptor, "w", encoding=encoding or "utf-8", newline="")
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def check_writable(path, argument="filepath", overwrite=True):
    """Raises a `ValueError` naming `argument` unless a file can be written at `path`.

    Args:
        path: the file about to be written (it may or may not exist).
        argument: the name of the user's argument that gave `path`, for the message.
        overwrite: False also refuses a `path` that already exists.

    Raises:
        ValueError: if the folder of `path` does not exist, is not a folder or is not writable,
            if `path` itself is a folder, or if it exists and `overwrite` is False.

    Example:

    >>> kiln.saving.atomic.check_writable("checkpoints/model.kiln", argument="filepath")
    Traceback (most recent call last):
    ValueError: Cannot write to `filepath`='checkpoints/model.kiln': its folder ...
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        problem = "it is a folder, not a file"
    elif not overwrite and os.path.exists(path):
        problem = "the file exists and overwrite=False"
    elif not os.path.exists(folder):
        problem = f"its folder {folder!r} does not exist (create it first, e.g. os.makedirs)"
    elif not os.path.isdir(folder):
        problem = f"{folder!r} is not a folder"
    elif not os.access(folder, os.W_OK | os.X_OK):
        problem = f"its folder {folder!r} is not writable"
    else:
        return
    raise ValueError(f"Cannot write to `{argument}`={path!r}: {problem}.")


_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation on the raw descriptor

