"""State of the TDX machine: PAMT, KOT, TDs (TDR/TDCS/SEPT/vCPUs/TLB), LP modes, memory.

In: the sizes (see models.tdx). Out: `TdxState`, the base class holding the state, the shared
checks of the module (TDR page type, TD build state, free page, is_tlb_tracked) and observe().
Guaranteed: observe() returns only plain values, in exactly the shape of spec/tdx.tee's non-ghost
state (values.to_plain: enums as member names, maps as dicts over their whole domain, sets as
frozensets, options as None or the value); nothing here changes state except the
allocation/store helpers the actions call.

observe() shape (h: private HKID 1..hkids, p: page, v: vCPU, g: gpa, l: L2 VM 1..l2_vms):
  "kot": {h: KotState name}, "wbinvd": {h: frozenset(package)}, "lp_mode": {lp: LpMode name},
  "pamt": {p: {"page_type", "owner" (TDR page or None), "bepoch"}},
  "tds": {p: {"lifecycle", "hkid", "pkg_config" (frozenset), "num_tdcx", "chldcnt",
              "op_state"}} -- the TD whose TDR is p, else the initial record (hkid 0),
  "tdcs": {h: {"epoch", "refcount" ({0: n, 1: n}), "num_assoc_vcpus"}},
  "tdvps": {h: {v: None or {"tdvpr", "initialized", "running", "assoc_lp", "epoch"}}},
  "sept": {h: {g: {"state", "pa"}}}, "tlb": {h: {v: {g: pa or None}}},
  "l2_attr": {h: {l: {g: {"readable", "writable"}}}},
  "mem": {p: the int plaintext the owning TD reads, or None when it cannot read the page},
  "td_bit": {p: bool}.
The run-time state ("tdcs" .. "l2_attr") is shown per HKID: that of the TD that holds the HKID
and is not in TD_TEARDOWN (the KOT names one TD per assigned HKID), else the initial values.
A page is readable by its owner when it is PT_REG of a TD not in TD_TEARDOWN, its TD-owner bit
is set, and the TD's SEPT maps it MAPPED or BLOCKED.
"""

from __future__ import annotations

from models.memory import PhysicalMemory
from models.tdx_defs import (
    MAX_VMS,
    OP_STATE_ALLOWED,
    TLB_TRACKING_REQUIRED,
    KotState,
    Lifecycle,
    LpMode,
    PageType,
    PamtEntry,
    SeptEntry,
    SeptState,
    Td,
    Vcpu,
)

__all__ = ["TdxState"]

_ACCESSIBLE = frozenset({SeptState.SEPT_MAPPED, SeptState.SEPT_BLOCKED})


class TdxState:
    """PAMT + KOT + per-TD TDR/TDCS/SEPT/vCPUs + per-LP mode + encrypted physical memory."""

    def __init__(self, *, pages: int = 8, tds: int = 2, gpas: int = 2, vcpus_per_td: int = 1,
                 hkids: int = 2, packages: int = 1, seed: int = 0, l2_vms: int = 0,
                 tdcx_pages: int = 1, page_bytes: int = 64, lps: int | None = None,
                 reserved: frozenset[int] = frozenset()) -> None:
        if not 0 <= l2_vms < MAX_VMS:
            raise ValueError("l2_vms must be in 0..3")
        self.pages, self.gpas, self.vcpus_per_td = pages, gpas, vcpus_per_td
        self.hkids, self.packages, self.l2_vms = hkids, packages, l2_vms
        self.tdcx_pages, self.page_bytes, self.seed = tdcx_pages, page_bytes, seed
        self.mem = PhysicalMemory(pages, page_bytes=page_bytes, mode="xts-line", seed=seed)
        self.mem.program_key(0)  # the TME / shared KeyID 0
        self.pamt = [PamtEntry(PageType.PT_RSVD if p in reserved else PageType.PT_NDA)
                     for p in range(pages)]
        self.kot = {h: KotState.HKID_FREE for h in range(1, hkids + 1)}
        self.wbinvd = {h: set[int]() for h in range(1, hkids + 1)}  # KOT.wbinvd_bitmap
        self.td_bit = [False] * pages
        self.lp_mode = [LpMode.VMX_ROOT] * (lps if lps is not None else max(1, tds * vcpus_per_td))
        self.lp_vcpu: list[tuple[int, int] | None] = [None] * len(self.lp_mode)
        self.tds: dict[int, Td] = {}
        self._key_generation = 0

    # ------------------------------------------------------------------ helpers
    def _page(self, page: int) -> None:
        if not 0 <= page < self.pages:
            raise ValueError(f"page {page} out of range")

    def _gpa(self, gpa: int) -> None:
        if not 0 <= gpa < self.gpas:
            raise ValueError(f"gpa {gpa} out of range")

    def _vcpu_idx(self, vcpu: int) -> None:
        if not 0 <= vcpu < self.vcpus_per_td:
            raise ValueError(f"vcpu {vcpu} out of range")

    def _tdr(self, td: int) -> str | None:
        """check_lock_and_map_explicit_tdr: the page must be PT_TDR [V TDXM helpers.c]."""
        self._page(td)
        return None if self.pamt[td].pt is PageType.PT_TDR else "TDX_PAGE_METADATA_INCORRECT"

    def _td_state(self, td: int, leaf: str) -> str | None:
        """TDR check, then check_td_in_correct_build_state + op_state table [V TDXM helpers.c]."""
        err = self._tdr(td)
        if err:
            return err
        t = self.tds[td]
        if t.lifecycle is not Lifecycle.TD_KEYS_CONFIGURED:
            return "TDX_TD_KEYS_NOT_CONFIGURED"
        if len(t.tdcx) < self.tdcx_pages:
            return "TDX_TDCS_NOT_ALLOCATED"
        if t.op_state not in OP_STATE_ALLOWED[leaf]:
            return "TDX_OP_STATE_INCORRECT"
        return None

    def _free_page(self, page: int) -> str | None:
        """check_and_lock_free_range_hpa: every allocation takes a PT_NDA page [V tdh_mem_page_aug.c]."""
        self._page(page)
        return None if self.pamt[page].pt is PageType.PT_NDA else "TDX_PAGE_METADATA_INCORRECT"

    def _assign(self, td: int, page: int, pt: PageType) -> None:
        self.pamt[page] = PamtEntry(pt, td, 0)
        self.tds[td].chldcnt += 1

    def _store(self, hkid: int, page: int, value: int | None) -> None:
        """A direct (MOVDIR64B-style) store by the module or TD under a private HKID."""
        if value is None:
            self.mem.zero(hkid, page)
        else:
            self.mem.write_int(hkid, page, value)
        self.td_bit[page] = True

    def _is_tlb_tracked(self, t: Td, bepoch: int) -> bool:
        """is_tlb_tracked [V TDXM helpers.h:1218]."""
        return bepoch < t.epoch - 1 or (bepoch == t.epoch - 1 and t.refcount[bepoch & 1] == 0)

    def _tracking_needed(self, t: Td) -> bool:
        return t.op_state in TLB_TRACKING_REQUIRED


    def _running(self, td: int, vcpu: int) -> Vcpu | None:
        self._page(td)
        self._vcpu_idx(vcpu)
        t = self.tds.get(td)
        v = None if t is None else t.vcpus.get(vcpu)
        return v if v is not None and v.running else None


    def _live_holder(self, hkid: int) -> Td | None:
        """The TD that holds `hkid` and is not in TD_TEARDOWN (at most one: the KOT's owner)."""
        for t in self.tds.values():
            if t.hkid == hkid and t.lifecycle is not Lifecycle.TD_TEARDOWN:
                return t
        return None

    def plaintext(self, page: int) -> int | None:
        """The int its owner TD reads in `page` (8 bytes LE at offset 0), or None when the owner
        cannot read it: not PT_REG of a TD outside TD_TEARDOWN, TD-owner bit clear, or not mapped
        MAPPED/BLOCKED in the TD's SEPT (a PENDING page is never readable)."""
        self._page(page)
        e = self.pamt[page]
        if e.pt is not PageType.PT_REG or e.owner is None or not self.td_bit[page]:
            return None
        t = self.tds[e.owner]
        if t.lifecycle is Lifecycle.TD_TEARDOWN:
            return None
        if not any(x.pa == page and x.state in _ACCESSIBLE for x in t.sept.values()):
            return None
        return self.mem.read_int(t.hkid, page)

    def measurement(self, td: int) -> dict[str, object]:
        """MRTD of the TD whose TDR is `td`: SHA-384 hex (None before MNG.INIT) and the numbers of
        PAGE.ADDs and MR.EXTENDs measured."""
        t = self.tds[td]
        return {"mrtd": t.mrtd_hex(), "measured_pages": t.measured_pages,
                "extended_pages": t.extended_pages}

    def observe(self) -> dict[str, object]:
        """The spec-visible state; shape in the module docstring."""
        hkids = range(1, self.hkids + 1)
        gpas, vcpus, l2s = range(self.gpas), range(self.vcpus_per_td), range(1, self.l2_vms + 1)
        held = {h: self._live_holder(h) for h in hkids}
        fresh_tdr = {"lifecycle": "TD_HKID_ASSIGNED", "hkid": 0, "pkg_config": frozenset(),
                     "num_tdcx": 0, "chldcnt": 0, "op_state": "UNINITIALIZED"}

        def tdr(p: int) -> dict[str, object]:
            t = self.tds.get(p)
            if t is None:
                return dict(fresh_tdr)
            return {"lifecycle": t.lifecycle.name, "hkid": t.hkid,
                    "pkg_config": frozenset(t.pkg_config), "num_tdcx": len(t.tdcx),
                    "chldcnt": t.chldcnt, "op_state": t.op_state.name}

        def tdcs(t: Td | None) -> dict[str, object]:
            if t is None:
                return {"epoch": 0, "refcount": {0: 0, 1: 0}, "num_assoc_vcpus": 0}
            return {"epoch": t.epoch, "refcount": dict(enumerate(t.refcount)),
                    "num_assoc_vcpus": t.num_assoc_vcpus}

        def vcpu(t: Td | None, v: int) -> dict[str, object] | None:
            x = None if t is None else t.vcpus.get(v)
            return None if x is None else x.record()

        def sept(t: Td | None, g: int) -> dict[str, object]:
            return (SeptEntry() if t is None else t.sept.get(g, SeptEntry())).record()

        def tlb(t: Td | None, v: int, g: int) -> int | None:
            return None if t is None else t.tlb.get(v, {}).get(g)

        def attr(t: Td | None, l2: int, g: int) -> dict[str, bool]:
            r, w = (False, False) if t is None else t.l2_attr.get(l2, {}).get(g, (False, False))
            return {"readable": r, "writable": w}

        return {
            "kot": {h: self.kot[h].name for h in hkids},
            "wbinvd": {h: frozenset(self.wbinvd[h]) for h in hkids},
            "lp_mode": {i: m.name for i, m in enumerate(self.lp_mode)},
            "pamt": {p: e.record() for p, e in enumerate(self.pamt)},
            "tds": {p: tdr(p) for p in range(self.pages)},
            "tdcs": {h: tdcs(held[h]) for h in hkids},
            "tdvps": {h: {v: vcpu(held[h], v) for v in vcpus} for h in hkids},
            "sept": {h: {g: sept(held[h], g) for g in gpas} for h in hkids},
            "tlb": {h: {v: {g: tlb(held[h], v, g) for g in gpas} for v in vcpus} for h in hkids},
            "l2_attr": {h: {l2: {g: attr(held[h], l2, g) for g in gpas} for l2 in l2s} for h in hkids},
            "mem": {p: self.plaintext(p) for p in range(self.pages)},
            "td_bit": dict(enumerate(self.td_bit)),
        }
