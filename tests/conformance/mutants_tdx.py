"""Seeded bugs in models/tdx.py, applied by monkeypatching one method (never committed).

In: a pytest MonkeyPatch. Out: `MUTANTS`, each a plausible implementation mistake in the TDX
module's checks (issue 7 and domain.md 2 / 6.10-6.15), with the number of conformance runs the
test gives it. Guarantees: `Mutant.apply` changes TdxMachine only for the duration of the test
(monkeypatch undoes it); the unpatched model is untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models.tdx import TdxMachine
from models.tdx_defs import OK, KotState, Lifecycle, PageType
from tests.conformance.mutant import Mutant


def _with(method: Callable[..., Any], attr: str, value: Callable[..., Any]) -> Callable[..., Any]:
    """`method` with the instance attribute `attr` (a helper of the module) replaced while it runs."""

    def patched(self: TdxMachine, *args: Any) -> Any:
        setattr(self, attr, value.__get__(self))
        try:
            return method(self, *args)
        finally:
            delattr(self, attr)

    return patched


def remove_without_track(mp: pytest.MonkeyPatch) -> None:
    """PAGE.REMOVE checks that the entry is blocked but not is_tlb_tracked(bepoch)."""
    mp.setattr(TdxMachine, "tdh_mem_page_remove",
               _with(TdxMachine.tdh_mem_page_remove, "_is_tlb_tracked", lambda self, t, b: True))


def accept_no_zero(mp: pytest.MonkeyPatch) -> None:
    """ACCEPT takes the lines for the TD (TD-owner bit) but does not zero them."""

    def claim(self: TdxMachine, hkid: int, page: int, value: int | None) -> None:
        self.td_bit[page] = True

    mp.setattr(TdxMachine, "tdg_mem_page_accept", _with(TdxMachine.tdg_mem_page_accept, "_store", claim))


def aug_not_free(mp: pytest.MonkeyPatch) -> None:
    """AUG does not check that the page is PT_NDA (check_and_lock_free_range_hpa left out)."""
    mp.setattr(TdxMachine, "tdh_mem_page_aug",
               _with(TdxMachine.tdh_mem_page_aug, "_free_page", lambda self, page: None))


def freeid_without_wb(mp: pytest.MonkeyPatch) -> None:
    """KEY.FREEID frees the HKID without checking that every package wrote its cache back."""

    def patched(self: TdxMachine, td: int) -> str:
        err = self._tdr(td)
        if err:
            return err
        t = self.tds[td]
        if t.lifecycle is not Lifecycle.TD_BLOCKED:
            return "TDX_LIFECYCLE_STATE_INCORRECT"
        self.kot[t.hkid] = KotState.HKID_FREE
        t.lifecycle = Lifecycle.TD_TEARDOWN
        return OK

    mp.setattr(TdxMachine, "tdh_mng_key_freeid", patched)


def reclaim_tdr_first(mp: pytest.MonkeyPatch) -> None:
    """RECLAIM of a TDR does not check chldcnt: the TDR may go before its children."""
    original = TdxMachine.tdh_phymem_page_reclaim

    def patched(self: TdxMachine, page: int) -> str:
        t = self.tds.get(page)
        if t is not None and self.pamt[page].pt is PageType.PT_TDR and t.lifecycle is Lifecycle.TD_TEARDOWN:
            t.chldcnt = 0
        return original(self, page)

    mp.setattr(TdxMachine, "tdh_phymem_page_reclaim", patched)


def tracked_off_by_one(mp: pytest.MonkeyPatch) -> None:
    """is_tlb_tracked as `bepoch < td_epoch`: a block in the previous epoch counts as tracked
    even while a vCPU is still counted in that epoch."""
    mp.setattr(TdxMachine, "_is_tlb_tracked", lambda self, t, bepoch: bepoch < t.epoch)


def l2_alias_kept(mp: pytest.MonkeyPatch) -> None:
    """PAGE.REMOVE clears the L1 leaf but leaves the L2 VMs' aliases of it."""
    original = TdxMachine.tdh_mem_page_remove

    def patched(self: TdxMachine, td: int, gpa: int) -> str:
        t = self.tds.get(td)
        saved = {} if t is None else {l2: a[gpa] for l2, a in t.l2_attr.items() if gpa in a}
        out = original(self, td, gpa)
        if out == OK and t is not None:
            for l2, rw in saved.items():
                t.l2_attr[l2][gpa] = rw
        return out

    mp.setattr(TdxMachine, "tdh_mem_page_remove", patched)


def enter_without_invept(mp: pytest.MonkeyPatch) -> None:
    """VP.ENTER of a vCPU from an older epoch does not flush its cached translations."""
    original = TdxMachine.tdh_vp_enter

    def patched(self: TdxMachine, td: int, vcpu: int, lp: int | None = None) -> str:
        t = self.tds.get(td)
        saved = dict(t.tlb.get(vcpu, {})) if t is not None else {}
        out = original(self, td, vcpu, lp)
        if out == OK and t is not None:
            t.tlb[vcpu].update(saved)
        return out

    mp.setattr(TdxMachine, "tdh_vp_enter", patched)


def track_ignores_refcount(mp: pytest.MonkeyPatch) -> None:
    """MEM.TRACK advances the epoch while a vCPU is still counted in the previous one."""

    def patched(self: TdxMachine, td: int) -> str:
        err = self._td_state(td, "tdh_mem_track")
        if err:
            return err
        self.tds[td].epoch += 1
        return OK

    mp.setattr(TdxMachine, "tdh_mem_track", patched)


MUTANTS: tuple[Mutant, ...] = (
    Mutant("remove_without_track", "PAGE.REMOVE without the TLB-tracking check", remove_without_track),
    Mutant("accept_no_zero", "TDG.MEM.PAGE.ACCEPT does not zero the page", accept_no_zero),
    Mutant("aug_not_free", "PAGE.AUG of a page that is not PT_NDA", aug_not_free),
    Mutant("freeid_without_wb", "KEY.FREEID without the cache write-back check", freeid_without_wb),
    Mutant("reclaim_tdr_first", "RECLAIM of the TDR before its children", reclaim_tdr_first),
    Mutant("tracked_off_by_one", "is_tlb_tracked compares the epochs off by one", tracked_off_by_one),
    Mutant("l2_alias_kept", "PAGE.REMOVE leaves the L2 aliases", l2_alias_kept),
    Mutant("enter_without_invept", "VP.ENTER from an older epoch without INVEPT", enter_without_invept),
    Mutant("track_ignores_refcount", "MEM.TRACK ignores the previous epoch's refcount", track_ignores_refcount),
)
