"""Answer extraction and normalisation: equal answers must get equal labels, different ones must not."""

from __future__ import annotations

from fractions import Fraction

import pytest

from router.verifiers.answers import extract_answer, normalise_answer, parse_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Janet has 16 - 3 - 4 = 9 eggs.\n#### 9", "9"),
        ("#### 1,234", "1234"),
        ("so the result is \\boxed{\\frac{3}{4}}.", "0.75"),
        ("\\boxed{\\dfrac{6}{3}}", "2"),
        ("nested \\boxed{\\frac{1}{\\sqrt{4}}} braces", "(1)/(sqrt(4))"),
        ("\\boxed{2\\sqrt{2}}", "2sqrt(2)"),
        ("The answer is 1,234.", "1234"),
        ("The final answer is $12.50", "12.5"),
        ("The answer is 12 apples because 5 + 7 = 12", "12"),
        ("the answer is: 3.0", "3"),
        ("Answer: (B)", "B"),
        ("(c) 42", "C"),
        ("D.", "D"),
        ("It costs 40%", "40"),
        ("50\\%", "50"),
        ("8 + 3 = 11 people", "11"),
        ("30-25", "5"),
        ("2^10", "1024"),
        ("(1)/(3)", "0.333333"),
        ("1 - 2", "-1"),
        ("3 9", "9"),
        ("9^9^9^9", "9^9^9^9"),
        ("−7", "-7"),
        ("The temperature is -3 degrees", "-3"),
        ("3/6", "0.5"),
        ("x = 3/6", "0.5"),
        ("\\boxed{x^2 + 1}", "x^2+1"),
        ("Seven", "7"),
        ("twelve apples", "12"),
        ("Thinking...\nParis.", "paris"),
        ("  The   Eiffel Tower ", "the eiffel tower"),
        ("  ", None),
        ("", None),
    ],
)
def test_extract_and_normalise(text: str, expected: str | None) -> None:
    assert normalise_answer(extract_answer(text)) == expected


def test_equal_values_written_differently_share_a_label() -> None:
    forms = ["#### 1,000", "The answer is 1000.", "$1,000.00", "\\boxed{1000}", "1000 dollars"]
    assert {normalise_answer(extract_answer(f)) for f in forms} == {"1000"}
    assert normalise_answer("0.5") == normalise_answer("1/2") == normalise_answer("\\frac{1}{2}")
    assert normalise_answer("12") != normalise_answer("21")


def test_parse_number_is_exact() -> None:
    assert parse_number("about 1,234.5 units") == Fraction(12345, 10)
    assert parse_number("3/4") == Fraction(3, 4)
    assert parse_number("1/0") is None
    assert parse_number("no digits") is None


def test_nothing_stated_is_none() -> None:
    assert extract_answer(None) is None
    assert normalise_answer(None) is None
    assert normalise_answer(" . ") is None
