"""State of the TDX machine: PAMT, KOT, TDs (TDR/TDCS/SEPT/vCPUs/TLB), LP modes, memory.

In: the sizes (see models.tdx). Out: `TdxState`, the base class holding the state, the shared
checks of the module (TDR page type, TD build state, free page, is_tlb_tracked) and observe().
Guaranteed: observe() returns only plain values (shape below); nothing here changes state
except the allocation/store helpers the actions call.

observe() shape: {"kot": {hkid: KotState name}, "wbinvd": {hkid: frozenset(package)},
"lp": {lp: LpMode name}, "td": {tdr: {"lifecycle", "op_state", "hkid", "pkg_config"
(frozenset), "num_tdcx", "chldcnt", "epoch", "refcount" (tuple), "num_assoc_vcpus",
"measured_pages", "extended_pages", "mrtd" (SHA-384 hex or None before MNG.INIT)}},
"vcpu": {tdr: {vcpu: {"tdvpr", "initialized", "running", "assoc_lp", "epoch"}}},
"pamt": {page: {"page_type", "owner" (TDR page or None), "bepoch"}},
"sept": {tdr: {gpa: {"state", "pa"}}}, "mem": {page: int plaintext of a PT_REG page under its
owner's HKID, None otherwise or when the owner is in TD_TEARDOWN}, "td_bit": {page: bool},
"tlb": {tdr: {vcpu: {gpa: pa}}}, "l2_attr": {tdr: {l2: {gpa: {"readable", "writable"}}}}}.
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
    Td,
    Vcpu,
)

__all__ = ["TdxState"]


class TdxState:
    """PAMT + KOT + per-TD TDR/TDCS/SEPT/vCPUs + per-LP mode + encrypted physical memory."""

    def __init__(self, *, pages: int = 8, tds: int = 2, gpas: int = 2, vcpus_per_td: int = 1,
                 hkids: int = 2, packages: int = 1, seed: int = 0, l2_vms: int = 0,
                 tdcx_pages: int = 1, page_bytes: int = 64,
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
        self.lp_mode = [LpMode.VMX_ROOT] * max(1, tds * vcpus_per_td)
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


    def plaintext(self, page: int) -> int | None:
        """Plaintext int of a PT_REG page under its owner's HKID (None if not REG / torn down)."""
        e = self.pamt[page]
        if e.pt is not PageType.PT_REG or e.owner is None:
            return None
        t = self.tds[e.owner]
        if t.lifecycle is Lifecycle.TD_TEARDOWN:
            return None
        return self.mem.read_int(t.hkid, page)

    def observe(self) -> dict[str, object]:
        """The spec-visible state; shape in the module docstring."""
        tds = sorted(self.tds)
        return {
            "kot": {h: s.name for h, s in self.kot.items()},
            "wbinvd": {h: frozenset(b) for h, b in self.wbinvd.items()},
            "lp": {i: m.name for i, m in enumerate(self.lp_mode)},
            "td": {d: {
                "lifecycle": t.lifecycle.name, "op_state": t.op_state.name, "hkid": t.hkid,
                "pkg_config": frozenset(t.pkg_config), "num_tdcx": len(t.tdcx),
                "chldcnt": t.chldcnt, "epoch": t.epoch, "refcount": tuple(t.refcount),
                "num_assoc_vcpus": t.num_assoc_vcpus, "measured_pages": t.measured_pages,
                "extended_pages": t.extended_pages, "mrtd": t.mrtd_hex(),
            } for d in tds for t in [self.tds[d]]},
            "vcpu": {d: {v: x.record() for v, x in sorted(self.tds[d].vcpus.items())} for d in tds},
            "pamt": {p: e.record() for p, e in enumerate(self.pamt)},
            "sept": {d: {g: self.tds[d].sept.get(g, SeptEntry()).record()
                         for g in range(self.gpas)} for d in tds},
            "mem": {p: self.plaintext(p) for p in range(self.pages)},
            "td_bit": dict(enumerate(self.td_bit)),
            "tlb": {d: {v: dict(m) for v, m in self.tds[d].tlb.items()} for d in tds},
            "l2_attr": {d: {l2: {g: dict(zip(("readable", "writable"),
                                             self.tds[d].l2_attr[l2].get(g, (False, False)),
                                             strict=True))
                                 for g in range(self.gpas)}
                            for l2 in range(1, self.l2_vms + 1)} for d in tds},
        }

