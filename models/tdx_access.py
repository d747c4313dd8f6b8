"""The non-module side of TDX: TD (SEAM non-root) and L2 accesses, TDCALLs, TD exits, and the
VMM's (VMX root) plain memory accesses.

In: a `TdxState`. Out: `TdxAccess`, adding td_read/td_write, tdg_mem_page_accept,
tdg_mem_page_attr_wr, l2_read/l2_write, td_exit/tdg_vp_vmcall, vmm_read/vmm_write.
Guaranteed: a TD access uses its vCPU's cached translation first (so stale-TLB accesses are
expressible), else walks the SEPT; a private KeyID is never usable from VMX root; a host read
of a TD-owned line returns the fixed pattern (zeros) [R], never TD plaintext.
"""

from __future__ import annotations

from dataclasses import replace

from models.tdx_defs import (
    EPT_VIOLATION,
    MAX_VMS,
    MC,
    NOT_RUNNING,
    OK,
    PF,
    VE,
    LpMode,
    SeptEntry,
)
from models.tdx_defs import SeptState as S
from models.tdx_state import TdxState

__all__ = ["TdxAccess"]


class TdxAccess(TdxState):
    """TD / L2 / VMM accesses and TD exits on top of the machine state."""

    def td_exit(self, td: int, vcpu: int) -> str:
        """A TD exit (asynchronous or TDG.VP.VMCALL): refcount[vcpu_epoch&1]--, LP back to VMX
        root, the vCPU stays associated [V td_exit.c:500]."""
        v = self._running(td, vcpu)
        if v is None:
            return NOT_RUNNING
        self.tds[td].refcount[v.epoch & 1] -= 1
        v.running = False
        assert v.assoc_lp is not None
        self.lp_mode[v.assoc_lp], self.lp_vcpu[v.assoc_lp] = LpMode.VMX_ROOT, None
        return OK

    def tdg_vp_vmcall(self, td: int, vcpu: int) -> str:
        """TDG.VP.VMCALL: the hypercall path, a TD exit to the VMM [V L/tdx.rst]."""
        return self.td_exit(td, vcpu)


    # ------------------------------------------------------------------ TD (SEAM non-root) side
    def _td_access(self, td: int, vcpu: int, gpa: int, value: int | None) -> tuple[str, int | None]:
        """A private access by a running vCPU: TLB first, else walk the SEPT and fill the TLB.
        PENDING -> #VE; FREE/REMOVED/*BLOCKED -> EPT violation = TD exit [V L/tdx.rst]; a read
        of a TD-bit-clear line -> MC, and the aborted access leaves no translation [R]."""
        if self._running(td, vcpu) is None:
            return NOT_RUNNING, None
        self._gpa(gpa)
        t = self.tds[td]
        pa = t.tlb[vcpu].get(gpa)
        if pa is None:
            e = t.sept.get(gpa, SeptEntry())
            if e.state is S.SEPT_PENDING:
                return VE, None
            if e.state is not S.SEPT_MAPPED or e.pa is None:
                self.td_exit(td, vcpu)
                return EPT_VIOLATION, None
            pa = e.pa
        if value is None and not self.td_bit[pa]:
            return MC, None  # integrity: a TD read of a line last written with a shared KeyID [R]
        t.tlb[vcpu][gpa] = pa
        if value is not None:
            self._store(t.hkid, pa, value)
            return OK, None
        return OK, self.mem.read_int(t.hkid, pa)

    def td_read(self, td: int, vcpu: int, gpa: int) -> tuple[str, int | None]:
        """TD private read of gpa -> (outcome, 8-byte LE value or None)."""
        return self._td_access(td, vcpu, gpa, None)

    def td_write(self, td: int, vcpu: int, gpa: int, value: int) -> str:
        """TD private write of an 8-byte LE value at offset 0 of gpa."""
        return self._td_access(td, vcpu, gpa, value)[0]

    def tdg_mem_page_accept(self, td: int, vcpu: int, gpa: int) -> str:
        """TDG.MEM.PAGE.ACCEPT by the TD: PENDING -> MAPPED after zeroing the page
        [V domain 2.4]; MAPPED -> TDX_PAGE_ALREADY_ACCEPTED [R]; other states exit to the VMM."""
        if self._running(td, vcpu) is None:
            return NOT_RUNNING
        self._gpa(gpa)
        t = self.tds[td]
        e = t.sept.get(gpa, SeptEntry())
        if e.state is S.SEPT_MAPPED:
            return "TDX_PAGE_ALREADY_ACCEPTED"
        if e.state is not S.SEPT_PENDING or e.pa is None:
            self.td_exit(td, vcpu)
            return EPT_VIOLATION
        self._store(t.hkid, e.pa, None)
        t.sept[gpa] = replace(e, state=S.SEPT_MAPPED)
        return OK

    def _l2(self, l2: int) -> bool:
        if not 0 <= l2 < MAX_VMS:
            raise ValueError(f"vm index {l2} out of range")
        return 1 <= l2 <= self.l2_vms

    def tdg_mem_page_attr_wr(self, td: int, gpa: int, l2: int, readable: bool, writable: bool,
                             vcpu: int = 0) -> str:
        """TDG.MEM.PAGE.ATTR.WR by L1 (on `vcpu`): set L2 VM `l2`'s R/W for gpa; the L1 entry must
        be MAPPED [R code]; W without R is an EPT misconfiguration -> TDX_OPERAND_INVALID [R]."""
        if self._running(td, vcpu) is None:
            return NOT_RUNNING
        self._gpa(gpa)
        if not self._l2(l2) or (writable and not readable):
            return "TDX_OPERAND_INVALID"
        t = self.tds[td]
        if t.sept.get(gpa, SeptEntry()).state is not S.SEPT_MAPPED:
            return "TDX_EPT_ENTRY_STATE_INCORRECT"
        if readable:
            t.l2_attr[l2][gpa] = (readable, writable)
        else:
            t.l2_attr[l2].pop(gpa, None)  # the alias (tdal bit) goes away
        return OK

    def _l2_access(self, td: int, l2: int, gpa: int, value: int | None,
                   vcpu: int) -> tuple[str, int | None]:
        """An L2 VM access through its SEPT alias of the L1 leaf [V TDXM sept_manager.h]; a
        violation exits to L1 (the vCPU keeps running)."""
        if self._running(td, vcpu) is None:
            return NOT_RUNNING, None
        self._gpa(gpa)
        if not self._l2(l2):
            return "TDX_OPERAND_INVALID", None
        t = self.tds[td]
        e = t.sept.get(gpa, SeptEntry())
        r, w = t.l2_attr[l2].get(gpa, (False, False))
        if e.state is not S.SEPT_MAPPED or e.pa is None or not (w if value is not None else r):
            return EPT_VIOLATION, None
        if value is not None:
            self._store(t.hkid, e.pa, value)
            return OK, None
        if not self.td_bit[e.pa]:
            return MC, None
        return OK, self.mem.read_int(t.hkid, e.pa)

    def l2_read(self, td: int, l2: int, gpa: int, vcpu: int = 0) -> tuple[str, int | None]:
        """Read by L2 VM `l2` of TD `td` -> (outcome, value or None)."""
        return self._l2_access(td, l2, gpa, None, vcpu)

    def l2_write(self, td: int, l2: int, gpa: int, value: int, vcpu: int = 0) -> str:
        """Write by L2 VM `l2` of TD `td`."""
        return self._l2_access(td, l2, gpa, value, vcpu)[0]

    # ------------------------------------------------------------------ VMM (VMX root) side
    def _vmm_keyid(self, keyid: int) -> str | None:
        if not 0 <= keyid <= self.hkids:
            raise ValueError(f"keyid {keyid} out of range")
        return PF if keyid in self.kot else None  # private KeyIDs only in SEAM [V L/tdx.rst; R #PF]

    def vmm_read(self, page: int, keyid: int = 0) -> tuple[str, bytes | None]:
        """Host read of a whole page -> (outcome, bytes): zeros for a TD-bit line [R], else the
        bytes decrypted under the shared KeyID."""
        self._page(page)
        err = self._vmm_keyid(keyid)
        if err:
            return err, None
        if self.td_bit[page]:
            return OK, bytes(self.page_bytes)
        return OK, self.mem.read(keyid, page, 0, self.page_bytes)

    def vmm_write(self, page: int, keyid: int = 0, value: int = 0) -> str:
        """Host write of an 8-byte LE value at offset 0 under a shared KeyID: allowed by the
        hardware, clears the line's TD bit (a later TD read machine-checks) [R]."""
        self._page(page)
        err = self._vmm_keyid(keyid)
        if err:
            return err
        self.mem.write_int(keyid, page, value)
        self.td_bit[page] = False
        return OK

