"""A small executable reference model of examples/rmp_core.tee, written as an implementer would.

In: the sizes of the machine (pages, guest-physical addresses, guests; the spec's PAGES,
GPAS and GUESTS). Out: `RmpCoreModel`, one method per spec action returning the outcome
code ("ok", "FAIL_RMP", "FAIL_NPF", "FAIL_INPUT", "FAIL_UNCHANGED"), and `observe()`,
the state as plain values in the shape of `checker.values.to_plain` (records and maps as
dicts, options as None or the value) without the spec's ghost state.
Guarantees: a method that fails changes nothing. It does not import checker/: the spec
and the model are two independent readings of the same design, and
tests/checker/test_conformance.py runs them side by side with checker.testing.conformance.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

HYPERVISOR = 0  # ASID 0 is the hypervisor; guests are 1 .. guests


@dataclass(frozen=True)
class RmpEntry:
    """One reverse-map-table entry: who owns the physical page, at which GPA."""

    assigned: bool = False
    asid: int = HYPERVISOR
    gpa: int = 0
    validated: bool = False


class RmpCoreModel:
    """The RMP core: the hypervisor assigns and maps pages, guests validate and write them."""

    def __init__(self, pages: int = 2, gpas: int = 2, guests: int = 1) -> None:
        self.pages, self.gpas, self.guests = pages, gpas, guests
        self.rmp: list[RmpEntry] = [RmpEntry() for _ in range(pages)]
        # nested page tables, one per guest: GPA -> physical page (absent: not mapped)
        self.npt: dict[int, dict[int, int]] = {g: {} for g in range(1, guests + 1)}
        self.mem: list[int] = [0] * pages

    # ---------------------------------------------------------------- hypervisor
    def rmpupdate(self, p: int, g: int, a: int) -> str:
        """Assign page p to guest g at GPA a (g == 0: give it back to the hypervisor).
        Any change of owner clears the validated bit."""
        self.rmp[p] = RmpEntry(assigned=g != HYPERVISOR, asid=g, gpa=a, validated=False)
        return "ok"

    def map_gpa(self, g: int, a: int, p: int) -> str:
        self.npt[g][a] = p
        return "ok"

    def hv_write(self, p: int, v: int) -> str:
        if self.rmp[p].assigned:
            return "FAIL_RMP"  # the RMP check on a hypervisor write to a guest page
        self.mem[p] = v
        return "ok"

    # ---------------------------------------------------------------- guest
    def _owns(self, g: int, a: int, p: int) -> bool:
        e = self.rmp[p]
        return e.assigned and e.asid == g and e.gpa == a

    def pvalidate(self, g: int, a: int) -> str:
        p = self.npt[g].get(a)
        if p is None:
            return "FAIL_NPF"  # nested page fault: the GPA is not mapped
        if not self._owns(g, a, p):
            return "FAIL_INPUT"
        if self.rmp[p].validated:
            return "FAIL_UNCHANGED"
        self.rmp[p] = replace(self.rmp[p], validated=True)
        return "ok"

    def _usable(self, g: int, a: int) -> int | None:
        """The page behind (g, a) when the guest may use it, else None."""
        p = self.npt[g].get(a)
        if p is None or not self._owns(g, a, p) or not self.rmp[p].validated:
            return None
        return p

    def guest_write(self, g: int, a: int, v: int) -> str:
        p = self._usable(g, a)
        if p is None:
            return "FAIL_NPF"
        self.mem[p] = v
        return "ok"

    # ---------------------------------------------------------------- observation
    def observe(self) -> dict[str, Any]:
        """rmp, npt and mem as the spec's plain values (no ghost `wrote`)."""
        return {
            "rmp": {p: {"assigned": e.assigned, "asid": e.asid, "gpa": e.gpa, "validated": e.validated}
                    for p, e in enumerate(self.rmp)},
            "npt": {g: {a: table.get(a) for a in range(self.gpas)} for g, table in self.npt.items()},
            "mem": dict(enumerate(self.mem)),
        }
