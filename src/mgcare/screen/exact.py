"""Python's `round(x, n)` as portable SQL, bit for bit.

`assess` rounds with Python's correctly rounded `round` (decimal digits of the exact binary value,
ties to even). SQL `round()` in DuckDB and Spark multiplies and rounds half away from zero, which
differs near ties (Python: round(0.125, 2) == 0.12, DuckDB: 0.13). Parity needs the same bits, so
the product x * 10^n is computed exactly as a sum p + err (Dekker/Shewchuk TwoProduct, plain IEEE
double operations that both engines and Python perform identically), the nearest integer is
chosen from its exact fraction (ties to even), and divided by 10^n: IEEE division returns the
double nearest to that decimal, which is what Python's round returns.
"""

from __future__ import annotations

SPLITTER = float(2**27 + 1)
"""Veltkamp splitter for 53-bit doubles: splits a double into two 26-bit halves."""
HALF = 0.5


def split(value: float) -> tuple[float, float]:
    """High and low halves of a double whose products are exact."""
    c = SPLITTER * value
    high = c - (c - value)
    return high, value - high


def round_like_python(x: str, digits: int, double: str = "CAST('{}' AS DOUBLE)") -> str:
    """SQL for Python's round(x, digits) of the DOUBLE column or expression `x` (used several
    times, so pass a column name). `double` formats a float literal."""
    scale = 10.0**digits

    def lit(value: float) -> str:
        return double.format(repr(value))

    scale_high, scale_low = split(scale)
    p = f"({x} * {lit(scale)})"
    c = f"({lit(SPLITTER)} * {x})"
    x_high = f"({c} - ({c} - {x}))"
    x_low = f"({x} - {x_high})"
    err1 = f"({p} - ({x_high} * {lit(scale_high)}))"
    err2 = f"({err1} - ({x_low} * {lit(scale_high)}))"
    err3 = f"({err2} - ({x_high} * {lit(scale_low)}))"
    err = f"(({x_low} * {lit(scale_low)}) - {err3})"
    whole = f"CAST(floor({p}) AS DOUBLE)"
    side = f"((({p} - {whole}) - {lit(HALF)}) + {err})"
    even = f"({whole} - {lit(2.0)} * CAST(floor({whole} / {lit(2.0)}) AS DOUBLE) = {lit(0.0)})"
    return (
        f"((CASE WHEN {side} > {lit(0.0)} THEN {whole} + {lit(1.0)}"
        f" WHEN {side} < {lit(0.0)} THEN {whole}"
        f" WHEN {even} THEN {whole} ELSE {whole} + {lit(1.0)} END) / {lit(scale)})"
    )


def round_python_model(x: float, digits: int) -> float:
    """The same algorithm in Python (tests compare it with round() and with the SQL)."""
    scale = 10.0**digits
    p = x * scale
    x_high, x_low = split(x)
    s_high, s_low = split(scale)
    err = (x_low * s_low) - (((p - x_high * s_high) - x_low * s_high) - x_high * s_low)
    whole = float(int(p // 1))
    side = ((p - whole) - HALF) + err
    if side > 0:
        result = whole + 1
    elif side < 0:
        result = whole
    else:
        result = whole if whole % 2 == 0 else whole + 1
    return result / scale
