"""Intel TDX module 1.5 vocabulary: state enums, status names, leaf numbers, control records.

In: nothing (definitions only). Out: the enums whose member NAMEs appear in
`TdxMachine.observe()`, the SEAMCALL/TDCALL leaf numbers, the op_state table used by the state
checks, and the mutable control records (TDR+TDCS, TDVPS) the machine keeps per TD / vCPU.
Guaranteed: names are the TDX module's own (domain.md section 2, source keys cited per item).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum

OK = "ok"  # TDX_SUCCESS

# Guest-side outcomes (not SEAMCALL statuses): EPT_VIOLATION = TD exit to the VMM [V L/tdx.rst],
# VE = #VE injected into the TD [V L/tdx.rst], MC = machine check on a poisoned / TD-bit-clear
# line [R], PF = a non-SEAM access with a private KeyID faults [R]; NOT_RUNNING / LP_BUSY are the
# model's "action not enabled" codes (the named vCPU is not executing / no LP in VMX root).
EPT_VIOLATION = "EPT_VIOLATION"
VE = "VE"
MC = "MC"
PF = "PF"
NOT_RUNNING = "NOT_RUNNING"
LP_BUSY = "LP_BUSY"


class PageType(Enum):
    """PAMT page type `pt` [V TDXM pamt_manager.h]."""

    PT_NDA = 0
    PT_RSVD = 1
    PT_REG = 3
    PT_TDR = 4
    PT_TDCX = 5
    PT_TDVPR = 6
    PT_EPT = 8


class SeptState(Enum):
    """Leaf Secure-EPT states (core subset) [V TDXM sept_state_lookup.h]; the encodings are
    FREE 0xE, REMOVED 0xC, MAPPED 0x60, BLOCKED 0x68, PENDING 0x70, PENDING_BLOCKED 0x78."""

    SEPT_FREE = 0xE
    SEPT_REMOVED = 0xC
    SEPT_MAPPED = 0x60
    SEPT_BLOCKED = 0x68
    SEPT_PENDING = 0x70
    SEPT_PENDING_BLOCKED = 0x78


class KotState(Enum):
    """Key ownership table entry state [V TDXM tdx_global_data.h]."""

    HKID_FREE = 0
    HKID_ASSIGNED = 1
    HKID_FLUSHED = 2
    HKID_RESERVED = 3


class Lifecycle(Enum):
    """TDR.lifecycle_state [V TDXM tdh_mng_*.c]."""

    TD_HKID_ASSIGNED = 0
    TD_KEYS_CONFIGURED = 1
    TD_BLOCKED = 2
    TD_TEARDOWN = 3


class OpState(Enum):
    """TDCS.op_state, core (non-migration) values [V TDXM op_state_lookup.h]."""

    UNINITIALIZED = 0
    INITIALIZED = 1
    RUNNABLE = 2


class LpMode(Enum):
    """Operating mode of a logical processor [V L/tdx.rst; TDXM README]."""

    VMX_ROOT = 0  # legacy VMX root: the VMM
    SEAM_ROOT = 1  # the TDX module (only transiently, inside a SEAMCALL / TDCALL / TD exit)
    SEAM_NONROOT = 2  # a TD vCPU


# SEAMCALL leaf numbers [V TDXM tdx_api_defs.h] -> TdxMachine method name.
SEAMCALL_LEAVES: dict[int, str] = {
    0: "tdh_vp_enter", 1: "tdh_mng_addcx", 2: "tdh_mem_page_add", 3: "tdh_mem_sept_add",
    6: "tdh_mem_page_aug", 7: "tdh_mem_range_block", 8: "tdh_mng_key_config",
    9: "tdh_mng_create", 10: "tdh_vp_create", 16: "tdh_mr_extend", 17: "tdh_mr_finalize",
    18: "tdh_vp_flush", 19: "tdh_mng_vpflushdone", 20: "tdh_mng_key_freeid", 21: "tdh_mng_init",
    22: "tdh_vp_init", 28: "tdh_phymem_page_reclaim", 29: "tdh_mem_page_remove",
    38: "tdh_mem_track", 39: "tdh_mem_range_unblock", 40: "tdh_phymem_cache_wb",
}
# TDCALL leaf numbers [V TDXM tdx_api_defs.h]; VP.VMCALL is leaf 0 [R].
TDCALL_LEAVES: dict[int, str] = {
    0: "tdg_vp_vmcall", 6: "tdg_mem_page_accept", 24: "tdg_mem_page_attr_wr",
}

_I, _R = OpState.INITIALIZED, OpState.RUNNABLE
# SEAMCALL leaf -> op_states in which it is allowed (core states only) [V op_state_lookup.c for
# ADD/EXTEND/FINALIZE/VP.INIT/VP.ENTER/AUG/MNG.INIT; R for the others].
OP_STATE_ALLOWED: dict[str, frozenset[OpState]] = {
    "tdh_mng_init": frozenset({OpState.UNINITIALIZED}),
    "tdh_vp_create": frozenset({_I}),
    "tdh_vp_init": frozenset({_I}),
    "tdh_mem_page_add": frozenset({_I}),
    "tdh_mr_extend": frozenset({_I}),
    "tdh_mr_finalize": frozenset({_I}),
    "tdh_mem_sept_add": frozenset({_I, _R}),
    "tdh_mem_page_aug": frozenset({_I, _R}),
    "tdh_mem_range_block": frozenset({_I, _R}),
    "tdh_mem_range_unblock": frozenset({_I, _R}),
    "tdh_mem_track": frozenset({_I, _R}),
    "tdh_mem_page_remove": frozenset({_I, _R}),
    "tdh_vp_enter": frozenset({_R}),
}
# op_states in which the TD may run, so removal/unblock need block + TLB tracking [V op_state_lookup.c]
TLB_TRACKING_REQUIRED = frozenset({OpState.RUNNABLE})

MAX_VMS = 4  # L1 + up to 3 L2 VMs [V TDXM tdx_tdvps.h]


@dataclass(frozen=True)
class PamtEntry:
    """One 4K PAMT entry [V TDXM pamt_manager.h]; owner = the TDR page (None for NDA/RSVD/TDR)."""

    pt: PageType = PageType.PT_NDA
    owner: int | None = None
    bepoch: int = 0

    def record(self) -> dict[str, object]:
        return {"page_type": self.pt.name, "owner": self.owner, "bepoch": self.bepoch}


@dataclass(frozen=True)
class SeptEntry:
    """A leaf Secure-EPT entry: state and the HPA (page index) it maps, None when FREE/REMOVED."""

    state: SeptState = SeptState.SEPT_FREE
    pa: int | None = None

    def record(self) -> dict[str, object]:
        return {"state": self.state.name, "pa": self.pa}


@dataclass
class Vcpu:
    """The TDVPS fields the model uses: TDVPR page, init flag, LP association, TLB epoch."""

    tdvpr: int
    initialized: bool = False
    running: bool = False
    assoc_lp: int | None = None
    epoch: int = 0  # the TD epoch this vCPU last entered with (TDVPS.vcpu_epoch)

    def record(self) -> dict[str, object]:
        return {"tdvpr": self.tdvpr, "initialized": self.initialized, "running": self.running,
                "assoc_lp": self.assoc_lp, "epoch": self.epoch}


@dataclass
class Td:
    """TDR + TDCS fields of one TD (the TD is named by its TDR page)."""

    hkid: int
    lifecycle: Lifecycle = Lifecycle.TD_HKID_ASSIGNED
    pkg_config: set[int] = field(default_factory=set)  # TDR.pkg_config_bitmap
    tdcx: list[int] = field(default_factory=list)
    chldcnt: int = 0
    op_state: OpState = OpState.UNINITIALIZED
    epoch: int = 0  # TDCS.td_epoch
    refcount: list[int] = field(default_factory=lambda: [0, 0])
    num_assoc_vcpus: int = 0
    mrtd: hashlib._Hash | None = None  # running SHA-384 of the build (MRTD)
    mrtd_final: str | None = None
    measured_pages: int = 0  # PAGE.ADDs measured
    extended_pages: int = 0  # MR.EXTENDs measured
    vcpus: dict[int, Vcpu] = field(default_factory=dict)
    sept: dict[int, SeptEntry] = field(default_factory=dict)
    tlb: dict[int, dict[int, int]] = field(default_factory=dict)  # vcpu -> gpa -> pa
    l2_attr: dict[int, dict[int, tuple[bool, bool]]] = field(default_factory=dict)  # l2->gpa->(r,w)

    def mrtd_hex(self) -> str | None:
        if self.mrtd_final is not None:
            return self.mrtd_final
        return None if self.mrtd is None else self.mrtd.copy().hexdigest()
