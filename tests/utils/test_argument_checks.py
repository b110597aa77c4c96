"""Tests for kiln.utils.argument_checks: accepted values become floats, others raise by name."""

import math
import re

import numpy as np
import pytest

from kiln.utils.argument_checks import check_non_negative, check_number, check_positive


@pytest.mark.parametrize(
    "check, value",
    [
        (check_number, -2),
        (check_number, np.float32(0.5)),
        (check_positive, 1e-9),
        (check_non_negative, 0),
        (check_non_negative, 3.5),
    ],
)
def test_accepted_values_become_floats(check, value):
    result = check(value, "x")
    assert type(result) is float and result == float(value)


@pytest.mark.parametrize(
    "check, value, expected",
    [
        (check_number, True, "a finite number"),
        (check_number, "1", "a finite number"),
        (check_number, math.inf, "a finite number"),
        (check_positive, 0, "a positive number"),
        (check_positive, float("nan"), "a finite number"),
        (check_non_negative, -1, "a non-negative number"),
        (check_non_negative, float("nan"), "a non-negative number"),
        (check_non_negative, None, "a non-negative number"),
    ],
)
def test_rejected_values_name_the_argument_and_the_value(check, value, expected):
    message = f"Expected {expected} for argument `x`, but received x={value!r}."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check(value, "x")
