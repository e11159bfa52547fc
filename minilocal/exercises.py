"""Tutorial exercises: self-checks that say "not answered yet", and reference solutions kept
out of the cell the student edits.

A notebook's exercise cell leaves the student's line empty::

    answer_1 = ...  # your code

and its check cell fills in the reference answer only when the ``SOLUTIONS`` parameter is
on (CI runs ``papermill -p SOLUTIONS True``), then checks every answer::

    if SOLUTIONS:  # CI: reference answers from tutorials/solutions.py
        answer_1 = exercises.solution("02", 1, globals())
    check = exercises.Checker(strict=SOLUTIONS)
    with check(1, answer_1, "hint: centre = 16 + 2 * index"):
        assert tuple(answer_1) == (24, 24)
    check.summary()

:func:`solution` calls ``nb<notebook>_<k>(ns)`` of ``tutorials/solutions.py``, a small
function of the notebook's namespace. :class:`Checker` prints one line per exercise:
"not answered yet" when the answer is still ``...`` (whatever its block raises), "right", or
"not right yet" with the hint; with ``strict=True`` a wrong answer raises, so CI fails on a
broken reference solution.
"""

from __future__ import annotations

import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Mapping

__all__ = ["Checker", "solution", "solutions_module", "is_answered", "SOLUTIONS_FILE"]

SOLUTIONS_FILE = "tutorials/solutions.py"  # relative to the repository root
_MODULE = "minilocal_tutorial_solutions"


def is_answered(answer: Any) -> bool:
    """False while the answer is still the placeholder ``...`` (or None)."""
    return answer is not Ellipsis and answer is not None


def _candidates() -> list[Path]:
    from .paths import project_root

    root, cwd = project_root(), Path.cwd()  # the checkout, for an editable install
    return ([root / SOLUTIONS_FILE] if root is not None else []) + [
        cwd / SOLUTIONS_FILE, cwd / Path(SOLUTIONS_FILE).name]


def solutions_module(path: str | Path | None = None) -> ModuleType:
    """The reference solutions, ``tutorials/solutions.py``, imported once.

    Args:
        path: the file. Default: ``tutorials/solutions.py`` of this checkout, else of the
            working directory, else ``solutions.py`` in the working directory (a kernel
            started in ``tutorials/``).

    Raises:
        FileNotFoundError: if no such file exists.
    """
    if path is None and _MODULE in sys.modules:
        return sys.modules[_MODULE]
    found = [Path(path)] if path is not None else [p for p in _candidates() if p.is_file()]
    if not found or not found[0].is_file():
        raise FileNotFoundError(f"no solutions file: looked for {path or _candidates()}")
    spec = importlib.util.spec_from_file_location(_MODULE, found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if path is None:
        sys.modules[_MODULE] = module
    return module


def solution(notebook: str, k: int, namespace: Mapping[str, Any],
             path: str | Path | None = None) -> Any:
    """The reference answer to exercise ``k`` of ``notebook``, computed from its namespace.

    Args:
        notebook: the notebook's number, e.g. "02".
        k: the exercise number, from 1.
        namespace: the notebook's variables (``globals()``).
        path: the solutions file (see :func:`solutions_module`).

    Raises:
        KeyError: if the solutions file has no ``nb<notebook>_<k>``.
    """
    module = solutions_module(path)
    name = f"nb{notebook}_{int(k)}"
    fn = getattr(module, name, None)
    if fn is None:
        raise KeyError(f"{module.__file__} has no solution {name}(ns)")
    return fn(namespace)


class Checker:
    """Self-checks of a notebook's exercises, one ``with check(k, answer, hint):`` each.

    Args:
        strict: raise AssertionError on a wrong answer (CI, with the reference solutions
            on); otherwise print "not right yet" and go on. Default: False.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = bool(strict)
        self.results: dict[int, str] = {}  # k -> "right", "wrong" or "not answered"

    @contextmanager
    def __call__(self, k: int, answer: Any, hint: str = "") -> Iterator[None]:
        """Run the block that checks ``answer``; report and record the outcome."""
        if not is_answered(answer):
            self.results[k] = "not answered"
            print(f"exercise {k}: not answered yet (replace the ... of answer_{k})")
            try:
                yield
            except Exception:  # the block cannot check a placeholder: nothing to report
                pass
            return
        try:
            yield
        except Exception as err:  # a wrong answer, or one of the wrong type
            self.results[k] = "wrong"
            why = f"{type(err).__name__}: {err}" if not isinstance(err, AssertionError) \
                else (str(err) or hint)
            print(f"exercise {k}: not right yet. {why if why else ''}".rstrip())
            if self.strict:
                raise AssertionError(f"exercise {k}: {why or hint}") from err
            return
        self.results[k] = "right"
        print(f"exercise {k}: right")

    def summary(self) -> None:
        """Print one line: how many are right, not right yet, not answered yet."""
        counts = {s: sum(v == s for v in self.results.values())
                  for s in ("right", "wrong", "not answered")}
        line = (f"{counts['right']} of {len(self.results)} right"
                + (f", {counts['wrong']} not right yet" if counts["wrong"] else "")
                + (f", {counts['not answered']} not answered yet" if counts["not answered"]
                   else ""))
        print(line)
