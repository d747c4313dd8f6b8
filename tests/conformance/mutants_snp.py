"""Seeded bugs in models/snp.py, applied by monkeypatching one method (never committed).

In: a pytest MonkeyPatch. Out: `MUTANTS`, each a plausible implementation mistake in an SEV-SNP
implementation (issue 9's list; domain.md 1.3 / 1.4 / 1.5 / 6), with the number of conformance
runs the test gives it.
Guarantees: `Mutant.apply` changes the class under test only for the duration of the test
(monkeypatch undoes it); the unpatched model is untouched. Each patch wraps or restates one
method of SnpMachine / AmdSp with one check or one effect changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import pytest

from models.snp import SnpMachine
from models.snp_rmp import GuestState, PageSize, Perm, as_perm
from tests.conformance.mutant import Mutant


def _mutant(name: str, what: str, patch: Callable[[pytest.MonkeyPatch], None]) -> Mutant:
    """A mutant with 250 runs of up to STEPS rules each (kills take a median of 200-900 spec steps)."""
    return Mutant(name, what, patch, runs=250)


def rmpupdate_keeps_validated(mp: pytest.MonkeyPatch) -> None:
    """RMPUPDATE keeps Validated when the page stays a guest page (the 'unchanged fields'
    variant domain.md 1.3 warns about) instead of always clearing it."""
    original = SnpMachine.rmpupdate

    def patched(self: SnpMachine, page: int, asid: int, gpa: int, assigned: bool, size2m: bool,
                immutable: bool) -> str:
        before = list(self.rmp)
        out = original(self, page, asid, gpa, assigned, size2m, immutable)
        if out == "ok" and assigned and asid != 0:
            for p in (self.region(page) if size2m else [page]):
                self.rmp[p] = replace(self.rmp[p], validated=before[p].validated)
        return out

    mp.setattr(SnpMachine, "rmpupdate", patched)


def _rmpadjust(*, allow_same_vmpl: bool = False, subset: bool = True) -> Callable[..., str]:
    """RMPADJUST restated with one of its two VMPL checks changed."""

    def patched(self: SnpMachine, guest: int, vmpl: int, gpa: int, target_vmpl: int,
                perms: Perm | int | Iterable[str], vmsa: bool, size2m: bool = False) -> str:
        if not self.running(guest):
            return "GUEST_NOT_RUNNING"
        want = as_perm(perms)
        if want is None or (size2m and gpa % self.n2m):
            return "FAIL_INPUT"
        if target_vmpl < vmpl or (target_vmpl == vmpl and not allow_same_vmpl):
            return "FAIL_PERMISSION"
        found = self._guest_entry(guest, gpa, size2m)
        if found is None:
            return "NPF"
        page, e = found
        if not e.validated:
            return "VC"
        if e.size is PageSize.S4K and size2m:
            return "FAIL_SIZEMISMATCH"
        if subset and want & ~e.perms[vmpl]:
            return "FAIL_PERMISSION"
        for p in self._targets(page):
            self.rmp[p] = replace(self.rmp[p].with_perm(target_vmpl, want), vmsa=vmsa)
        return "ok"

    return patched


def rmpadjust_vmpl_ge(mp: pytest.MonkeyPatch) -> None:
    """RMPADJUST compares target_vmpl >= vmpl (a VMPL may set its own permissions)."""
    mp.setattr(SnpMachine, "rmpadjust", _rmpadjust(allow_same_vmpl=True))


def rmpadjust_no_subset(mp: pytest.MonkeyPatch) -> None:
    """RMPADJUST grants whatever is asked, not a subset of the caller's own permissions."""
    mp.setattr(SnpMachine, "rmpadjust", _rmpadjust(subset=False))


def pvalidate_no_sizemismatch(mp: pytest.MonkeyPatch) -> None:
    """PVALIDATE with a 2M request on a 4K entry validates the 4K page instead of failing
    FAIL_SIZEMISMATCH."""
    original = SnpMachine.pvalidate

    def patched(self: SnpMachine, guest: int, vmpl: int, gpa: int, size2m: bool, validate: bool) -> str:
        tr = self.npt[guest][gpa] if self.running(guest) and vmpl == 0 else None
        if size2m and gpa % self.n2m == 0 and tr is not None and self.rmp[tr[0]].size is PageSize.S4K:
            size2m = False
        return original(self, guest, vmpl, gpa, size2m, validate)

    mp.setattr(SnpMachine, "pvalidate", patched)


def rmp_check_no_gpa(mp: pytest.MonkeyPatch) -> None:
    """The RMP check of a private access does not compare the entry's gpa with the accessed gpa
    (what SEVered exploits on SEV without SNP)."""
    original = SnpMachine.rmp_check

    def patched(self: SnpMachine, guest: int, vmpl: int, gpa: int, need: Perm, private: bool) -> tuple[str, int | None]:
        tr = self.npt[guest][gpa] if self.running(guest) else None
        if private and tr is not None:
            return _check_at(self, tr, guest, vmpl, need)
        return original(self, guest, vmpl, gpa, need, private)

    mp.setattr(SnpMachine, "rmp_check", patched)


def _check_at(self: SnpMachine, tr: tuple[int, PageSize], guest: int, vmpl: int, need: Perm) -> tuple[str, int | None]:
    """The private RMP check without the gpa comparison, on an NPT leaf `tr`."""
    page, leaf = tr
    e = self.rmp[page]
    if e.immutable or not e.assigned or e.asid != guest or e.size is not leaf:
        return "NPF", None
    if not e.validated:
        return "VC", None
    if need & ~e.perms[vmpl]:
        return "NPF", None
    return "ok", page


def psmash_drops_validated(mp: pytest.MonkeyPatch) -> None:
    """PSMASH writes fresh 4K entries and loses Validated."""
    original = SnpMachine.psmash

    def patched(self: SnpMachine, page: int) -> str:
        out = original(self, page)
        if out == "ok":
            for p in self.region(page):
                self.rmp[p] = replace(self.rmp[p], validated=False)
        return out

    mp.setattr(SnpMachine, "psmash", patched)


def hv_write_2m_per_page(mp: pytest.MonkeyPatch) -> None:
    """A host write through a 2M mapping is RMP-checked only for the 4K page written, not for
    every 4K entry of the 2M region (domain.md 1.4, adjust_direct_map)."""
    original = SnpMachine._hv_write_check

    def patched(self: SnpMachine, page: int, via_2m: bool) -> bool:
        return original(self, page, False)

    mp.setattr(SnpMachine, "_hv_write_check", patched)


def launch_update_after_finish(mp: pytest.MonkeyPatch) -> None:
    """LAUNCH_UPDATE does not check the guest state: pages are still added (and pre-validated)
    after LAUNCH_FINISH."""
    original = SnpMachine.launch_update

    def patched(self: SnpMachine, guest: int, page: int, gpa: int, contents_value: int,
                page_type: str = "NORMAL", vmpl_perms: tuple[int, int, int] = (0, 0, 0)) -> str:
        state = self.guest_state[guest]
        self.guest_state[guest] = GuestState.LAUNCH
        try:
            return original(self, guest, page, gpa, contents_value, page_type, vmpl_perms)
        finally:
            self.guest_state[guest] = state

    mp.setattr(SnpMachine, "launch_update", patched)


def swap_in_no_validated(mp: pytest.MonkeyPatch) -> None:
    """SWAP_IN restores the contents but not the Validated bit of the metadata entry."""
    original = SnpMachine.page_swap_in

    def patched(self: SnpMachine, page: int, metadata_page: int) -> str:
        out = original(self, page, metadata_page)
        if out == "ok":
            self.rmp[page] = replace(self.rmp[page], validated=False)
        return out

    mp.setattr(SnpMachine, "page_swap_in", patched)


def swap_out_no_lock(mp: pytest.MonkeyPatch) -> None:
    """SWAP_OUT seals the page but leaves it mutable and validated (not Pre-Swap)."""
    original = SnpMachine.page_swap_out

    def patched(self: SnpMachine, page: int, metadata_page: int) -> str:
        before = self.rmp[page]
        out = original(self, page, metadata_page)
        if out == "ok":
            self.rmp[page] = before
        return out

    mp.setattr(SnpMachine, "page_swap_out", patched)


def reclaim_md_in_use(mp: pytest.MonkeyPatch) -> None:
    """PAGE_RECLAIM hands back a Metadata page whose slot still holds a swapped-out page."""
    original = SnpMachine.page_reclaim

    def patched(self: SnpMachine, page: int) -> str:
        rec = self.metadata.get(page)
        if rec is not None:
            self.metadata[page] = None
        out = original(self, page)
        if out != "ok" and rec is not None:
            self.metadata[page] = rec
        return out

    mp.setattr(SnpMachine, "page_reclaim", patched)


def guest_os_no_record(mp: pytest.MonkeyPatch) -> None:
    """The guest OS executes PVALIDATE without consulting its record of validated gpas."""
    original = SnpMachine.guest_os_pvalidate

    def patched(self: SnpMachine, guest: int, gpa: int, size2m: bool = False) -> str:
        saved = set(self.guest_os_validated[guest])
        self.guest_os_validated[guest].clear()
        try:
            return original(self, guest, gpa, size2m)
        finally:
            self.guest_os_validated[guest] |= saved

    mp.setattr(SnpMachine, "guest_os_pvalidate", patched)


def shared_access_unchecked(mp: pytest.MonkeyPatch) -> None:
    """A shared (C=0) guest access is not RMP-checked: a guest writes a private page in the
    clear."""
    original = SnpMachine.rmp_check

    def patched(self: SnpMachine, guest: int, vmpl: int, gpa: int, need: Perm, private: bool) -> tuple[str, int | None]:
        tr = self.npt[guest][gpa] if self.running(guest) else None
        if not private and tr is not None:
            return "ok", tr[0]
        return original(self, guest, vmpl, gpa, need, private)

    mp.setattr(SnpMachine, "rmp_check", patched)


def rmpupdate_ignores_immutable(mp: pytest.MonkeyPatch) -> None:
    """RMPUPDATE overwrites an immutable (firmware / Pre-Guest) entry."""
    original = SnpMachine.rmpupdate

    def patched(self: SnpMachine, page: int, *args: Any) -> str:
        pages = self.region(page) if args[3] else [page]
        saved = {p: self.rmp[p] for p in pages}
        for p in pages:
            self.rmp[p] = replace(self.rmp[p], immutable=False)
        out = original(self, page, *args)
        if out != "ok":
            for p, e in saved.items():
                self.rmp[p] = e
        return out

    mp.setattr(SnpMachine, "rmpupdate", patched)


MUTANTS: tuple[Mutant, ...] = (
    _mutant("rmpupdate_keeps_validated", "RMPUPDATE forgets to clear Validated", rmpupdate_keeps_validated),
    _mutant("rmpadjust_vmpl_ge", "RMPADJUST accepts target_vmpl == vmpl (>= instead of >)", rmpadjust_vmpl_ge),
    _mutant("rmpadjust_no_subset", "RMPADJUST without the subset-of-own-permissions check", rmpadjust_no_subset),
    _mutant("pvalidate_no_sizemismatch", "PVALIDATE 2M on a 4K entry validates instead of FAIL_SIZEMISMATCH",
           pvalidate_no_sizemismatch),
    _mutant("rmp_check_no_gpa", "the RMP check skips the gpa comparison", rmp_check_no_gpa),
    _mutant("psmash_drops_validated", "PSMASH clears Validated", psmash_drops_validated),
    _mutant("hv_write_2m_per_page", "a host write through a 2M mapping is checked per 4K page only",
           hv_write_2m_per_page),
    _mutant("launch_update_after_finish", "LAUNCH_UPDATE after LAUNCH_FINISH", launch_update_after_finish),
    _mutant("swap_in_no_validated", "SWAP_IN does not restore Validated", swap_in_no_validated),
    _mutant("swap_out_no_lock", "SWAP_OUT leaves the page mutable and validated", swap_out_no_lock),
    _mutant("reclaim_md_in_use", "PAGE_RECLAIM of a Metadata page with a used slot", reclaim_md_in_use),
    _mutant("guest_os_no_record", "the guest OS validates a gpa twice", guest_os_no_record),
    _mutant("shared_access_unchecked", "a C=0 guest access to an assigned page is not RMP-checked",
           shared_access_unchecked),
    _mutant("rmpupdate_ignores_immutable", "RMPUPDATE overwrites an immutable entry", rmpupdate_ignores_immutable),
)
