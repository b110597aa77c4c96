"""`plot_history`: the learning curves of a `fit`, drawn with matplotlib.

matplotlib is an optional dependency (the `plot` extra), imported when a plot is drawn.
"""


def plot_history(history, figsize=(8, 5), xlim=None, ylim=None, grid=True, xlabel="Epoch",
                 metrics=None, ax=None):
    """Draws the learning curves of a training run: the book's figure, without pandas.

    One line per metric of `history.history`, against the epoch (counted from 0, as the
    book's ``pd.DataFrame(history.history).plot(...)`` draws it). A training curve and its
    ``val_`` twin share a color; the training curve is dashed and the validation curve solid,
    as in the book, whose figure reminds that the training means are measured during the
    epoch (half an epoch earlier on average) and the validation values at its end.

    Args:
        history: the `History` returned by `fit`, or its `history` dict of lists.
        figsize: the figure size in inches, used when `ax` is None.
        xlim, ylim: the axis limits, e.g. ``ylim=[0, 1]``, or None for automatic limits.
        grid: whether to draw the grid.
        xlabel: the x axis label.
        metrics: the names to draw, in this order (default: all, in the history's order).
        ax: the matplotlib Axes to draw on (default: a new figure).

    Returns:
        The matplotlib `Axes`.

    Example:

    >>> history = model.fit(X_train, y_train, epochs=30, validation_data=(X_valid, y_valid))
    >>> ax = kiln.utils.plot_history(history, xlim=[0, 29], ylim=[0, 1])
    >>> ax.legend(loc="lower left")
    >>> plt.show()
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plot_history needs matplotlib: pip install 'kiln[plot]' (or pip "
                          "install matplotlib).") from error
    curves = _curves(history, metrics)
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    colors = {}
    for name, values in curves.items():
        base = name[4:] if name.startswith("val_") else name
        if base not in colors:
            colors[base] = f"C{len(colors) % 10}"
        ax.plot(range(len(values)), values, linestyle="-" if name != base else "--",
                color=colors[base], label=name)
    ax.set_xlabel(xlabel)
    ax.grid(grid)
    if xlim is not None:
        ax.set_xlim(xlim)
    if ylim is not None:
        ax.set_ylim(ylim)
    ax.legend()
    return ax


def _curves(history, metrics):
    """The `{name: list of floats}` to draw, checked."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(f"`history` must be the History returned by fit() or a non-empty dict "
                         f"of per-epoch lists, but received {history!r}.")
    if metrics is None:
        return logs
    if isinstance(metrics, str):
        metrics = [metrics]
    missing = [name for name in metrics if name not in logs]
    if missing:
        raise ValueError(f"`metrics` names {missing}, which the history does not have; it has "
                         f"{list(logs)}.")
    return {name: logs[name] for name in metrics}
