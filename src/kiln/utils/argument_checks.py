"""Checks of numeric constructor arguments, shared by initializers, regularizers and constraints.

Each check takes the value received and the argument's name, and returns the value as a Python
float, or raises a `ValueError` that names the argument and the value, as the layer contract
asks: ``Expected a positive number for argument `stddev`, but received stddev=-0.1.`` Booleans,
non-numbers and non-finite numbers are always rejected.

Example:

>>> kiln.utils.argument_checks.check_positive(0.05, "stddev")
0.05
"""

import math
import numbers


def check_number(value, name):
    """Returns `value` as a float if it is a finite real number."""
    return _checked(value, name, _is_finite_real(value), "a finite number")


def check_positive(value, name):
    """Returns `value` as a float if it is a finite number greater than 0."""
    return _checked(value, name, check_number(value, name) > 0, "a positive number")


def check_non_negative(value, name):
    """Returns `value` as a float if it is a finite number greater than or equal to 0."""
    return _checked(value, name, _is_finite_real(value) and value >= 0, "a non-negative number")


def _is_finite_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _checked(value, name, valid, expected):
    if not valid:
        raise ValueError(
            f"Expected {expected} for argument `{name}`, but received {name}={value!r}."
        )
    return float(value)
