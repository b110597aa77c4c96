"""The text progress bar that `fit`, `evaluate` and `predict` print, in the Keras 2 style.

With ``verbose=1`` on a terminal (or in a Jupyter kernel) the bar redraws one line in place::

     57/363 [===>..........................] - ETA: 1s - loss: 1.2345 - mae: 0.8765
    363/363 [==============================] - 1s 2ms/step - loss: 0.4123 - val_loss: 0.3980

Unlike Keras, when the output is not a terminal (a pipe, a file, a CI log) only the final line of
each bar is printed, so logs are not flooded with redraws. ``verbose=2`` prints one summary line::

    363/363 - 1s - loss: 0.4123 - val_loss: 0.3980 - 1s/epoch - 3ms/step

Redraws are throttled to one per `interval` seconds and the values may be passed as a function,
which is only called when a line is actually drawn: the loop's running means stay on the device
and are read a few times a second at most.
"""

import math
import numbers
import sys
import time


class Progbar:
    """Displays a progress bar with the current values of the metrics.

    Args:
        target: total number of steps, or None when unknown (the bar then shows a step count).
        width: width of the bar, in characters.
        verbose: 0 prints nothing, 1 draws the bar, 2 prints one line when the bar completes.
        interval: minimum number of seconds between two redraws of the bar.
        stateful_metrics: accepted for Keras compatibility. Keras averages the values of
            metrics not listed here over the updates; kiln shows every value as given (kiln's
            loop passes running means already), so this argument changes nothing.
        unit_name: name of a step in the timing, e.g. ``"step"`` gives ``2ms/step``.

    Example:

    >>> progbar = Progbar(target=len(train_batches))
    >>> for step, (X_batch, y_batch) in enumerate(train_batches, start=1):
    ...     loss = train_step(X_batch, y_batch)
    ...     progbar.update(step, lambda: [("loss", float(loss))])
    """

    def __init__(self, target, width=30, verbose=1, interval=0.2, stateful_metrics=None,
                 unit_name="step"):
        if target is not None and (not isinstance(target, numbers.Integral) or target < 0):
            raise ValueError(
                f"`target` must be None or an integer >= 0, but received target={target!r}."
            )
        if not isinstance(width, numbers.Integral) or width < 1:
            raise ValueError(f"`width` must be an integer >= 1, but received width={width!r}.")
        if verbose not in (0, 1, 2):
            raise ValueError(f"`verbose` must be 0, 1 or 2, but received verbose={verbose!r}.")
        if not isinstance(interval, numbers.Real) or interval < 0:
            raise ValueError(
                f"`interval` must be a number >= 0, but received interval={interval!r}."
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.stateful_metrics = set(stateful_metrics or ())
        self.unit_name = unit_name
        self._values = {}
        self._seen_so_far = 0
        self._start = time.monotonic()
        self._last_draw = -math.inf
        self._first_step = None
        self._line_width = 0

    def update(self, current, values=None, finalize=None):
        """Moves the bar to step `current` and redraws it if `interval` has passed.

        Args:
            current: index of the current step (1 after the first step).
            values: a list of ``(name, value)`` pairs, or a zero-argument function returning
                one; the function is called only when the bar is drawn. Values are shown as
                given, and a name not passed keeps its last shown value.
            finalize: whether this is the last update; by default, whether `current` has
                reached `target`. The final update always draws.
        """
        now = time.monotonic()
        if self._first_step is None and current > 0:
            self._first_step = (current, now)
        self._seen_so_far = current
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if finalize:
            if not self.verbose:
                return
        elif self.verbose != 1 or now - self._last_draw < self.interval:
            return
        self._last_draw = now
        stream = sys.stdout
        if self.verbose == 2:
            self._store_values(values)
            message = self._summary_line(current, now)
        else:
            redraw = _supports_redraw(stream)
            if not (finalize or redraw):
                return
            self._store_values(values)
            message = self._bar_line(current, now, finalize, redraw)
        stream.write(message)
        stream.flush()

    def add(self, n, values=None):
        """Advances the bar by `n` steps; see `update` for `values`."""
        self.update(self._seen_so_far + n, values)

    def _store_values(self, values):
        if values is None:
            return
        if callable(values):
            values = values()
        try:
            for name, value in values:
                self._values[name] = value
        except (TypeError, ValueError):
            raise ValueError(
                "`values` must be a list of (name, value) pairs or a function returning one, "
                f"but received {values!r}."
            ) from None

    def _bar_line(self, current, now, final, redraw):
        """The verbose=1 line: redrawn in place with a carriage return when `redraw`."""
        if self.target is None:
            line = f"{current:7d}/Unknown"
        else:
            line = f"{current:{len(str(self.target))}d}/{self.target} {self._bar(current)}"
        step_time = self._step_time(current, now)
        if final or self.target is None:
            line += f" - {now - self._start:.0f}s {_format_duration(step_time, self.unit_name)}"
        else:
            line += f" - ETA: {_format_eta(step_time * (self.target - current))}"
        line += self._format_values()
        message = line
        if redraw:
            message = "\r" + line + " " * max(self._line_width - len(line), 0)
            self._line_width = len(line)
        return message + "\n" if final else message

    def _summary_line(self, current, now):
        """The verbose=2 line printed once when the bar completes."""
        elapsed = now - self._start
        if self.target is None:
            count = f"{current}/Unknown"
        else:
            count = f"{current:{len(str(self.target))}d}/{self.target}"
        return (
            f"{count} - {elapsed:.0f}s{self._format_values()}"
            f" - {_format_duration(elapsed, 'epoch')}"
            f" - {_format_duration(elapsed / max(current, 1), self.unit_name)}\n"
        )

    def _bar(self, current):
        progress = min(current / self.target, 1.0) if self.target else 1.0
        filled = int(self.width * progress)
        if filled == 0:
            arrow = ""
        elif current < self.target:
            arrow = "=" * (filled - 1) + ">"
        else:
            arrow = "=" * filled
        return f"[{arrow}{'.' * (self.width - filled)}]"

    def _step_time(self, current, now):
        """Seconds per step, leaving out the first step (warm-up) when later steps exist."""
        if current <= 0:
            return 0.0
        first_current, first_time = self._first_step
        if current > first_current:
            return (now - first_time) / (current - first_current)
        return (now - self._start) / current

    def _format_values(self):
        return "".join(f" - {name}: {_format_value(value)}" for name, value in self._values.items())


def _format_value(value):
    """Formats a metric value as Keras does: 4 decimals, scientific below 1e-3."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number != 0 and abs(number) < 1e-3:
        return f"{number:.4e}"
    return f"{number:.4f}"


def _format_duration(seconds, unit_name):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(seconds):
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if seconds >= 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"


def _supports_redraw(stream):
    """Whether `stream` can redraw a line with a carriage return (a terminal or Jupyter)."""
    if "ipykernel" in sys.modules:
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False
