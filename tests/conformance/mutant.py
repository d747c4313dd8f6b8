"""One seeded bug of a reference model, shared by the mutants_*.py lists.

In: a name, a one-line description and a function that monkeypatches the model. Out:
`Mutant.apply(monkeypatch)`, which plants the bug for the duration of one test (pytest's
monkeypatch undoes it); `runs` is the conformance budget the test gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    patch: Callable[[pytest.MonkeyPatch], None]
    runs: int = 60

    def apply(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.patch(monkeypatch)
