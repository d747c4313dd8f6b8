"""Intel TDX at the level of the TDX module's own checks (module 1.5, core non-migration flows).

In: small sizes `TdxMachine(pages=8, tds=2, gpas=2, vcpus_per_td=1, hkids=2, packages=1, seed=0,
l2_vms=0, tdcx_pages=1, page_bytes=64, lps=None)` and actions as methods named after the
SEAMCALL/TDCALL leaf or access (`tdh_mem_page_aug`, `tdg_mem_page_accept`, `td_read`, `vmm_read`, ...) with small
ints. Out: each action returns the module's status name as a string ("ok" for TDX_SUCCESS,
"TDX_OPERAND_INVALID", "TDX_PAGE_METADATA_INCORRECT", "TDX_EPT_ENTRY_STATE_INCORRECT",
"TDX_GPA_RANGE_NOT_BLOCKED", "TDX_TLB_TRACKING_NOT_DONE", "TDX_PREVIOUS_TLB_EPOCH_BUSY", ...)
or a guest-side outcome ("EPT_VIOLATION", "VE", "MC"; see tdx_defs). Reads return
`(outcome, value or None)`. Guaranteed: checks run in the module's order (TDR page type ->
TD lifecycle -> TDCS allocated -> op_state -> operands -> SEPT state -> target page PAMT),
cited per check; memory really holds ciphertext (models.memory.PhysicalMemory, one AES-XTS key
per HKID, programmed by TDH.MNG.KEY.CONFIG); out-of-range indices raise ValueError (caller bug).

Model choices (documented):
- A TD is named by its TDR page (`td` = TDR page index), as the module names it by TDR PA.
  `tds` sizes the machine: there are `lps` logical processors (LPs), `tds*vcpus_per_td` by
  default.
- KeyID 0 is the shared TME KeyID (the VMM's); private HKIDs are 1..hkids [V L/tdx.rst].
- Secure EPT is modelled at leaf level only (`sept[td][gpa]`); TDH.MEM.SEPT.ADD just
  allocates a PT_EPT page. PAGE.ADD copies an int `contents` (8 bytes LE, rest zero).
- Measurement follows the source: PAGE.ADD extends MRTD with ("MEM.PAGE.ADD", gpa) and
  TDH.MR.EXTEND with ("MR.EXTEND", gpa, page plaintext) (whole page = one chunk) [V domain 2.4].
- Each line has a TD-owner bit (logical integrity) [V TDXM README]: set by private-KeyID writes,
  cleared by shared-KeyID writes. A host read of a TD-bit line returns zeros, and a TD read
  of a TD-bit-clear line gives MC [R] (and keeps no translation). TLB: `tlb[td][vcpu]: gpa ->
  pa`, filled on TD access, flushed on VP.ENTER with a stale epoch and on VP.FLUSH [V helpers.c].
  L2 accesses are not cached. An EPT violation is a TD exit (the vCPU stops running); VE and MC keep it running.
- vCPU indices are given by the caller (the module numbers them in creation order); a vCPU that
  was never created has no TDVPR page -> TDX_PAGE_METADATA_INCORRECT, checked after the TDR and
  the TD's lifecycle / build state.
- `vmm_write(page, keyid=0, value=0)`: the VMM's value is its own data; spec/tdx.tee does not
  track it (a TD never reads it: the TD-owner bit is cleared).
- `seamcall(leaf, *args)` / `tdcall(leaf, *args)` dispatch by leaf number to the methods;
  a SEAMCALL executes atomically (VMX root -> SEAM root -> SEAMRET), so LP modes observed
  between actions are VMX_ROOT or SEAM_NONROOT (a vCPU runs on its associated LP).

observe() returns spec/tdx.tee's non-ghost state (shape: see models.tdx_state); the MRTD digest
and counters are read with `measurement(td)`. Files: tdx_defs (vocabulary), tdx_state (state,
shared checks, observe), tdx_access (TD/L2/VMM accesses, TD exit), tdx (SEAMCALLs).
"""


from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

from models.tdx_access import TdxAccess
from models.tdx_defs import (
    LP_BUSY,
    OK,
    SEAMCALL_LEAVES,
    TDCALL_LEAVES,
    KotState,
    Lifecycle,
    LpMode,
    OpState,
    PageType,
    PamtEntry,
    SeptEntry,
    SeptState,
    Td,
    Vcpu,
)

__all__ = ["TdxMachine", "KotState", "Lifecycle", "LpMode", "OpState", "PageType", "SeptState"]

S = SeptState
_BLOCKED = frozenset({S.SEPT_BLOCKED, S.SEPT_PENDING_BLOCKED})


class TdxMachine(TdxAccess):
    """The TDX module's SEAMCALL interface over the machine state (see module docstring)."""

    def _tdvpr(self, td: int, vcpu: int) -> str | None:
        """The vCPU's TDVPR page must exist (PT_TDVPR). The model checks the TDR and the TD's
        lifecycle / build state first (a vCPU is named by an index here, not by its TDVPR PA)."""
        self._vcpu_idx(vcpu)
        err = self._tdr(td)
        if err:
            return err
        return None if vcpu in self.tds[td].vcpus else "TDX_PAGE_METADATA_INCORRECT"

    # ------------------------------------------------------------------ TD build (SEAMCALLs)
    def tdh_mng_create(self, tdr_page: int, hkid: int) -> str:
        """TDH.MNG.CREATE: private HKID, TDR page NDA, KOT FREE -> ASSIGNED [V tdh_mng_create.c]."""
        self._page(tdr_page)
        if hkid not in self.kot:  # is_private_hkid
            return "TDX_OPERAND_INVALID"
        if self.pamt[tdr_page].pt is not PageType.PT_NDA:
            return "TDX_PAGE_METADATA_INCORRECT"
        if self.kot[hkid] is not KotState.HKID_FREE:
            return "TDX_HKID_NOT_FREE"
        self.kot[hkid] = KotState.HKID_ASSIGNED
        self.pamt[tdr_page] = PamtEntry(PageType.PT_TDR, None, 0)
        self.tds[tdr_page] = Td(hkid=hkid)
        self.tds[tdr_page].l2_attr = {l2: {} for l2 in range(1, self.l2_vms + 1)}
        self.tds[tdr_page].tlb = {v: {} for v in range(self.vcpus_per_td)}
        return OK

    def tdh_mng_key_config(self, td: int, package: int) -> str:
        """TDH.MNG.KEY.CONFIG on `package`: PCONFIG a fresh random key [V tdh_mng_key_config.c]."""
        if not 0 <= package < self.packages:
            raise ValueError(f"package {package} out of range")
        err = self._tdr(td)
        if err:
            return err
        t = self.tds[td]
        if t.lifecycle is not Lifecycle.TD_HKID_ASSIGNED:
            return "TDX_LIFECYCLE_STATE_INCORRECT"
        if package in t.pkg_config:
            return "TDX_KEY_CONFIGURED"
        if not t.pkg_config:  # one memory controller view: the first package programs the key
            self._key_generation += 1
            material = f"tdx-key:{self.seed}:{t.hkid}:{self._key_generation}".encode()
            self.mem.program_key(t.hkid, hashlib.sha256(material).digest())
        t.pkg_config.add(package)
        if len(t.pkg_config) == self.packages:
            t.lifecycle = Lifecycle.TD_KEYS_CONFIGURED
        return OK

    def tdh_mng_addcx(self, td: int, page: int) -> str:
        """TDH.MNG.ADDCX [V tdh_mng_add_cx.c]: keys configured, room for a TDCX, page NDA."""
        err = self._tdr(td)
        if err:
            return err
        t = self.tds[td]
        if t.lifecycle is not Lifecycle.TD_KEYS_CONFIGURED:
            return "TDX_TD_KEYS_NOT_CONFIGURED"
        if len(t.tdcx) >= self.tdcx_pages:
            return "TDX_TDCX_NUM_INCORRECT"
        err = self._free_page(page)
        if err:
            return err
        self._store(t.hkid, page, None)
        t.tdcx.append(page)
        self._assign(td, page, PageType.PT_TDCX)
        return OK

    def tdh_mng_init(self, td: int) -> str:
        """TDH.MNG.INIT: op_state UNINITIALIZED -> INITIALIZED; starts MRTD [V tdh_mng_init.c:673]."""
        err = self._td_state(td, "tdh_mng_init")
        if err:
            return err
        t = self.tds[td]
        t.op_state, t.epoch, t.mrtd = OpState.INITIALIZED, 1, hashlib.sha384()  # epoch 1 [R]
        return OK

    def tdh_vp_create(self, td: int, vcpu: int, page: int) -> str:
        """TDH.VP.CREATE: a TDVPR page from NDA (TDVPS addcx pages not modelled) [R order]."""
        self._vcpu_idx(vcpu)
        err = self._td_state(td, "tdh_vp_create")
        if err:
            return err
        t = self.tds[td]
        if vcpu in t.vcpus:
            return "TDX_OPERAND_INVALID"
        err = self._free_page(page)
        if err:
            return err
        self._store(t.hkid, page, None)
        self._assign(td, page, PageType.PT_TDVPR)
        t.vcpus[vcpu] = Vcpu(tdvpr=page)
        return OK

    def tdh_vp_init(self, td: int, vcpu: int) -> str:
        """TDH.VP.INIT: only in INITIALIZED [V op_state_lookup.c]; once per vCPU."""
        err = self._td_state(td, "tdh_vp_init") or self._tdvpr(td, vcpu)
        if err:
            return err
        v = self.tds[td].vcpus[vcpu]
        if v.initialized:
            return "TDX_VCPU_STATE_INCORRECT"
        v.initialized = True
        return OK

    def tdh_mem_sept_add(self, td: int, page: int) -> str:
        """TDH.MEM.SEPT.ADD: allocates a PT_EPT page (leaf-only SEPT model) [V domain 2.4]."""
        err = self._td_state(td, "tdh_mem_sept_add") or self._free_page(page)
        if err:
            return err
        self._store(self.tds[td].hkid, page, None)
        self._assign(td, page, PageType.PT_EPT)
        return OK

    def tdh_mem_page_add(self, td: int, gpa: int, page: int, contents: int) -> str:
        """TDH.MEM.PAGE.ADD: INITIALIZED only, SEPT FREE, page NDA -> MAPPED, PT_REG
        [V tdh_mem_page_add.c, sept_state_lookup]; extends MRTD with (MEM.PAGE.ADD, gpa)."""
        self._gpa(gpa)
        err = self._td_state(td, "tdh_mem_page_add")
        if err:
            return err
        t = self.tds[td]
        if t.sept.get(gpa, SeptEntry()).state is not S.SEPT_FREE:
            return "TDX_EPT_ENTRY_STATE_INCORRECT"
        err = self._free_page(page)
        if err:
            return err
        self._store(t.hkid, page, None)
        self._store(t.hkid, page, contents)
        t.sept[gpa] = SeptEntry(S.SEPT_MAPPED, page)
        self._assign(td, page, PageType.PT_REG)
        assert t.mrtd is not None
        t.mrtd.update(b"MEM.PAGE.ADD" + gpa.to_bytes(8, "little"))
        t.measured_pages += 1
        return OK

    def tdh_mr_extend(self, td: int, gpa: int) -> str:
        """TDH.MR.EXTEND: INITIALIZED only, SEPT MAPPED; MRTD += (MR.EXTEND, gpa, contents)."""
        self._gpa(gpa)
        err = self._td_state(td, "tdh_mr_extend")
        if err:
            return err
        t = self.tds[td]
        e = t.sept.get(gpa, SeptEntry())
        if e.state is not S.SEPT_MAPPED or e.pa is None:
            return "TDX_EPT_ENTRY_STATE_INCORRECT"
        assert t.mrtd is not None
        data = self.mem.read(t.hkid, e.pa, 0, self.page_bytes)
        t.mrtd.update(b"MR.EXTEND" + gpa.to_bytes(8, "little") + data)
        t.extended_pages += 1
        return OK

    def tdh_mr_finalize(self, td: int) -> str:
        """TDH.MR.FINALIZE: INITIALIZED -> RUNNABLE; MRTD frozen [V tdh_mr_finalize.c:171]."""
        err = self._td_state(td, "tdh_mr_finalize")
        if err:
            return err
        t = self.tds[td]
        t.mrtd_final, t.op_state = t.mrtd_hex(), OpState.RUNNABLE
        return OK

    # ------------------------------------------------------------------ SEPT management
    def tdh_mem_page_aug(self, td: int, gpa: int, page: int) -> str:
        """TDH.MEM.PAGE.AUG: SEPT FREE/REMOVED -> PENDING, page NDA -> PT_REG [V tdh_mem_page_aug.c]."""
        self._gpa(gpa)
        err = self._td_state(td, "tdh_mem_page_aug")
        if err:
            return err
        t = self.tds[td]
        if t.sept.get(gpa, SeptEntry()).state not in (S.SEPT_FREE, S.SEPT_REMOVED):
            return "TDX_EPT_ENTRY_STATE_INCORRECT"
        err = self._free_page(page)
        if err:
            return err
        t.sept[gpa] = SeptEntry(S.SEPT_PENDING, page)
        self._assign(td, page, PageType.PT_REG)
        return OK

    def tdh_mem_range_block(self, td: int, gpa: int) -> str:
        """TDH.MEM.RANGE.BLOCK: MAPPED/PENDING -> *BLOCKED; PAMT.bepoch := td_epoch
        [V tdh_mem_range_block.c:279]. L2 aliases are blocked with it (L2 access needs MAPPED)."""
        self._gpa(gpa)
        err = self._td_state(td, "tdh_mem_range_block")
        if err:
            return err
        t = self.tds[td]
        e = t.sept.get(gpa, SeptEntry())
        if e.state in _BLOCKED:
            return "TDX_GPA_RANGE_ALREADY_BLOCKED"
        if e.state not in (S.SEPT_MAPPED, S.SEPT_PENDING) or e.pa is None:
            return "TDX_EPT_ENTRY_STATE_INCORRECT"
        new = S.SEPT_BLOCKED if e.state is S.SEPT_MAPPED else S.SEPT_PENDING_BLOCKED
        t.sept[gpa] = replace(e, state=new)
        self.pamt[e.pa] = replace(self.pamt[e.pa], bepoch=t.epoch)
        return OK

    def tdh_mem_track(self, td: int) -> str:
        """TDH.MEM.TRACK: refcount of the previous epoch must be 0, then td_epoch++ [V tdh_mem_track.c]."""
        err = self._td_state(td, "tdh_mem_track")
        if err:
            return err
        t = self.tds[td]
        if t.refcount[1 - (t.epoch & 1)] != 0:
            return "TDX_PREVIOUS_TLB_EPOCH_BUSY"
        t.epoch += 1
        return OK

    def tdh_mem_range_unblock(self, td: int, gpa: int) -> str:
        """TDH.MEM.RANGE.UNBLOCK: *BLOCKED -> MAPPED/PENDING, needs is_tlb_tracked when the TD may
        run [V grep of api_calls, domain 2.4]."""
        self._gpa(gpa)
        err = self._td_state(td, "tdh_mem_range_unblock")
        if err:
            return err
        t = self.tds[td]
        e = t.sept.get(gpa, SeptEntry())
        if e.state not in _BLOCKED or e.pa is None:
            return "TDX_EPT_ENTRY_STATE_INCORRECT"
        if self._tracking_needed(t) and not self._is_tlb_tracked(t, self.pamt[e.pa].bepoch):
            return "TDX_TLB_TRACKING_NOT_DONE"
        new = S.SEPT_MAPPED if e.state is S.SEPT_BLOCKED else S.SEPT_PENDING
        t.sept[gpa] = replace(e, state=new)
        return OK

    def tdh_mem_page_remove(self, td: int, gpa: int) -> str:
        """TDH.MEM.PAGE.REMOVE [V tdh_mem_page_remove.c:171-228]: while the TD may run the entry
        must be *BLOCKED and TLB-tracked (PENDING too: tracking assumed required [R]); clears L2
        aliases, SEPT -> FREE, chldcnt--, PAMT -> PT_NDA."""
        self._gpa(gpa)
        err = self._td_state(td, "tdh_mem_page_remove")
        if err:
            return err
        t = self.tds[td]
        e = t.sept.get(gpa, SeptEntry())
        if e.state in (S.SEPT_FREE, S.SEPT_REMOVED) or e.pa is None:
            return "TDX_EPT_ENTRY_STATE_INCORRECT"
        if self._tracking_needed(t):
            if e.state not in _BLOCKED:
                return "TDX_GPA_RANGE_NOT_BLOCKED"
            if not self._is_tlb_tracked(t, self.pamt[e.pa].bepoch):
                return "TDX_TLB_TRACKING_NOT_DONE"
        for attrs in t.l2_attr.values():
            attrs.pop(gpa, None)
        t.sept[gpa] = SeptEntry()
        t.chldcnt -= 1
        self.pamt[e.pa] = PamtEntry()
        return OK

    # ------------------------------------------------------------------ vCPU entry / exit
    def _pick_lp(self, v: Vcpu, lp: int | None) -> int | str:
        if lp is None:
            if v.assoc_lp is not None:
                lp = v.assoc_lp
            else:
                free = [i for i, m in enumerate(self.lp_mode) if m is LpMode.VMX_ROOT]
                if not free:
                    return LP_BUSY
                lp = free[0]
        if not 0 <= lp < len(self.lp_mode):
            raise ValueError(f"lp {lp} out of range")
        if v.assoc_lp is not None and v.assoc_lp != lp:
            return "TDX_VCPU_ASSOCIATED"  # must VP.FLUSH on the old LP first [R name]
        if self.lp_mode[lp] is not LpMode.VMX_ROOT:
            return LP_BUSY
        return lp

    def tdh_vp_enter(self, td: int, vcpu: int, lp: int | None = None) -> str:
        """TDH.VP.ENTER: RUNNABLE only; associates the vCPU with the LP; takes the current epoch,
        refcount[epoch&1]++, flushes the vCPU's TLB if its epoch is stale [V helpers.c
        adjust_tlb_tracking_state]. The LP goes to SEAM_NONROOT."""
        err = self._td_state(td, "tdh_vp_enter") or self._tdvpr(td, vcpu)
        if err:
            return err
        t = self.tds[td]
        v = t.vcpus[vcpu]
        if v.running:
            return "TDX_OPERAND_BUSY"  # TDVPR locked by the running vCPU [R]
        if not v.initialized:
            return "TDX_VCPU_STATE_INCORRECT"
        got = self._pick_lp(v, lp)
        if isinstance(got, str):
            return got
        if v.assoc_lp is None:
            v.assoc_lp = got
            t.num_assoc_vcpus += 1
        if v.epoch != t.epoch:
            t.tlb[vcpu].clear()  # INVEPT on the TD's Secure EPTs
            v.epoch = t.epoch
        t.refcount[v.epoch & 1] += 1
        v.running = True
        self.lp_mode[got], self.lp_vcpu[got] = LpMode.SEAM_NONROOT, (td, vcpu)
        return OK

    def tdh_vp_flush(self, td: int, vcpu: int) -> str:
        """TDH.VP.FLUSH on the vCPU's LP: INVEPT, disassociate, num_assoc_vcpus-- [V tdh_vp_flush.c]."""
        err = self._tdr(td)
        if err:
            return err
        t = self.tds[td]
        if t.lifecycle is not Lifecycle.TD_KEYS_CONFIGURED:
            return "TDX_TD_KEYS_NOT_CONFIGURED"
        err = self._tdvpr(td, vcpu)
        if err:
            return err
        v = t.vcpus[vcpu]
        if v.running:
            return LP_BUSY  # its LP is executing the TD: the VMM cannot SEAMCALL there
        if v.assoc_lp is None:
            return "TDX_VCPU_NOT_ASSOCIATED"
        t.tlb[vcpu].clear()
        v.assoc_lp = None
        t.num_assoc_vcpus -= 1
        return OK

    # ------------------------------------------------------------------ teardown
    def tdh_mng_vpflushdone(self, td: int) -> str:
        """TDH.MNG.VPFLUSHDONE: no associated vCPUs; TD_BLOCKED, KOT FLUSHED, wbinvd bitmap := all
        packages [V tdh_mng_vpflushdone.c]."""
        err = self._tdr(td)
        if err:
            return err
        t = self.tds[td]
        if t.lifecycle not in (Lifecycle.TD_KEYS_CONFIGURED, Lifecycle.TD_HKID_ASSIGNED):
            return "TDX_LIFECYCLE_STATE_INCORRECT"
        if len(t.tdcx) >= self.tdcx_pages and t.op_state is not OpState.UNINITIALIZED \
                and t.num_assoc_vcpus != 0:
            return "TDX_FLUSHVP_NOT_DONE"
        self.wbinvd[t.hkid] = set(range(self.packages))
        t.lifecycle = Lifecycle.TD_BLOCKED
        self.kot[t.hkid] = KotState.HKID_FLUSHED
        return OK

    def tdh_phymem_cache_wb(self, package: int) -> str:
        """TDH.PHYMEM.CACHE.WB on `package`: clears that package's bit for every FLUSHED HKID
        [V tdh_phymem_cache_wb.c] (run uninterrupted)."""
        if not 0 <= package < self.packages:
            raise ValueError(f"package {package} out of range")
        flushed = [h for h, s in self.kot.items() if s is KotState.HKID_FLUSHED]
        if not flushed:
            return "TDX_NO_HKID_READY_TO_WBCACHE"
        for h in flushed:
            self.wbinvd[h].discard(package)
        return OK

    def tdh_mng_key_freeid(self, td: int) -> str:
        """TDH.MNG.KEY.FREEID: TD_BLOCKED and every package written back; KOT -> FREE,
        TD_TEARDOWN [V tdh_mng_key_freeid.c]."""
        err = self._tdr(td)
        if err:
            return err
        t = self.tds[td]
        if t.lifecycle is not Lifecycle.TD_BLOCKED:
            return "TDX_LIFECYCLE_STATE_INCORRECT"
        if self.wbinvd[t.hkid]:
            return "TDX_WBCACHE_NOT_COMPLETE"
        self.kot[t.hkid] = KotState.HKID_FREE
        t.lifecycle = Lifecycle.TD_TEARDOWN
        return OK

    def tdh_phymem_page_reclaim(self, page: int) -> str:
        """TDH.PHYMEM.PAGE.RECLAIM [V tdh_phymem_page_reclaim.c]: not NDA/RSVD; owner TD in
        TD_TEARDOWN; a TDR needs chldcnt 0. pt := PT_NDA; contents NOT cleared. Reclaiming the
        TDR forgets the TD (its TDCS/SEPT lived in the reclaimed pages)."""
        self._page(page)
        e = self.pamt[page]
        if e.pt in (PageType.PT_NDA, PageType.PT_RSVD):
            return "TDX_PAGE_METADATA_INCORRECT"
        td = page if e.pt is PageType.PT_TDR else e.owner
        assert td is not None
        t = self.tds[td]
        if t.lifecycle is not Lifecycle.TD_TEARDOWN:
            return "TDX_LIFECYCLE_STATE_INCORRECT"
        if e.pt is PageType.PT_TDR:
            if t.chldcnt != 0:
                return "TDX_TD_ASSOCIATED_PAGES_EXIST"
            del self.tds[td]
        else:
            t.chldcnt -= 1
        self.pamt[page] = PamtEntry()
        return OK

    # ------------------------------------------------------------------ dispatch + observe
    def seamcall(self, leaf: int, *args: int) -> str:
        """SEAMCALL from VMX root: dispatch by leaf number; the module returns with SEAMRET."""
        name = SEAMCALL_LEAVES.get(leaf)
        if name is None:
            return "TDX_OPERAND_INVALID"
        fn: Callable[..., str] = getattr(self, name)
        return fn(*args)

    def tdcall(self, leaf: int, *args: int) -> str:
        """TDCALL from SEAM non-root (args start with td, vcpu for accept/vmcall)."""
        name = TDCALL_LEAVES.get(leaf)
        if name is None:
            return "TDX_OPERAND_INVALID"
        fn: Callable[..., str] = getattr(self, name)
        return fn(*args)
