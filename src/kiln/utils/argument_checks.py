"""Checks of numeric constructor arguments, shared by initializers, regularizers and constraints.

Each check returns the value as a Python float, or raises a `ValueError` that names the argument
and the value received, as the layer contract asks: booleans, non-numbers and non-finite numbers
are rejected.
"""

import math
import numbers


def check_number(value, name):
    """Returns `value` as a float if it is a finite real number.

    Args:
        value: the value received.
        name: the argument's name, for the message.

    Returns:
        ``float(value)``.

    Raises:
        ValueError: if `value` is a bool, not a real number, or not finite.

    Example:

    >>> kiln.utils.argument_checks.check_number(2, "mean")
    2.0
    """
    if not _is_finite_real(value):
        raise ValueError(
            f"Expected a finite number for argument `{name}`, but received {name}={value!r}."
        )
    return float(value)


def check_positive(value, name):
    """Returns `value` as a float if it is a finite number greater than 0.

    Args:
        value: the value received.
        name: the argument's name, for the message.

    Returns:
        ``float(value)``.

    Raises:
        ValueError: if `value` is not a finite number (see :func:`check_number`) or is not > 0.

    Example:

    >>> kiln.utils.argument_checks.check_positive(0.05, "stddev")
    0.05
    """
    if check_number(value, name) <= 0:
        raise ValueError(
            f"Expected a positive number for argument `{name}`, but received {name}={value!r}."
        )
    return float(value)


def check_non_negative(value, name):
    """Returns `value` as a float if it is a finite number greater than or equal to 0.

    Args:
        value: the value received.
        name: the argument's name, for the message.

    Returns:
        ``float(value)``.

    Raises:
        ValueError: if `value` is a bool, not a real number, not finite, or negative.

    Example:

    >>> kiln.utils.argument_checks.check_non_negative(0, "l2")
    0.0
    """
    if not _is_finite_real(value) or value < 0:
        raise ValueError(
            f"Expected a non-negative number for argument `{name}`, but received {name}={value!r}."
        )
    return float(value)


def _is_finite_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
