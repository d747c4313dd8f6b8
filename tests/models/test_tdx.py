"""Tests of models.tdx: every error path in the module's check order, attack demos, and a
hypothesis state machine checking the invariants the TDX module guarantees (domain.md 6.10-15, 22).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from models.tdx import TdxMachine
from models.tdx_defs import SeptEntry, Td

# Page layout used by the unit tests: TD A = TDR 0, TDCX 1, TDVPR 2 (+3 for vCPU 1);
# TD B = TDR 4, TDCX 5, TDVPR 6. Data pages from 8 on.
A, B = 0, 4


def make_td(m: TdxMachine, tdr: int, hkid: int, *, vcpus: int = 1, init_vcpus: bool = True) -> None:
    """CREATE, KEY.CONFIG on every package, ADDCX, MNG.INIT, VP.CREATE (+ VP.INIT)."""
    assert m.tdh_mng_create(tdr, hkid) == "ok"
    for pkg in range(m.packages):
        assert m.tdh_mng_key_config(tdr, pkg) == "ok"
    assert m.tdh_mng_addcx(tdr, tdr + 1) == "ok"
    assert m.tdh_mng_init(tdr) == "ok"
    for v in range(vcpus):
        assert m.tdh_vp_create(tdr, v, tdr + 2 + v) == "ok"
        if init_vcpus:
            assert m.tdh_vp_init(tdr, v) == "ok"


def running_td(m: TdxMachine, tdr: int = A, hkid: int = 1, *, vcpus: int = 1) -> None:
    make_td(m, tdr, hkid, vcpus=vcpus)
    assert m.tdh_mr_finalize(tdr) == "ok"


def view(m: TdxMachine, key: str, tdr: int) -> Any:
    """observe()[key] for the TD whose TDR is `tdr`: the "tds" entry of its TDR page, or the
    run-time state ("tdcs", "tdvps", "sept", "tlb", "l2_attr") kept under its HKID."""
    o: dict[str, Any] = m.observe()
    return o[key][tdr] if key == "tds" else o[key][m.tds[tdr].hkid]


def machine(**kw: int) -> TdxMachine:
    args: dict[str, Any] = {"pages": 12, "tds": 2, "gpas": 3, "vcpus_per_td": 2, "hkids": 2, "packages": 1}
    args.update(kw)
    return TdxMachine(**args)


def teardown(m: TdxMachine, tdr: int) -> None:
    t = m.tds[tdr]
    for v, x in t.vcpus.items():
        if x.running:
            assert m.td_exit(tdr, v) == "ok"
        if x.assoc_lp is not None:
            assert m.tdh_vp_flush(tdr, v) == "ok"
    assert m.tdh_mng_vpflushdone(tdr) == "ok"
    for pkg in range(m.packages):
        assert m.tdh_phymem_cache_wb(pkg) == "ok"
    assert m.tdh_mng_key_freeid(tdr) == "ok"


# ---------------------------------------------------------------- build path, in check order
def test_mng_create_checks() -> None:
    m = machine()
    assert m.tdh_mng_create(A, 0) == "TDX_OPERAND_INVALID"  # KeyID 0 is shared, not private
    assert m.tdh_mng_create(A, 1) == "ok"
    assert m.tdh_mng_create(A, 2) == "TDX_PAGE_METADATA_INCORRECT"  # TDR page not NDA
    assert m.tdh_mng_create(B, 1) == "TDX_HKID_NOT_FREE"
    o = m.observe()
    assert o["kot"] == {1: "HKID_ASSIGNED", 2: "HKID_FREE"}
    assert o["pamt"][A] == {"page_type": "PT_TDR", "owner": None, "bepoch": 0}  # type: ignore[index]
    assert o["tds"][A]["lifecycle"] == "TD_HKID_ASSIGNED"  # type: ignore[index]
    assert o["tds"][B]["hkid"] == 0  # type: ignore[index]  # no TD there: the initial record
    with pytest.raises(ValueError):
        m.tdh_mng_create(99, 2)


def test_key_config_checks() -> None:
    m = machine(packages=2)
    assert m.tdh_mng_key_config(A, 0) == "TDX_PAGE_METADATA_INCORRECT"  # not a TDR
    assert m.tdh_mng_create(A, 1) == "ok"
    assert m.tdh_mng_key_config(A, 0) == "ok"
    assert m.tds[A].lifecycle.name == "TD_HKID_ASSIGNED"  # not yet on every package
    assert m.tdh_mng_key_config(A, 0) == "TDX_KEY_CONFIGURED"
    assert m.tdh_mng_key_config(A, 1) == "ok"
    assert m.tds[A].lifecycle.name == "TD_KEYS_CONFIGURED"
    assert m.tdh_mng_key_config(A, 1) == "TDX_LIFECYCLE_STATE_INCORRECT"
    with pytest.raises(ValueError):
        m.tdh_mng_key_config(A, 2)


def test_addcx_and_init_checks() -> None:
    m = machine()
    assert m.tdh_mng_addcx(A, 1) == "TDX_PAGE_METADATA_INCORRECT"
    assert m.tdh_mng_create(A, 1) == "ok"
    assert m.tdh_mng_addcx(A, 1) == "TDX_TD_KEYS_NOT_CONFIGURED"
    assert m.tdh_mng_init(A) == "TDX_TD_KEYS_NOT_CONFIGURED"
    assert m.tdh_mng_key_config(A, 0) == "ok"
    assert m.tdh_mng_init(A) == "TDX_TDCS_NOT_ALLOCATED"
    assert m.tdh_mng_addcx(A, A) == "TDX_PAGE_METADATA_INCORRECT"  # the TDR itself, not NDA
    assert m.tdh_mng_addcx(A, 1) == "ok"
    assert m.tdh_mng_addcx(A, 2) == "TDX_TDCX_NUM_INCORRECT"
    assert m.tdh_mng_init(A) == "ok"
    assert m.tdh_mng_init(A) == "TDX_OP_STATE_INCORRECT"
    o = view(m, "tds", A)
    assert o["op_state"] == "INITIALIZED" and o["chldcnt"] == 1 and o["num_tdcx"] == 1
    assert view(m, "tdcs", A)["epoch"] == 1


def test_vp_create_and_init_checks() -> None:
    m = machine()
    assert m.tdh_mng_create(A, 1) == "ok" and m.tdh_mng_key_config(A, 0) == "ok"
    assert m.tdh_mng_addcx(A, 1) == "ok"
    assert m.tdh_vp_create(A, 0, 2) == "TDX_OP_STATE_INCORRECT"  # before MNG.INIT
    assert m.tdh_mng_init(A) == "ok"
    assert m.tdh_vp_init(A, 0) == "TDX_PAGE_METADATA_INCORRECT"  # no TDVPR for this vCPU
    assert m.tdh_vp_create(A, 0, 1) == "TDX_PAGE_METADATA_INCORRECT"  # TDCX page
    assert m.tdh_vp_create(A, 0, 2) == "ok"
    assert m.tdh_vp_create(A, 0, 3) == "TDX_OPERAND_INVALID"  # already created
    assert m.tdh_vp_init(A, 0) == "ok"
    assert m.tdh_vp_init(A, 0) == "TDX_VCPU_STATE_INCORRECT"
    assert m.tdh_mr_finalize(A) == "ok"
    assert m.tdh_vp_create(A, 1, 3) == "TDX_OP_STATE_INCORRECT"
    assert m.tdh_vp_init(A, 1) == "TDX_OP_STATE_INCORRECT"  # build state before the vCPU
    assert m.tdh_vp_init(A, 0) == "TDX_OP_STATE_INCORRECT"
    with pytest.raises(ValueError):
        m.tdh_vp_create(A, 5, 3)


def test_page_add_extend_finalize_and_measurement_freeze() -> None:
    m = machine()
    make_td(m, A, 1)
    assert m.tdh_mr_extend(A, 0) == "TDX_EPT_ENTRY_STATE_INCORRECT"  # FREE gpa
    assert m.tdh_mem_page_add(A, 0, 2, 7) == "TDX_PAGE_METADATA_INCORRECT"  # TDVPR page
    d0 = m.measurement(A)["mrtd"]
    assert m.tdh_mem_page_add(A, 0, 8, 0xABC) == "ok"
    assert m.tdh_mem_page_add(A, 0, 9, 1) == "TDX_EPT_ENTRY_STATE_INCORRECT"  # not FREE
    assert m.tdh_mr_extend(A, 0) == "ok"
    o = m.observe()
    td = m.measurement(A)
    assert td["measured_pages"] == 1 and td["extended_pages"] == 1 and td["mrtd"] != d0
    assert o["sept"][1][0] == {"state": "SEPT_MAPPED", "pa": 8}  # type: ignore[index]
    assert o["pamt"][8] == {"page_type": "PT_REG", "owner": A, "bepoch": 0}  # type: ignore[index]
    assert o["mem"][8] == 0xABC  # type: ignore[index]
    assert m.tdh_mr_finalize(A) == "ok"
    frozen = m.measurement(A)["mrtd"]
    assert m.tdh_mr_finalize(A) == "TDX_OP_STATE_INCORRECT"
    assert m.tdh_mem_page_add(A, 1, 9, 1) == "TDX_OP_STATE_INCORRECT"
    assert m.tdh_mr_extend(A, 0) == "TDX_OP_STATE_INCORRECT"
    assert m.measurement(A)["mrtd"] == frozen


def test_measurement_binds_gpa_and_contents() -> None:
    def digest(gpa: int, contents: int) -> object:
        m = machine()
        make_td(m, A, 1)
        assert m.tdh_mem_page_add(A, gpa, 8, contents) == "ok"
        assert m.tdh_mr_extend(A, gpa) == "ok"
        assert m.tdh_mr_finalize(A) == "ok"
        return m.measurement(A)["mrtd"]

    assert digest(0, 5) != digest(1, 5)
    assert digest(0, 5) != digest(0, 6)
    assert digest(0, 5) == digest(0, 5)


def test_sept_add() -> None:
    m = machine()
    make_td(m, A, 1)
    assert m.tdh_mem_sept_add(A, 1) == "TDX_PAGE_METADATA_INCORRECT"
    assert m.tdh_mem_sept_add(A, 8) == "ok"
    assert m.observe()["pamt"][8]["page_type"] == "PT_EPT"  # type: ignore[index]


# ---------------------------------------------------------------- SEPT management
def test_aug_accept_and_pending_never_readable() -> None:
    m = machine()
    running_td(m)
    assert m.tdh_mem_page_aug(A, 0, 2) == "TDX_PAGE_METADATA_INCORRECT"
    assert m.tdh_mem_page_aug(A, 0, 8) == "ok"
    assert m.tdh_mem_page_aug(A, 0, 9) == "TDX_EPT_ENTRY_STATE_INCORRECT"
    assert view(m, "sept", A)[0] == {"state": "SEPT_PENDING", "pa": 8}
    assert m.observe()["mem"][8] is None  # type: ignore[index]  # PENDING: nothing readable
    assert m.td_read(A, 0, 0) == ("NOT_RUNNING", None)
    assert m.tdg_mem_page_accept(A, 0, 0) == "NOT_RUNNING"
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert m.td_read(A, 0, 0) == ("VE", None)
    assert m.td_write(A, 0, 0, 5) == "VE"
    assert m.tdg_mem_page_accept(A, 0, 0) == "ok"
    assert m.tdg_mem_page_accept(A, 0, 0) == "TDX_PAGE_ALREADY_ACCEPTED"
    assert m.td_read(A, 0, 0) == ("ok", 0)
    assert m.td_write(A, 0, 0, 42) == "ok"
    assert m.td_read(A, 0, 0) == ("ok", 42)
    assert view(m, "tlb", A)[0] == {0: 8, 1: None, 2: None}
    assert m.observe()["mem"][8] == 42  # type: ignore[index]
    # ACCEPT of a FREE gpa: EPT violation, a TD exit to the VMM
    assert m.tdg_mem_page_accept(A, 0, 1) == "EPT_VIOLATION"
    assert not m.tds[A].vcpus[0].running
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert m.td_read(A, 0, 2) == ("EPT_VIOLATION", None)
    assert m.observe()["lp_mode"] == {0: "VMX_ROOT", 1: "VMX_ROOT", 2: "VMX_ROOT", 3: "VMX_ROOT"}


def test_block_track_unblock_remove_checks() -> None:
    m = machine()
    running_td(m)
    assert m.tdh_mem_range_block(A, 0) == "TDX_EPT_ENTRY_STATE_INCORRECT"  # FREE
    assert m.tdh_mem_range_unblock(A, 0) == "TDX_EPT_ENTRY_STATE_INCORRECT"
    assert m.tdh_mem_page_remove(A, 0) == "TDX_EPT_ENTRY_STATE_INCORRECT"
    assert m.tdh_mem_page_aug(A, 0, 8) == "ok"
    assert m.tdh_mem_page_remove(A, 0) == "TDX_GPA_RANGE_NOT_BLOCKED"
    assert m.tdh_mem_range_block(A, 0) == "ok"
    assert view(m, "sept", A)[0]["state"] == "SEPT_PENDING_BLOCKED"
    assert m.observe()["pamt"][8]["bepoch"] == 1  # type: ignore[index]
    assert m.tdh_mem_range_block(A, 0) == "TDX_GPA_RANGE_ALREADY_BLOCKED"
    assert m.tdh_mem_range_unblock(A, 0) == "TDX_TLB_TRACKING_NOT_DONE"
    assert m.tdh_mem_page_remove(A, 0) == "TDX_TLB_TRACKING_NOT_DONE"
    assert m.tdh_mem_track(A) == "ok"
    assert m.tdh_mem_range_unblock(A, 0) == "ok"
    assert view(m, "sept", A)[0]["state"] == "SEPT_PENDING"
    assert m.tdh_mem_range_block(A, 0) == "ok"  # bepoch 2
    assert m.tdh_mem_track(A) == "ok"
    assert m.tdh_mem_page_remove(A, 0) == "ok"
    o = m.observe()
    assert o["sept"][1][0] == {"state": "SEPT_FREE", "pa": None}  # type: ignore[index]
    assert o["pamt"][8] == {"page_type": "PT_NDA", "owner": None, "bepoch": 0}  # type: ignore[index]
    assert o["tds"][A]["chldcnt"] == 2  # type: ignore[index]  # TDCX + TDVPR


def test_track_busy_while_vcpu_in_previous_epoch() -> None:
    m = machine()
    running_td(m)
    assert m.tdh_vp_enter(A, 0) == "ok"  # epoch 1, refcount[1] = 1
    assert m.tdh_mem_track(A) == "ok"  # previous epoch 0 is empty -> epoch 2
    assert m.tdh_mem_track(A) == "TDX_PREVIOUS_TLB_EPOCH_BUSY"  # vCPU still counted in 1
    assert view(m, "tdcs", A)["refcount"] == {0: 0, 1: 1}
    assert m.td_exit(A, 0) == "ok"
    assert m.td_exit(A, 0) == "NOT_RUNNING"
    assert m.tdh_mem_track(A) == "ok"
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert view(m, "tdvps", A)[0]["epoch"] == 3


def test_remove_in_initialized_needs_no_tracking() -> None:
    m = machine()
    make_td(m, A, 1)
    assert m.tdh_mem_page_add(A, 0, 8, 1) == "ok"
    assert m.tdh_mem_page_remove(A, 0) == "ok"  # the TD cannot have run yet


# ---------------------------------------------------------------- vCPU entry/exit and flush
def test_vp_enter_checks() -> None:
    m = machine()
    make_td(m, A, 1, vcpus=2, init_vcpus=False)
    assert m.tdh_vp_init(A, 0) == "ok"
    assert m.tdh_vp_enter(A, 0) == "TDX_OP_STATE_INCORRECT"
    assert m.tdh_mr_finalize(A) == "ok"
    assert m.tdh_vp_enter(B, 0) == "TDX_PAGE_METADATA_INCORRECT"
    m2 = machine()
    running_td(m2)
    assert m2.tdh_vp_enter(A, 1) == "TDX_PAGE_METADATA_INCORRECT"  # never created
    assert m.tdh_vp_enter(A, 1) == "TDX_VCPU_STATE_INCORRECT"  # created, not initialised
    assert m.tdh_vp_enter(A, 0, lp=2) == "ok"
    assert m.tdh_vp_enter(A, 0) == "TDX_OPERAND_BUSY"
    assert m.observe()["lp_mode"][2] == "SEAM_NONROOT"  # type: ignore[index]
    assert m.td_exit(A, 0) == "ok"
    assert m.tdh_vp_enter(A, 0, lp=1) == "TDX_VCPU_ASSOCIATED"
    assert m.tdh_vp_enter(A, 0) == "ok"  # its associated LP 2
    assert view(m, "tdvps", A)[0]["assoc_lp"] == 2


def test_lp_busy() -> None:
    m = machine(tds=1, vcpus_per_td=1)  # a single LP
    running_td(m)
    make_td(m, B, 2)
    assert m.tdh_mr_finalize(B) == "ok"
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert m.tdh_vp_enter(B, 0) == "LP_BUSY"  # no LP in VMX root
    m2 = machine()
    running_td(m2, vcpus=2)
    assert m2.tdh_vp_enter(A, 0, lp=0) == "ok"
    assert m2.tdh_vp_enter(A, 1, lp=0) == "LP_BUSY"
    with pytest.raises(ValueError):
        m2.tdh_vp_enter(A, 1, lp=9)


def test_vp_flush_and_vpflushdone_checks() -> None:
    m = machine()
    running_td(m, vcpus=2)
    assert m.tdh_vp_flush(B, 0) == "TDX_PAGE_METADATA_INCORRECT"
    assert m.tdh_vp_flush(A, 0) == "TDX_VCPU_NOT_ASSOCIATED"
    assert m.tdh_mng_vpflushdone(B) == "TDX_PAGE_METADATA_INCORRECT"
    with pytest.raises(ValueError):
        m.tdh_mem_page_aug(A, 3, 8)  # gpa out of range: a caller bug
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert m.tdh_vp_flush(A, 0) == "LP_BUSY"
    assert m.tdh_mng_vpflushdone(A) == "TDX_FLUSHVP_NOT_DONE"
    assert m.tdg_vp_vmcall(A, 0) == "ok"
    assert m.tdh_mng_vpflushdone(A) == "TDX_FLUSHVP_NOT_DONE"  # still associated
    assert m.tdh_vp_flush(A, 0) == "ok"
    assert view(m, "tdcs", A)["num_assoc_vcpus"] == 0
    assert m.tdh_mng_vpflushdone(A) == "ok"
    assert m.tdh_mng_vpflushdone(A) == "TDX_LIFECYCLE_STATE_INCORRECT"
    assert m.tdh_vp_flush(A, 1) == "TDX_TD_KEYS_NOT_CONFIGURED"
    m2 = machine()
    running_td(m2)
    assert m2.tdh_vp_flush(A, 1) == "TDX_PAGE_METADATA_INCORRECT"  # no TDVPR for vCPU 1
    assert m.tdh_vp_flush(A, 0) == "TDX_TD_KEYS_NOT_CONFIGURED"
    assert m.tdh_vp_enter(A, 0) == "TDX_TD_KEYS_NOT_CONFIGURED"
    assert m.tdh_mem_track(A) == "TDX_TD_KEYS_NOT_CONFIGURED"
    assert m.observe()["kot"][1] == "HKID_FLUSHED"  # type: ignore[index]


# ---------------------------------------------------------------- teardown and reclaim
def test_cache_wb_freeid_reclaim_order() -> None:
    m = machine(packages=2)
    assert m.tdh_phymem_cache_wb(0) == "TDX_NO_HKID_READY_TO_WBCACHE"
    running_td(m)
    assert m.tdh_mem_page_aug(A, 0, 8) == "ok"
    assert m.tdh_mng_key_freeid(B) == "TDX_PAGE_METADATA_INCORRECT"
    assert m.tdh_mng_key_freeid(A) == "TDX_LIFECYCLE_STATE_INCORRECT"
    assert m.tdh_phymem_page_reclaim(8) == "TDX_LIFECYCLE_STATE_INCORRECT"
    assert m.tdh_mng_vpflushdone(A) == "ok"
    assert m.observe()["wbinvd"][1] == frozenset({0, 1})  # type: ignore[index]
    assert m.tdh_phymem_cache_wb(0) == "ok"
    assert m.tdh_mng_key_freeid(A) == "TDX_WBCACHE_NOT_COMPLETE"
    assert m.tdh_phymem_cache_wb(1) == "ok"
    assert m.tdh_mng_key_freeid(A) == "ok"
    assert m.tdh_mng_key_freeid(A) == "TDX_LIFECYCLE_STATE_INCORRECT"
    o = m.observe()
    assert o["kot"][1] == "HKID_FREE" and o["tds"][A]["lifecycle"] == "TD_TEARDOWN"  # type: ignore[index]
    assert o["sept"][1][0] == {"state": "SEPT_FREE", "pa": None}  # type: ignore[index]  # dropped with the key
    assert o["mem"][8] is None  # type: ignore[index]
    assert m.tdh_phymem_page_reclaim(9) == "TDX_PAGE_METADATA_INCORRECT"  # NDA
    assert m.tdh_phymem_page_reclaim(A) == "TDX_TD_ASSOCIATED_PAGES_EXIST"  # TDR not last
    for p in (1, 2, 8):
        assert m.tdh_phymem_page_reclaim(p) == "ok"
    assert m.tdh_phymem_page_reclaim(A) == "ok"
    o = m.observe()
    assert o["tds"][A]["hkid"] == 0 and m.tds == {}  # type: ignore[index]
    assert all(e["page_type"] == "PT_NDA" for e in o["pamt"].values())  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        m.tdh_phymem_cache_wb(2)


def test_runtime_state_follows_the_hkid_and_readable_pages() -> None:
    """observe(): a TD's run-time state is shown under its HKID until KEY.FREEID; a new TD that
    takes the HKID starts clean while the old TD's pages wait for RECLAIM; `mem` shows only
    pages the owner can read (MAPPED/BLOCKED, TD bit set, TD not torn down)."""
    m = machine()
    running_td(m)
    assert m.tdh_mem_page_aug(A, 0, 8) == "ok"
    assert m.observe()["mem"][8] is None  # type: ignore[index]  # PENDING
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert m.tdg_mem_page_accept(A, 0, 0) == "ok" and m.td_write(A, 0, 0, 7) == "ok"
    assert m.td_exit(A, 0) == "ok"
    assert m.tdh_mem_range_block(A, 0) == "ok"
    assert m.observe()["mem"][8] == 7  # type: ignore[index]  # BLOCKED: still the TD's data
    assert m.tdh_vp_flush(A, 0) == "ok"
    teardown(m, A)
    o = m.observe()
    assert o["mem"][8] is None and o["tds"][A]["lifecycle"] == "TD_TEARDOWN"  # type: ignore[index]
    assert o["sept"][1] == {g: {"state": "SEPT_FREE", "pa": None} for g in range(3)}  # type: ignore[index]
    assert o["tdcs"][1] == {"epoch": 0, "refcount": {0: 0, 1: 0}, "num_assoc_vcpus": 0}  # type: ignore[index]
    assert m.tdh_vp_flush(A, 0) == "TDX_TD_KEYS_NOT_CONFIGURED"  # lifecycle before the vCPU
    make_td(m, B, 1)  # HKID 1 again, while A's pages (TDR, TDCX, TDVPR, page 8) are still A's
    assert view(m, "tdvps", B)[0]["tdvpr"] == B + 2 and view(m, "tdcs", B)["epoch"] == 1
    assert m.observe()["pamt"][8]["owner"] == A  # type: ignore[index]
    assert m.tdh_mem_page_aug(B, 0, 8) == "TDX_PAGE_METADATA_INCORRECT"  # not free yet
    assert m.tdh_phymem_page_reclaim(8) == "ok"
    assert m.tdh_mem_page_aug(B, 0, 8) == "ok"


def test_machine_check_keeps_no_translation() -> None:
    m = machine()
    make_td(m, A, 1)
    assert m.tdh_mem_page_add(A, 0, 8, 3) == "ok" and m.tdh_mr_finalize(A) == "ok"
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert m.vmm_write(8) == "ok"
    assert m.td_read(A, 0, 0) == ("MC", None)
    assert view(m, "tlb", A)[0] == {0: None, 1: None, 2: None}  # the aborted walk is not cached


def test_reserved_page_and_hkid_assigned_teardown() -> None:
    m = TdxMachine(pages=4, reserved=frozenset({3}))
    assert m.tdh_phymem_page_reclaim(3) == "TDX_PAGE_METADATA_INCORRECT"
    assert m.tdh_mng_create(3, 1) == "TDX_PAGE_METADATA_INCORRECT"
    assert m.tdh_mng_create(0, 1) == "ok"  # keys never configured: straight to teardown
    assert m.tdh_mng_vpflushdone(0) == "ok"
    assert m.tdh_phymem_cache_wb(0) == "ok"
    assert m.tdh_mng_key_freeid(0) == "ok"
    assert m.tdh_phymem_page_reclaim(0) == "ok"
    assert m.tdh_mng_create(0, 1) == "ok"  # HKID reusable
    with pytest.raises(ValueError):
        TdxMachine(l2_vms=4)


# ---------------------------------------------------------------- VMM side and encryption
def test_vmm_access_and_keyids() -> None:
    m = machine()
    assert m.vmm_read(8, keyid=1) == ("PF", None)  # private KeyIDs only in SEAM mode
    assert m.vmm_write(8, keyid=2, value=1) == "PF"
    assert m.vmm_write(8, value=0x1234) == "ok"
    outcome, data = m.vmm_read(8)
    assert outcome == "ok" and data is not None and int.from_bytes(data[:8], "little") == 0x1234
    with pytest.raises(ValueError):
        m.vmm_read(8, keyid=7)


def test_vmm_write_to_private_page_poisons_td_read() -> None:
    m = machine()
    make_td(m, A, 1)
    assert m.tdh_mem_page_add(A, 0, 8, 77) == "ok"
    assert m.tdh_mr_finalize(A) == "ok"
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert m.vmm_write(8, value=5) == "ok"
    assert m.observe()["td_bit"][8] is False  # type: ignore[index]
    assert m.td_read(A, 0, 0) == ("MC", None)  # integrity failure [R]
    assert m.td_write(A, 0, 0, 9) == "ok"
    assert m.td_read(A, 0, 0) == ("ok", 9)


def test_vmm_never_reads_td_plaintext() -> None:
    m = machine()
    secret = 0x5EC12E7_5EC12E7
    make_td(m, A, 1)
    assert m.tdh_mem_page_add(A, 0, 8, secret) == "ok"
    assert m.tdh_mr_finalize(A) == "ok"
    ct = m.mem.read_ciphertext(8)
    assert secret.to_bytes(8, "little") not in ct  # memory holds ciphertext
    assert m.vmm_read(8) == ("ok", bytes(m.page_bytes))  # fixed pattern [R]
    teardown(m, A)
    for p in (1, 2, 8, A):
        assert m.tdh_phymem_page_reclaim(p) == "ok"
    outcome, data = m.vmm_read(8)  # reclaimed but not cleared: still TD-owned lines
    assert outcome == "ok" and data is not None and secret.to_bytes(8, "little") not in data
    assert m.vmm_write(8, value=0) == "ok"  # MOVDIR64B-style clear by the VMM
    assert m.vmm_read(8)[1] is not None


# ---------------------------------------------------------------- TD partitioning
def test_l2_aliases() -> None:
    m = machine(l2_vms=2)
    make_td(m, A, 1)
    assert m.tdh_mem_page_add(A, 0, 8, 11) == "ok"
    assert m.tdh_mr_finalize(A) == "ok"
    assert m.tdg_mem_page_attr_wr(A, 0, 1, True, False) == "NOT_RUNNING"
    assert m.l2_read(A, 1, 0) == ("NOT_RUNNING", None)
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert m.tdg_mem_page_attr_wr(A, 0, 0, True, False) == "TDX_OPERAND_INVALID"  # L1 itself
    assert m.tdg_mem_page_attr_wr(A, 0, 3, True, False) == "TDX_OPERAND_INVALID"  # > l2_vms
    assert m.tdg_mem_page_attr_wr(A, 0, 1, False, True) == "TDX_OPERAND_INVALID"  # W without R
    assert m.tdg_mem_page_attr_wr(A, 1, 1, True, False) == "TDX_EPT_ENTRY_STATE_INCORRECT"
    assert m.l2_read(A, 3, 0) == ("TDX_OPERAND_INVALID", None)
    assert m.l2_read(A, 1, 0) == ("EPT_VIOLATION", None)  # no alias yet
    assert m.tdg_mem_page_attr_wr(A, 0, 1, True, False) == "ok"
    assert m.l2_read(A, 1, 0) == ("ok", 11)
    assert m.l2_write(A, 1, 0, 3) == "EPT_VIOLATION"  # read-only alias
    assert m.l2_read(A, 2, 0) == ("EPT_VIOLATION", None)  # other L2 VM has no alias
    assert m.tdg_mem_page_attr_wr(A, 0, 1, True, True) == "ok"
    assert m.l2_write(A, 1, 0, 3) == "ok"
    assert m.td_read(A, 0, 0) == ("ok", 3)  # L2 aliases the L1 page
    assert view(m, "l2_attr", A)[1][0] == {"readable": True, "writable": True}
    assert m.tds[A].vcpus[0].running  # an L2 violation exits to L1, not to the VMM
    assert m.vmm_write(8, value=1) == "ok"
    assert m.l2_read(A, 1, 0) == ("MC", None)
    assert m.tdg_mem_page_attr_wr(A, 0, 1, False, False) == "ok"  # alias removed
    assert m.tdg_mem_page_attr_wr(A, 0, 2, True, False) == "ok"
    assert m.td_exit(A, 0) == "ok"
    assert m.tdh_mem_range_block(A, 0) == "ok"
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert m.l2_read(A, 2, 0) == ("EPT_VIOLATION", None)  # blocked with the L1 entry
    assert m.td_exit(A, 0) == "ok"
    assert m.tdh_mem_track(A) == "ok"
    assert m.tdh_mem_page_remove(A, 0) == "ok"
    assert view(m, "l2_attr", A)[2][0] == {"readable": False, "writable": False}
    assert m.tdh_vp_enter(A, 0) == "ok"
    with pytest.raises(ValueError):
        m.l2_read(A, 4, 0)


# ---------------------------------------------------------------- dispatch and observe
def test_seamcall_and_tdcall_dispatch() -> None:
    m = machine()
    assert m.seamcall(9, A, 1) == "ok"  # TDH.MNG.CREATE
    assert m.seamcall(8, A, 0) == "ok"  # TDH.MNG.KEY.CONFIG
    assert m.seamcall(99) == "TDX_OPERAND_INVALID"
    assert m.tdcall(99) == "TDX_OPERAND_INVALID"
    assert m.tdcall(0, A, 0) == "NOT_RUNNING"  # TDG.VP.VMCALL


def _plain(x: object) -> bool:
    """Only what values.to_plain produces: dicts, frozensets, str, int, bool, None."""
    if isinstance(x, dict):
        return all(_plain(k) and _plain(v) for k, v in x.items())
    if isinstance(x, frozenset):
        return all(_plain(v) for v in x)
    return x is None or isinstance(x, (str, int, bool))


def test_observe_is_plain() -> None:
    m = machine(l2_vms=1)
    running_td(m)
    o: dict[str, Any] = m.observe()
    assert set(o) == {"kot", "wbinvd", "lp_mode", "pamt", "tds", "tdcs", "tdvps", "sept", "tlb",
                      "l2_attr", "mem", "td_bit"}  # spec/tdx.tee's non-ghost variables
    assert _plain(o)
    assert set(o["tds"]) == set(range(12)) and set(o["tdcs"]) == {1, 2}
    assert view(m, "tdvps", A) == {0: {"tdvpr": 2, "initialized": True, "running": False,
                                       "assoc_lp": None, "epoch": 0}, 1: None}
    assert o["tdcs"][2] == {"epoch": 0, "refcount": {0: 0, 1: 0}, "num_assoc_vcpus": 0}
    assert view(m, "l2_attr", A) == {1: {g: {"readable": False, "writable": False} for g in range(3)}}
    assert isinstance(m.measurement(A)["mrtd"], str)
    assert isinstance(m.tds[A], Td)


# ---------------------------------------------------------------- attack demos
def _td_with_cached_page(m: TdxMachine) -> None:
    make_td(m, A, 1)
    assert m.tdh_mem_page_add(A, 0, 8, 0xAAAA) == "ok"
    assert m.tdh_mr_finalize(A) == "ok"
    assert m.tdh_vp_enter(A, 0) == "ok"
    assert m.td_read(A, 0, 0) == ("ok", 0xAAAA)  # translation cached in the vCPU's TLB


def test_attack_remove_without_track_is_refused() -> None:
    m = machine()
    _td_with_cached_page(m)
    assert m.tdh_mem_range_block(A, 0) == "ok"
    assert m.tdh_mem_page_remove(A, 0) == "TDX_TLB_TRACKING_NOT_DONE"
    assert m.tdh_mem_track(A) == "ok"
    # The running vCPU still holds the epoch-1 translation: removal still refused.
    assert m.tdh_mem_page_remove(A, 0) == "TDX_TLB_TRACKING_NOT_DONE"
    assert m.td_read(A, 0, 0) == ("ok", 0xAAAA)  # stale but the page is still the TD's
    assert m.td_exit(A, 0) == "ok"
    assert m.tdh_mem_page_remove(A, 0) == "ok"
    assert m.tdh_vp_enter(A, 0) == "ok"  # stale epoch: TLB flushed on entry
    assert view(m, "tlb", A)[0] == {0: None, 1: None, 2: None}
    assert m.td_read(A, 0, 0) == ("EPT_VIOLATION", None)


class _NoTrackingModule(TdxMachine):
    """A broken module that skips is_tlb_tracked: shows what the check prevents."""

    def _is_tlb_tracked(self, t: Td, bepoch: int) -> bool:
        return True


def test_attack_without_tracking_a_stale_tlb_reads_another_tds_page() -> None:
    m = _NoTrackingModule(pages=12, gpas=2, vcpus_per_td=1, hkids=2)
    _td_with_cached_page(m)
    make_td(m, B, 2)
    assert m.tdh_mr_finalize(B) == "ok"
    assert m.tdh_mem_range_block(A, 0) == "ok"
    assert m.tdh_mem_page_remove(A, 0) == "ok"  # the real module refuses this
    assert m.tdh_mem_page_aug(B, 0, 8) == "ok"  # page 8 now belongs to TD B
    assert m.tdh_vp_enter(B, 0) == "ok"
    assert m.tdg_mem_page_accept(B, 0, 0) == "ok"
    assert m.td_write(B, 0, 0, 0xB0B) == "ok"
    # TD A's stale translation still reaches page 8 (decrypting B's data with A's key)
    outcome, _ = m.td_read(A, 0, 0)
    assert outcome == "ok"
    assert _stale_translations(m)  # the invariant the real module keeps is broken


def test_attack_accept_zeroes_previous_contents() -> None:
    m = machine()
    _td_with_cached_page(m)
    assert m.td_write(A, 0, 0, 0x5EC2E7) == "ok"
    teardown(m, A)
    for p in (1, 2, 8, A):
        assert m.tdh_phymem_page_reclaim(p) == "ok"  # contents not cleared
    running_td(m, B, 1)  # same HKID, fresh key
    assert m.tdh_mem_page_aug(B, 1, 8) == "ok"
    assert m.tdh_vp_enter(B, 0) == "ok"
    assert m.td_read(B, 0, 1) == ("VE", None)  # PENDING: never readable
    assert m.tdg_mem_page_accept(B, 0, 1) == "ok"
    assert m.td_read(B, 0, 1) == ("ok", 0)  # old contents gone


# ---------------------------------------------------------------- invariants (shared)
def _stale_translations(m: TdxMachine) -> list[tuple[int, int, int]]:
    """Running vCPUs' cached translations that no longer match the TD's SEPT."""
    bad = []
    for d, t in m.tds.items():
        for v, x in t.vcpus.items():
            for g, pa in t.tlb[v].items():
                e = t.sept.get(g)
                coherent = e is not None and e.pa == pa and e.state.name in (
                    "SEPT_MAPPED", "SEPT_BLOCKED")
                if not coherent and (x.running or x.epoch == t.epoch):
                    bad.append((d, v, g))
    return bad


_KOT_NEXT = {("HKID_FREE", "HKID_ASSIGNED"), ("HKID_ASSIGNED", "HKID_FLUSHED"),
             ("HKID_FLUSHED", "HKID_FREE")}


Sel = tuple[bool, int]
TDSEL = st.tuples(st.booleans(), st.integers(0, 7))  # (prefer a live TDR, page)
PAGESEL = TDSEL  # (prefer an NDA page, page)


class TdxStateMachine(RuleBasedStateMachine):
    """Random SEAMCALL/TDCALL/access sequences at small sizes; invariants after every step."""

    PAGES, GPAS, VCPUS, HKIDS, PKGS = 8, 2, 2, 2, 2
    MACHINE: type[TdxMachine] = TdxMachine

    def __init__(self) -> None:
        super().__init__()
        self.m = self.MACHINE(pages=self.PAGES, tds=2, gpas=self.GPAS, vcpus_per_td=self.VCPUS,
                            hkids=self.HKIDS, packages=self.PKGS, l2_vms=1)
        self.prev = self.m.observe()
        self.final_mrtd: dict[int, object] = {}
        self.secrets: set[int] = set()
        self.n = 0

    # -- helpers: operands are (prefer_live, x): a live TDR / an NDA page half of the time
    def _nda(self) -> list[int]:
        return [p for p, e in enumerate(self.m.pamt) if e.pt.name == "PT_NDA"]

    def _td(self, sel: Sel) -> int:
        live = sorted(self.m.tds)
        return live[sel[1] % len(live)] if sel[0] and live else sel[1]

    def _vcpu(self, sel: Sel) -> tuple[int, int]:
        run = [(d, v) for d, t in sorted(self.m.tds.items()) for v, x in t.vcpus.items()
               if x.running]
        if sel[0] and not run:  # try to get a vCPU running first
            for d, t in sorted(self.m.tds.items()):
                for v in t.vcpus:
                    if not run and self.m.tdh_vp_enter(d, v) == "ok":
                        run = [(d, v)]
        if sel[0] and run:
            return run[sel[1] % len(run)]
        return self._td((True, sel[1])), sel[1] % self.VCPUS

    def _pg(self, sel: Sel) -> int:
        free = self._nda()
        return free[sel[1] % len(free)] if sel[0] and free else sel[1]

    # -- build shortcuts (so that runs reach RUNNABLE often)
    @initialize(final=st.booleans(), enter=st.booleans())
    def first_td(self, final: bool, enter: bool) -> None:
        self.build(1, final or enter, enter)

    @rule(hkid=st.integers(1, 2), final=st.booleans(), enter=st.booleans())
    def build(self, hkid: int, final: bool, enter: bool) -> None:
        free = self._nda()
        if len(free) < 2 + self.VCPUS:
            return
        tdr, cx, vps = free[0], free[1], free[2:2 + self.VCPUS]
        if self.m.tdh_mng_create(tdr, hkid) != "ok":
            return
        for p in range(self.PKGS):
            self.m.tdh_mng_key_config(tdr, p)
        assert self.m.tdh_mng_addcx(tdr, cx) == "ok"
        assert self.m.tdh_mng_init(tdr) == "ok"
        for v, page in enumerate(vps):
            assert self.m.tdh_vp_create(tdr, v, page) == "ok"
            assert self.m.tdh_vp_init(tdr, v) == "ok"
        free = self._nda()
        if free:
            self.secrets.add(0x5EC0000100 + hkid)
            assert self.m.tdh_mem_page_add(tdr, 0, free[0], 0x5EC0000100 + hkid) == "ok"
        if final:
            assert self.m.tdh_mr_finalize(tdr) == "ok"
            free = self._nda()
            if free:
                assert self.m.tdh_mem_page_aug(tdr, 1, free[0]) == "ok"
            if enter:
                self.m.tdh_vp_enter(tdr, 0)

    # -- single SEAMCALLs over arbitrary operands
    @rule(pg=PAGESEL, hkid=st.integers(0, 2), go=st.integers(0, 2))
    def mng_create(self, pg: Sel, hkid: int, go: int) -> None:
        if go:  # half-built TDs dilute the run: create bare ones less often
            return
        self.m.tdh_mng_create(self._pg(pg), hkid)

    @rule(tds=TDSEL, pkg=st.integers(0, PKGS - 1))
    def key_config(self, tds: Sel, pkg: int) -> None:
        self.m.tdh_mng_key_config(self._td(tds), pkg)

    @rule(tds=TDSEL, pg=PAGESEL)
    def addcx_or_septadd(self, tds: Sel, pg: Sel) -> None:
        self.m.tdh_mng_addcx(self._td(tds), self._pg(pg))
        self.m.tdh_mem_sept_add(self._td(tds), self._pg(pg))

    @rule(tds=TDSEL)
    def init_finalize(self, tds: Sel) -> None:
        self.m.tdh_mng_init(self._td(tds))
        self.m.tdh_mr_finalize(self._td(tds))

    @rule(tds=TDSEL, gpa=st.integers(0, GPAS - 1), pg=PAGESEL, value=st.integers(0, 3))
    def page_add(self, tds: Sel, gpa: int, pg: Sel, value: int) -> None:
        td, secret = self._td(tds), 0x5EC0000000 + value
        if self.m.tdh_mem_page_add(td, gpa, self._pg(pg), secret) == "ok":
            self.secrets.add(secret)
        self.m.tdh_mr_extend(td, gpa)

    @rule(tds=TDSEL, gpa=st.integers(0, GPAS - 1), pg=PAGESEL)
    def page_aug(self, tds: Sel, gpa: int, pg: Sel) -> None:
        self.m.tdh_mem_page_aug(self._td(tds), gpa, self._pg(pg))

    @rule(tds=TDSEL, gpa=st.integers(0, GPAS - 1),
          op=st.sampled_from(["block", "unblock", "remove", "track"]))
    def sept_op(self, tds: Sel, gpa: int, op: str) -> None:
        td = self._td(tds)
        before = self.m.tds[td].sept.get(gpa) if td in self.m.tds else None
        if op == "track":
            self.m.tdh_mem_track(td)
            return
        out = {"block": self.m.tdh_mem_range_block, "unblock": self.m.tdh_mem_range_unblock,
               "remove": self.m.tdh_mem_page_remove}[op](td, gpa)
        if op == "remove" and out == "ok" and self.m.tds[td].op_state.name == "RUNNABLE":
            assert before is not None and before.state.name in ("SEPT_BLOCKED",
                                                                 "SEPT_PENDING_BLOCKED")

    @rule(tds=TDSEL, gpa=st.integers(0, GPAS - 1), kick=st.booleans())
    def remove_protocol(self, tds: Sel, gpa: int, kick: bool) -> None:
        """The VMM's removal protocol: BLOCK, (kick the vCPUs out), TRACK, REMOVE."""
        td = self._td(tds)
        t = self.m.tds.get(td)
        if t is None or t.lifecycle.name != "TD_KEYS_CONFIGURED" or len(t.tdcx) == 0:
            return
        self.m.tdh_mem_range_block(td, gpa)
        if kick:
            for v, x in t.vcpus.items():
                if x.running:
                    assert self.m.td_exit(td, v) == "ok"
        tracked = self.m.tdh_mem_track(td)
        state = t.sept.get(gpa, SeptEntry()).state.name
        out = self.m.tdh_mem_page_remove(td, gpa)
        if kick and state in ("SEPT_BLOCKED", "SEPT_PENDING_BLOCKED"):
            assert tracked == "ok" and out == "ok"  # the protocol always succeeds

    @rule(tds=TDSEL, v=st.integers(0, VCPUS - 1), lp=st.one_of(st.none(), st.integers(0, 3)))
    def enter(self, tds: Sel, v: int, lp: int | None) -> None:
        runnable = [d for d, t in sorted(self.m.tds.items()) if t.op_state.name == "RUNNABLE"
                    and t.lifecycle.name == "TD_KEYS_CONFIGURED"]
        td = runnable[tds[1] % len(runnable)] if tds[0] and runnable else self._td((True, tds[1]))
        self.m.tdh_vp_enter(td, v, lp)

    @rule(vs=TDSEL, flush=st.booleans(), go=st.integers(0, 1))
    def exit_or_flush(self, vs: Sel, flush: bool, go: int) -> None:
        if go:
            return
        td, v = self._vcpu(vs)
        self.m.td_exit(td, v)
        if flush:
            self.m.tdh_vp_flush(td, v)

    @rule(tds=TDSEL, pkg=st.integers(0, PKGS - 1), go=st.integers(0, 2))
    def teardown_steps(self, tds: Sel, pkg: int, go: int) -> None:
        if go:  # teardown ends a TD's interesting life: do it less often
            return
        self.m.tdh_mng_vpflushdone(self._td(tds))
        self.m.tdh_phymem_cache_wb(pkg)
        self.m.tdh_mng_key_freeid(self._td(tds))

    @rule(pg=PAGESEL)
    def reclaim(self, pg: Sel) -> None:
        owned = [p for p, e in enumerate(self.m.pamt) if e.pt.name != "PT_NDA"]
        page = owned[pg[1] % len(owned)] if pg[0] and owned else pg[1]
        self.m.tdh_phymem_page_reclaim(page)

    # -- TD side
    @rule(vs=TDSEL, gpa=st.integers(0, GPAS - 1),
          op=st.sampled_from(["read", "write", "accept", "read"]))
    def td_access(self, vs: Sel, gpa: int, op: str) -> None:
        td, v = self._vcpu(vs)
        if op == "accept":
            self.m.tdg_mem_page_accept(td, v, gpa)
            return
        t = self.m.tds.get(td)
        e = None if t is None else t.sept.get(gpa)
        cached = t is not None and gpa in t.tlb[v]
        if op == "write":
            self.n += 1
            secret = 0x5EC0001000 + self.n
            if self.m.td_write(td, v, gpa, secret) == "ok":
                self.secrets.add(secret)
            return
        out, _ = self.m.td_read(td, v, gpa)
        if out == "ok":
            assert t is not None and e is not None
            assert e.state.name != "SEPT_PENDING"  # PENDING never readable
            if not cached:
                assert e.state.name == "SEPT_MAPPED"
        if out == "VE":
            assert e is not None and e.state.name == "SEPT_PENDING"

    @rule(vs=TDSEL, gpa=st.integers(0, GPAS - 1), r=st.booleans(), w=st.booleans(),
          l2r=st.booleans())
    def l2(self, vs: Sel, gpa: int, r: bool, w: bool, l2r: bool) -> None:
        td, v = self._vcpu(vs)
        self.m.tdg_mem_page_attr_wr(td, gpa, 1, r, w, vcpu=v)
        if l2r:
            self.m.l2_read(td, 1, gpa, vcpu=v)
        else:
            self.m.l2_write(td, 1, gpa, 0x77, vcpu=v)

    # -- VMM side
    @rule(page=st.integers(0, PAGES - 1), write=st.booleans())
    def vmm(self, page: int, write: bool) -> None:
        if write:
            self.m.vmm_write(page, value=0x4057)
            return
        out, data = self.m.vmm_read(page)
        assert out == "ok" and data is not None
        for s in self.secrets:  # the VMM never obtains TD plaintext
            assert s.to_bytes(8, "little") not in data

    # -- invariants
    @invariant()
    def single_owner_and_nda_allocation(self) -> None:
        m, o = self.m, self.m.observe()
        seen: dict[int, tuple[int, int]] = {}
        for d, t in m.tds.items():
            if t.lifecycle.name == "TD_TEARDOWN":
                continue
            for g, e in t.sept.items():
                if e.pa is None:
                    continue
                assert e.pa not in seen, (e.pa, seen[e.pa], (d, g))
                seen[e.pa] = (d, g)
                assert m.pamt[e.pa].pt.name == "PT_REG" and m.pamt[e.pa].owner == d
        prev, cur = self.prev["pamt"], o["pamt"]
        for p in cur:  # type: ignore[attr-defined]
            a, b = prev[p]["page_type"], cur[p]["page_type"]  # type: ignore[index]
            if a != b:
                assert a == "PT_NDA" or b == "PT_NDA", (p, a, b)  # allocate from / free to NDA
        for pe in m.pamt:
            if pe.pt.name in ("PT_REG", "PT_TDCX", "PT_TDVPR", "PT_EPT"):
                assert pe.owner in m.tds
            else:
                assert pe.owner is None
        for d, t in m.tds.items():
            assert t.chldcnt == sum(x.owner == d for x in m.pamt)

    @invariant()
    def epochs_and_refcounts(self) -> None:
        for t in self.m.tds.values():
            running = [x for x in t.vcpus.values() if x.running]
            for x in running:
                assert x.epoch in (t.epoch - 1, t.epoch)
            for i in (0, 1):
                assert t.refcount[i] == sum(1 for x in running if x.epoch & 1 == i)
            assert t.num_assoc_vcpus == sum(x.assoc_lp is not None for x in t.vcpus.values())
            for l2, attrs in t.l2_attr.items():
                for g in attrs:
                    assert t.sept[g].state.name in ("SEPT_MAPPED", "SEPT_BLOCKED"), (l2, g)

    @invariant()
    def no_stale_translation(self) -> None:
        assert _stale_translations(self.m) == []

    @invariant()
    def lp_modes(self) -> None:
        m = self.m
        for lp, mode in enumerate(m.lp_mode):
            who = m.lp_vcpu[lp]
            assert (mode.name == "SEAM_NONROOT") == (who is not None)
            if who is not None:
                x = m.tds[who[0]].vcpus[who[1]]
                assert x.running and x.assoc_lp == lp

    @invariant()
    def kot_order_and_measurement_freeze(self) -> None:
        o = self.m.observe()
        for h, s in o["kot"].items():  # type: ignore[attr-defined]
            a = self.prev["kot"][h]  # type: ignore[index]
            assert a == s or (a, s) in _KOT_NEXT, (h, a, s)
        owners = [t.hkid for t in self.m.tds.values() if t.lifecycle.name != "TD_TEARDOWN"]
        assert len(owners) == len(set(owners))
        for t in self.m.tds.values():
            if t.lifecycle.name != "TD_TEARDOWN":
                want = {"TD_BLOCKED": "HKID_FLUSHED"}.get(t.lifecycle.name, "HKID_ASSIGNED")
                assert self.m.kot[t.hkid].name == want
        for d, t in self.m.tds.items():
            if t.op_state.name == "RUNNABLE":
                self.final_mrtd.setdefault(d, self.m.measurement(d)["mrtd"])
                assert self.m.measurement(d)["mrtd"] == self.final_mrtd[d]
        for d in list(self.final_mrtd):
            if d not in self.m.tds:
                del self.final_mrtd[d]
        self.prev = o


TdxStateMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_tdx_state_machine = TdxStateMachine.TestCase
