"""Tests for minilocal/exercises: self-checks and the reference-solution loader."""

import pytest

from minilocal import exercises


def test_placeholder_is_not_answered_and_never_raises(capsys):
    check = exercises.Checker(strict=True)
    answer_1 = ...
    with check(1, answer_1):
        assert tuple(answer_1) == (24, 24)  # would raise TypeError on the placeholder
    assert check.results == {1: "not answered"}
    assert "not answered yet" in capsys.readouterr().out


def test_right_and_wrong(capsys):
    check = exercises.Checker()
    with check(1, 16):
        assert 16 == 16
    with check(2, 15, "hint: x"):
        assert 15 == 16, "hint: the grid"
    assert check.results == {1: "right", 2: "wrong"}
    out = capsys.readouterr().out
    assert "exercise 1: right" in out and "hint: the grid" in out
    check.summary()
    assert capsys.readouterr().out.strip() == "1 of 2 right, 1 not right yet"


def test_strict_raises_on_a_wrong_answer():
    check = exercises.Checker(strict=True)
    with pytest.raises(AssertionError, match="exercise 3: hint"):
        with check(3, 1):
            assert False, "hint"


def test_solution_from_a_file(tmp_path):
    f = tmp_path / "solutions.py"
    f.write_text("def nb09_1(ns):\n    return ns['x'] * 2\n")
    assert exercises.solution("09", 1, {"x": 21}, path=f) == 42
    with pytest.raises(KeyError, match="nb09_2"):
        exercises.solution("09", 2, {}, path=f)


def test_shipped_solutions_file_loads():
    module = exercises.solutions_module()
    assert callable(module.nb00_1)
