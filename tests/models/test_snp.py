"""Tests of models/snp.py: every error path in its documented order, attack demos, and a
hypothesis state machine over all actions checking the invariants SNP hardware guarantees
(domain.md section 6 items 1-9, 22, 23)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from models.snp import PAGE_TYPES, SnpMachine
from models.snp_rmp import (
    PERM_ALL,
    PERM_NONE,
    PageSize,
    PageState,
    Perm,
    RmpEntry,
    as_perm,
    perm_names,
)

R, W, XU, XS = int(Perm.Read), int(Perm.Write), int(Perm.ExecUser), int(Perm.ExecSuper)
ALL = int(PERM_ALL)


def obs(m: SnpMachine) -> Any:
    """observe() typed loosely for indexing in tests."""
    return m.observe()


def mk(running: bool = True) -> SnpMachine:
    """8 pages, 2 guests, 4 gpas, 2M = 2 pages; both guests past LAUNCH_FINISH if `running`."""
    m = SnpMachine(pages=8, guests=2, gpas=4, pages_per_2m=2, seed=0, page_bytes=64)
    if running:
        for g in m.guest_ids():
            assert m.launch_finish(g) == "ok"
    return m


def private(m: SnpMachine, guest: int, page: int, gpa: int, validate: bool = True) -> None:
    """HV assigns page to (guest, gpa) 4K, maps it; the guest validates it."""
    assert m.rmpupdate(page, guest, gpa, True, False, False) == "ok"
    assert m.npt_map(guest, gpa, page) == "ok"
    if validate:
        assert m.pvalidate(guest, 0, gpa, False, True) == "ok"


def private_2m(m: SnpMachine, guest: int, page: int, gpa: int, validate: bool = True) -> None:
    assert m.rmpupdate(page, guest, gpa, True, True, False) == "ok"
    assert m.npt_map(guest, gpa, page, True) == "ok"
    if validate:
        assert m.pvalidate(guest, 0, gpa, True, True) == "ok"


def firmware(m: SnpMachine, page: int) -> None:
    assert m.rmpupdate(page, 0, 0, True, False, True) == "ok"


def pre_guest(m: SnpMachine, guest: int, page: int, gpa: int, size2m: bool = False) -> None:
    assert m.rmpupdate(page, guest, gpa, True, size2m, True) == "ok"


# ---------------------------------------------------------------------------- RMPUPDATE
def test_rmpupdate_input_errors() -> None:
    m = mk()
    assert m.rmpupdate(1, 1, 0, True, True, False) == "FAIL_INPUT"  # page not 2M aligned
    assert m.rmpupdate(0, 1, 1, True, True, False) == "FAIL_INPUT"  # gpa not 2M aligned
    assert m.rmpupdate(0, 0, 0, True, False, False) == "FAIL_INPUT"  # asid 0 mutable assigned
    assert m.rmpupdate(0, 1, 0, False, False, True) == "FAIL_INPUT"  # immutable unassigned
    with pytest.raises(ValueError):
        m.rmpupdate(8, 1, 0, True, False, False)
    with pytest.raises(ValueError):
        m.rmpupdate(0, 3, 0, True, False, False)
    with pytest.raises(ValueError):
        SnpMachine(pages=3, pages_per_2m=2)


def test_rmpupdate_order_input_before_permission_before_overlap() -> None:
    m = mk()
    firmware(m, 1)
    assert m.rmpupdate(1, 1, 0, True, True, False) == "FAIL_INPUT"  # misaligned + immutable
    assert m.rmpupdate(1, 1, 0, True, False, False) == "FAIL_PERMISSION"
    # region {0,1}: page 0 assigned 4K (overlap) and page 1 immutable: permission wins
    private(m, 1, 0, 0, validate=False)
    assert m.rmpupdate(0, 1, 0, True, True, False) == "FAIL_PERMISSION"
    # immutable 2M Pre-Guest entry: a 4K request is both immutable and overlapping
    pre_guest(m, 1, 2, 2, size2m=True)
    assert m.rmpupdate(3, 1, 3, True, False, False) == "FAIL_PERMISSION"


def test_rmpupdate_overlap() -> None:
    m = mk()
    private(m, 1, 0, 0, validate=False)
    assert m.rmpupdate(0, 1, 0, True, True, False) == "FAIL_OVERLAP"  # 2M over assigned 4K
    private_2m(m, 1, 2, 2, validate=False)
    assert m.rmpupdate(3, 1, 3, True, False, False) == "FAIL_OVERLAP"  # 4K inside assigned 2M
    assert m.rmpupdate(2, 0, 0, False, False, False) == "FAIL_OVERLAP"
    assert m.rmpupdate(2, 0, 0, False, True, False) == "ok"  # a 2M request replaces it whole


def test_rmpupdate_effect_resets_validated_vmsa_perms() -> None:
    m = mk()
    private(m, 1, 0, 0)
    assert m.rmpadjust(1, 0, 0, 1, R | W, True) == "ok"
    e = m.rmp[0]
    assert e.validated and e.vmsa and e.perms[1] == Perm.Read | Perm.Write
    assert m.rmpupdate(0, 1, 0, True, False, False) == "ok"  # same fields re-written
    e = m.rmp[0]
    assert not e.validated and not e.vmsa
    assert e.perms == (PERM_ALL, PERM_NONE, PERM_NONE, PERM_NONE)
    assert m.rmpupdate(0, 0, 0, False, False, False) == "ok"
    assert m.rmp[0].perms == (PERM_NONE,) * 4
    # 4K update inside an unassigned 2M entry splits the region into 4K entries
    assert m.rmpupdate(4, 0, 0, False, True, False) == "ok"
    assert m.rmp[5].size is PageSize.S2M and m.rmp[5].gpa == 1
    assert m.rmpupdate(5, 2, 3, True, False, False) == "ok"
    assert m.rmp[4].size is PageSize.S4K and m.rmp[5].size is PageSize.S4K


# ---------------------------------------------------------------------------- PVALIDATE
def test_pvalidate_order() -> None:
    m = mk()
    assert m.pvalidate(1, 1, 0, False, True) == "FAIL_PERMISSION"  # VMPL1 beats missing NPT
    assert m.pvalidate(1, 0, 1, True, True) == "FAIL_INPUT"  # unaligned 2M beats missing NPT
    assert m.pvalidate(1, 0, 0, False, True) == "NPF"  # no translation
    m.npt_map(1, 0, 0)
    assert m.pvalidate(1, 0, 0, False, True) == "NPF"  # !assigned
    pre_guest(m, 1, 0, 0)
    assert m.pvalidate(1, 0, 0, False, True) == "NPF"  # immutable
    m.npt_map(1, 1, 1)
    assert m.rmpupdate(1, 1, 2, True, False, False) == "ok"
    assert m.pvalidate(1, 0, 1, False, True) == "NPF"  # gpa mismatch
    m.npt_map(2, 1, 1)
    assert m.rmpupdate(1, 1, 1, True, False, False) == "ok"
    assert m.pvalidate(2, 0, 1, False, True) == "NPF"  # asid mismatch
    # asid mismatch + size mismatch (RMP 4K, request 2M): NPF comes first
    m.npt_map(2, 2, 2)
    assert m.rmpupdate(2, 1, 2, True, False, False) == "ok"
    assert m.pvalidate(2, 0, 2, True, True) == "NPF"
    # RMP 4K + request 2M + unchanged (validate=False on invalid): size mismatch first
    m.npt_map(1, 2, 2)
    assert m.pvalidate(1, 0, 2, True, False) == "FAIL_SIZEMISMATCH"
    assert m.pvalidate(1, 0, 2, False, False) == "FAIL_UNCHANGED"
    assert m.pvalidate(1, 0, 2, False, True) == "ok"
    assert m.pvalidate(1, 0, 2, False, True) == "FAIL_UNCHANGED"
    assert m.pvalidate(1, 0, 2, False, False) == "ok"
    assert not m.rmp[2].validated


def test_pvalidate_2m() -> None:
    m = mk()
    private_2m(m, 1, 4, 2, validate=False)
    assert m.pvalidate(1, 0, 2, False, True) == "NPF"  # RMP 2M, request 4K: HV should PSMASH
    assert m.pvalidate(1, 0, 2, True, True) == "ok"
    assert m.rmp[4].validated and m.rmp[5].validated and m.rmp[5].gpa == 3


# ---------------------------------------------------------------------------- RMPADJUST
def test_rmpadjust_order() -> None:
    m = mk()
    assert m.rmpadjust(1, 0, 0, 4, R, False) == "FAIL_INPUT"
    assert m.rmpadjust(1, 0, 0, 1, 16, False) == "FAIL_INPUT"
    assert m.rmpadjust(1, 0, 1, 1, R, False, True) == "FAIL_INPUT"
    assert m.rmpadjust(1, 1, 0, 1, R, False) == "FAIL_PERMISSION"  # target <= vmpl beats NPF
    assert m.rmpadjust(1, 2, 0, 1, R, False) == "FAIL_PERMISSION"
    assert m.rmpadjust(1, 0, 0, 1, R, False) == "NPF"  # no translation
    private(m, 1, 0, 0, validate=False)
    m.npt_map(1, 1, 0)  # gpa 1 -> page 0 whose rmp gpa is 0: mismatch (and unvalidated)
    assert m.rmpadjust(1, 0, 1, 1, R, False) == "NPF"  # NPF before VC
    # unvalidated + 2M request on 4K entry: VC before FAIL_SIZEMISMATCH
    assert m.rmpadjust(1, 0, 0, 1, R, False, True) == "VC"
    assert m.rmpadjust(1, 0, 0, 1, R, False) == "VC"
    assert m.pvalidate(1, 0, 0, False, True) == "ok"
    # size mismatch + perms not a subset (VMPL1 has none): size mismatch first
    assert m.rmpadjust(1, 1, 0, 2, R, False, True) == "FAIL_SIZEMISMATCH"
    assert m.rmpadjust(1, 1, 0, 2, R, False) == "FAIL_PERMISSION"  # not a subset
    assert m.rmpadjust(1, 0, 0, 1, R, False) == "ok"
    assert m.rmpadjust(1, 1, 0, 2, R | W, False) == "FAIL_PERMISSION"
    assert m.rmpadjust(1, 1, 0, 2, R, True) == "ok"
    assert m.rmp[0].perms[2] == Perm.Read and m.rmp[0].vmsa
    private_2m(m, 2, 2, 0)
    assert m.rmpadjust(2, 0, 0, 3, XU, False) == "NPF"  # 4K request on a 2M entry
    assert m.rmpadjust(2, 0, 0, 3, XU, False, True) == "ok"
    assert m.rmp[2].perms[3] == m.rmp[3].perms[3] == Perm.ExecUser


# ---------------------------------------------------------------------------- PSMASH
def test_psmash() -> None:
    m = mk()
    assert m.psmash(0) == "FAIL_INPUT"  # a 4K entry
    pre_guest(m, 1, 2, 2, size2m=True)
    assert m.psmash(3) == "FAIL_INPUT"  # not the head, and immutable: input first
    assert m.psmash(2) == "FAIL_PERMISSION"
    private_2m(m, 2, 4, 2)
    assert m.psmash(4) == "ok"
    for i, p in enumerate((4, 5)):
        e = m.rmp[p]
        assert e.size is PageSize.S4K and e.validated and e.asid == 2 and e.gpa == 2 + i
    # after PSMASH a 2M NPT leaf no longer matches: remap 4K, then access works
    assert m.guest_read(2, 0, 3, True)[0] == "NPF"
    m.npt_map(2, 3, 5)
    assert m.guest_write(2, 0, 3, 7, True) == "ok"
    assert m.guest_read(2, 0, 3, True) == ("ok", 7)


# ---------------------------------------------------------------------------- RMP check
def test_private_access_check_order() -> None:
    m = mk()
    assert m.guest_read(1, 0, 0, True) == ("NPF", None)  # no translation
    private(m, 1, 0, 0, validate=False)
    m.npt_map(1, 1, 0)
    assert m.guest_read(1, 0, 1, True) == ("NPF", None)  # gpa mismatch beats VC
    assert m.guest_read(1, 0, 0, True) == ("VC", None)  # unvalidated
    m.npt_map(2, 0, 0)
    assert m.guest_read(2, 0, 0, True) == ("NPF", None)  # asid mismatch beats VC
    # unvalidated and no VMPL1 permission: VC first
    assert m.guest_read(1, 1, 0, True) == ("VC", None)
    assert m.pvalidate(1, 0, 0, False, True) == "ok"
    assert m.guest_read(1, 1, 0, True) == ("NPF", None)  # VMPL permission
    assert m.rmpadjust(1, 0, 0, 1, R, False) == "ok"
    assert m.guest_write(1, 0, 0, 42, True) == "ok"
    assert m.guest_read(1, 1, 0, True) == ("ok", 42)
    assert m.guest_write(1, 1, 0, 5, True) == "NPF"  # no Write at VMPL1
    assert m.guest_fetch(1, 1, 0, True) == ("NPF", None)
    assert m.guest_fetch(1, 0, 0, False) == ("ok", 42)
    assert m.rmpadjust(1, 0, 0, 1, R | XU, False) == "ok"
    assert m.guest_fetch(1, 1, 0, True) == ("ok", 42)
    assert m.guest_fetch(1, 1, 0, False) == ("NPF", None)
    # immutable (Pre-Guest) page with matching gpa/asid: NPF
    pre_guest(m, 1, 1, 1)
    m.npt_map(1, 1, 1)
    assert m.guest_read(1, 0, 1, True) == ("NPF", None)


def test_size_agreement_npt_leaf_vs_rmp() -> None:
    m = mk()
    private_2m(m, 1, 2, 0)
    m.npt_map(1, 1, 3)  # splits the 2M leaf: both gpas now 4K leaves over a 2M RMP entry
    assert m.observe()["npt_size"] == {1: {0: "S4K", 1: "S4K", 2: None, 3: None},
                                      2: {0: None, 1: None, 2: None, 3: None}}
    assert m.guest_read(1, 0, 0, True) == ("NPF", None)
    m.npt_map(1, 0, 2, True)
    assert m.guest_write(1, 0, 1, 9, True) == "ok"
    # 2M NPT leaf over 4K RMP entries [R] is a mismatch too
    private(m, 2, 4, 0)
    private(m, 2, 5, 1)
    assert m.guest_read(2, 0, 1, True)[0] == "ok"
    assert m.npt_map(2, 0, 4, True) == "ok"
    assert m.guest_read(2, 0, 1, True) == ("NPF", None)
    assert m.npt_map(2, 1, 4, True) == "FAIL_INPUT"
    assert m.npt_unmap(2, 1) == "ok"  # removes the whole 2M leaf
    assert m.npt[2] == [None] * 4


def test_shared_access() -> None:
    m = mk()
    m.npt_map(1, 0, 0)
    assert m.guest_write(1, 0, 0, 0x1234, False) == "ok"
    assert m.hv_read(0)[1][:8] == (0x1234).to_bytes(8, "little")  # C=0: plaintext
    assert m.guest_read(1, 3, 0, False) == ("ok", 0x1234)  # no VMPL check for shared
    private(m, 1, 0, 0)
    assert m.guest_read(1, 0, 0, False) == ("NPF", None)  # C=0 needs !assigned
    assert m.guest_write(1, 0, 0, 1, False) == "NPF"
    assert m.guest_read(1, 0, 1, False) == ("NPF", None)  # no translation


def test_private_data_is_ciphertext_in_memory() -> None:
    m = mk()
    private(m, 1, 0, 0)
    assert m.guest_write(1, 0, 0, 0xAB, True) == "ok"
    outcome, ct = m.hv_read(0)
    assert outcome == "ok" and ct[:8] != (0xAB).to_bytes(8, "little")
    assert obs(m)["mem"][0] == {"key": 1, "val": 0xAB}  # found by trial decryption
    assert m.load(2, 0) != 0xAB and m.load(0, 0) != 0xAB  # other keys: garbage


# ---------------------------------------------------------------------------- HV writes
def test_hv_write_isolation() -> None:
    m = mk()
    assert m.hv_write(1, 5) == "ok"
    private(m, 1, 0, 0)
    assert m.hv_write(0, 5) == "RMP_PF"
    assert m.hv_write(1, 6) == "ok"
    assert m.hv_write(1, 6, via_2m=True) == "RMP_PF"  # 2M host mapping over assigned 4K
    assert m.hv_write_raw(1, b"x" * 8, via_2m=True) == "RMP_PF"
    assert m.hv_write_raw(2, b"x" * 8, via_2m=True) == "ok"
    firmware(m, 4)
    assert m.hv_write(4, 1) == "RMP_PF"
    with pytest.raises(ValueError):
        m.hv_write(8, 0)


# ---------------------------------------------------------------------------- page states
def test_page_states_all_eight() -> None:
    m = mk()
    assert m.page_state(0) == "HYPERVISOR"
    firmware(m, 1)
    assert m.page_state(1) == "FIRMWARE"
    pre_guest(m, 1, 2, 0)
    assert m.page_state(2) == "PRE_GUEST"
    private(m, 1, 3, 1, validate=False)
    assert m.page_state(3) == "GUEST_INVALID"
    assert m.pvalidate(1, 0, 1, False, True) == "ok"
    assert m.page_state(3) == "GUEST_VALID"
    firmware(m, 4)
    firmware(m, 5)
    assert m.page_md_init(4) == "ok" and m.page_state(4) == "METADATA"
    assert m.gctx_create(5) == "ok" and m.page_state(5) == "CONTEXT"
    assert m.page_swap_out(3, 4) == "ok"
    assert m.page_state(3) == "PRE_SWAP"
    names = {s.value for s in PageState}
    assert {m.page_state(p) for p in range(8)} <= names
    assert len(names) == 8
    assert obs(m)["md_pages"] == frozenset({4}) and obs(m)["context_pages"] == frozenset({5})
    assert obs(m)["swap_locked"] == frozenset({3})


def test_md_init_gctx_errors() -> None:
    m = mk()
    assert m.page_md_init(0) == "INVALID_PAGE_STATE"
    assert m.gctx_create(0) == "INVALID_PAGE_STATE"
    assert m.rmpupdate(2, 0, 0, True, True, True) == "ok"  # a 2M firmware entry
    assert m.page_md_init(2) == "INVALID_PAGE_SIZE"
    assert m.page_reclaim(3) == "ok"  # reclaims the whole 2M entry
    assert m.page_state(2) == m.page_state(3) == "HYPERVISOR"


# ---------------------------------------------------------------------------- LAUNCH_UPDATE
def digest_step(d: bytes, gpa: int, ptype: str, contents: bytes) -> bytes:
    return hashlib.sha384(
        d + gpa.to_bytes(8, "little") + bytes([PAGE_TYPES[ptype]]) + hashlib.sha384(contents).digest()
    ).digest()


def test_launch_update_errors_in_order() -> None:
    m = mk(running=False)
    assert m.launch_update(1, 0, 0, 1, "BOGUS") == "INVALID_PARAM"  # before page state
    assert m.launch_update(1, 0, 0, 1, "NORMAL", (16, 0, 0)) == "INVALID_PARAM"
    assert m.launch_update(1, 0, 0, 1) == "INVALID_PAGE_STATE"  # Hypervisor page
    private(m, 1, 0, 0, validate=False)
    assert m.launch_update(1, 0, 0, 1) == "INVALID_PAGE_STATE"  # mutable guest page
    pre_guest(m, 1, 1, 1)
    assert m.launch_update(1, 1, 0, 1) == "INVALID_PAGE_STATE"  # gpa mismatch
    assert m.launch_update(2, 1, 1, 1) == "INVALID_PAGE_STATE"  # asid mismatch
    pre_guest(m, 1, 2, 2, size2m=True)
    assert m.launch_update(1, 2, 2, 1) == "INVALID_PAGE_SIZE"
    firmware(m, 6)
    assert m.launch_update(1, 6, 0, 1) == "INVALID_PAGE_STATE"
    assert m.launch_finish(1) == "ok"
    assert m.launch_update(1, 6, 0, 1) == "INVALID_GUEST_STATE"  # before the page state
    assert m.launch_update(1, 0, 0, 1, "BOGUS") == "INVALID_PARAM"


def test_launch_update_effect_and_digest() -> None:
    m = mk(running=False)
    pre_guest(m, 1, 0, 0)
    pre_guest(m, 1, 1, 1)
    pre_guest(m, 1, 2, 2)
    assert m.launch_update(1, 0, 0, 0x55, "NORMAL", (R | W, 0, 0)) == "ok"
    assert m.launch_update(1, 1, 1, 0x66, "VMSA") == "ok"
    assert m.launch_update(1, 2, 2, 0x77, "ZERO") == "ok"
    d = bytes(48)
    d = digest_step(d, 0, "NORMAL", (0x55).to_bytes(8, "little") + bytes(56))
    d = digest_step(d, 1, "VMSA", (0x66).to_bytes(8, "little") + bytes(56))
    d = digest_step(d, 2, "ZERO", b"")
    assert m.launch_digest == {1: d, 2: bytes(48)}
    assert obs(m)["mem"][0] == {"key": 1, "val": 0x55} and obs(m)["mem"][2] == {"key": 1, "val": 0}
    assert m.launch_finish(1) == "ok" and m.launch_finish(1) == "INVALID_GUEST_STATE"
    assert obs(m)["guest_state"] == {1: "RUNNING", 2: "LAUNCH"}
    assert m.page_state(0) == "GUEST_VALID" and not m.rmp[0].immutable
    assert m.rmp[0].perms[1] == Perm.Read | Perm.Write and m.rmp[1].vmsa
    for g, p in ((0, 0), (1, 1), (2, 2)):
        m.npt_map(1, g, p)
    assert m.guest_read(1, 1, 0, True) == ("ok", 0x55)
    assert m.guest_read(1, 0, 2, True) == ("ok", 0)
    assert m.guest_os_validated[1] == {0, 1, 2}
    assert m.guest_os_pvalidate(1, 0) == "GUEST_REFUSED_DOUBLE_VALIDATE"


def test_launch_digest_binds_gpa() -> None:
    """undeSErVed trust: the same pages placed at swapped gpas give a different digest."""
    a, b = mk(running=False), mk(running=False)
    for m, order in ((a, (0, 1)), (b, (1, 0))):
        for page, gpa in enumerate(order):
            pre_guest(m, 1, page, gpa)
            assert m.launch_update(1, page, gpa, 100 + page) == "ok"
    assert a.launch_digest[1] != b.launch_digest[1]


# ---------------------------------------------------------------------------- RECLAIM
def test_page_reclaim() -> None:
    m = mk()
    assert m.page_reclaim(0) == "INVALID_PAGE_STATE"  # not immutable
    pre_guest(m, 1, 0, 0)
    assert m.page_reclaim(0) == "ok" and m.page_state(0) == "GUEST_INVALID"
    assert m.rmpupdate(0, 0, 0, False, False, False) == "ok"
    firmware(m, 1)
    assert m.rmpupdate(1, 0, 0, False, False, False) == "FAIL_PERMISSION"
    assert m.page_reclaim(1) == "ok" and m.page_state(1) == "HYPERVISOR"
    firmware(m, 2)
    assert m.gctx_create(2) == "ok" and m.page_reclaim(2) == "ok"
    assert 2 not in m.context_pages
    firmware(m, 3)
    assert m.page_md_init(3) == "ok"
    private(m, 1, 4, 1)
    assert m.page_swap_out(4, 3) == "ok"
    assert m.page_reclaim(3) == "INVALID_PAGE_STATE"  # slot in use
    assert m.page_reclaim(4) == "ok" and m.page_state(4) == "GUEST_INVALID"


# ---------------------------------------------------------------------------- SWAP
def test_swap_errors_in_order() -> None:
    m = mk()
    firmware(m, 7)
    assert m.page_md_init(7) == "ok"
    assert m.page_swap_out(0, 6) == "INVALID_PAGE_STATE"  # page state beats bad metadata
    private_2m(m, 1, 2, 2)
    assert m.page_swap_out(2, 6) == "INVALID_PAGE_SIZE"  # size beats bad metadata
    private(m, 1, 0, 0)
    assert m.page_swap_out(0, 6) == "INVALID_MDATA_ENTRY"  # not a Metadata page
    assert m.page_swap_in(0, 7) == "INVALID_MDATA_ENTRY"  # empty slot
    assert m.page_swap_out(0, 7) == "ok"
    private(m, 1, 1, 1)
    assert m.page_swap_out(1, 7) == "INVALID_MDATA_ENTRY"  # slot in use
    assert m.page_swap_in(1, 7) == "INVALID_PAGE_STATE"  # not immutable / gpa mismatch
    pre_guest(m, 1, 4, 1)
    assert m.page_swap_in(4, 7) == "INVALID_PAGE_STATE"  # gpa mismatch
    pre_guest(m, 2, 5, 0)
    assert m.page_swap_in(5, 7) == "INVALID_PAGE_STATE"  # asid mismatch


def test_swap_out_in_preserves_contents_and_state() -> None:
    m = mk()
    firmware(m, 7)
    assert m.page_md_init(7) == "ok"
    private(m, 1, 0, 0)
    assert m.rmpadjust(1, 0, 0, 1, R, False) == "ok"
    assert m.guest_write(1, 0, 0, 0xFEED, True) == "ok"
    assert m.page_swap_out(0, 7) == "ok"
    slots = obs(m)["slots"]
    assert slots[7] == {"asid": 1, "gpa": 0, "validated": True, "vmsa": False,
                        "perms": {0: perm_names(PERM_ALL), 1: frozenset({"Read"}),
                                  2: frozenset(), 3: frozenset()}, "key": 1, "val": 0xFEED}
    assert all(slots[p] is None for p in range(7)) and obs(m)["md_pages"] == frozenset({7})
    assert m.guest_read(1, 0, 0, True) == ("NPF", None)  # locked
    assert m.hv_write(0, 1) == "RMP_PF"
    assert m.rmpupdate(0, 0, 0, False, False, False) == "FAIL_PERMISSION"
    # swap in at a different SPA the HV prepared for the same (asid, gpa)
    pre_guest(m, 1, 3, 0)
    assert m.page_swap_in(3, 7) == "ok"
    m.npt_map(1, 0, 3)
    assert m.guest_read(1, 1, 0, True) == ("ok", 0xFEED)
    assert m.page_state(3) == "GUEST_VALID" and obs(m)["slots"][7] is None
    assert m.page_state(0) == "PRE_SWAP"
    # and back in place at the original (still locked) page
    assert m.page_swap_out(3, 7) == "ok"
    assert m.page_swap_in(0, 7) == "ok"
    m.npt_map(1, 0, 0)
    assert m.guest_read(1, 1, 0, True) == ("ok", 0xFEED)
    assert m.page_state(0) == "GUEST_VALID"


# ---------------------------------------------------------------------------- guest OS duty
def test_guest_os_validate_once() -> None:
    m = mk()
    private(m, 1, 0, 0, validate=False)
    assert m.guest_os_pvalidate(1, 0) == "ok"
    assert m.guest_os_pvalidate(1, 0) == "GUEST_REFUSED_DOUBLE_VALIDATE"
    assert m.guest_os_unvalidate(1, 0) == "ok"
    assert m.guest_os_unvalidate(1, 0) == "FAIL_UNCHANGED"
    assert m.guest_os_pvalidate(1, 0) == "ok"
    assert m.guest_os_pvalidate(1, 1) == "NPF"
    assert m.observe()["guest_os_validated"] == {1: frozenset({0}), 2: frozenset()}


# ---------------------------------------------------------------------------- attacks
def test_severed_remap_stopped_by_gpa_check() -> None:
    """SEVered: the HV points the public gpa at the page holding the secret."""
    m = mk()
    private(m, 1, 0, 0)  # secret
    private(m, 1, 1, 1)  # public
    assert m.guest_write(1, 0, 0, 0x5EC12E7, True) == "ok"
    assert m.guest_write(1, 0, 1, 0x9B11C, True) == "ok"
    assert m.npt_map(1, 1, 0) == "ok"  # npt[a][g_pub] := npt[a][g_sec]
    assert m.guest_read(1, 0, 1, True) == ("NPF", None)  # rmp[0].gpa == 0 != 1


def test_remap_with_revalidation_needs_guest_cooperation() -> None:
    """HV re-assigns a fresh page to a used gpa; only a second PVALIDATE would accept it,
    which the guest OS refuses (domain 6.2/6.7)."""
    m = mk()
    private(m, 1, 0, 0)
    m.guest_os_validated[1].add(0)
    assert m.guest_write(1, 0, 0, 1, True) == "ok"
    assert m.rmpupdate(2, 1, 0, True, False, False) == "ok"
    assert m.npt_map(1, 0, 2) == "ok"
    assert m.guest_read(1, 0, 0, True) == ("VC", None)
    assert m.guest_os_pvalidate(1, 0) == "GUEST_REFUSED_DOUBLE_VALIDATE"
    assert m.guest_read(1, 0, 0, True) == ("VC", None)


def test_replay_of_old_ciphertext_blocked() -> None:
    m = mk()
    private(m, 1, 0, 0)
    assert m.guest_write(1, 0, 0, 1000, True) == "ok"
    old = m.hv_read(0)[1]
    assert m.guest_write(1, 0, 0, 1, True) == "ok"
    assert m.hv_write_raw(0, old) == "RMP_PF"
    assert m.hv_write_raw(0, old, via_2m=True) == "RMP_PF"
    assert m.guest_read(1, 0, 0, True) == ("ok", 1)
    # without the RMP (raw DRAM write, e.g. BadRAM alias) the replay would work: no integrity
    m.mem.write_ciphertext(0, 0, old)
    assert m.guest_read(1, 0, 0, True) == ("ok", 1000)


def test_observe_shape() -> None:
    m = SnpMachine(pages=2, guests=1, gpas=2, pages_per_2m=2)
    assert m.launch_finish(1) == "ok"
    private(m, 1, 0, 1)
    o = obs(m)
    assert set(o) == {"rmp", "npt", "npt_size", "mem", "guest_state", "guest_os_validated",
                      "md_pages", "slots", "context_pages", "swap_locked"}
    assert o["rmp"][0] == {
        "assigned": True, "asid": 1, "gpa": 1, "size": "S4K", "validated": True,
        "immutable": False, "vmsa": False,
        "perms": {0: frozenset({"Read", "Write", "ExecUser", "ExecSuper"}), 1: frozenset(),
                  2: frozenset(), 3: frozenset()},
    }
    assert o["npt"] == {1: {0: None, 1: 0}}
    assert o["npt_size"] == {1: {0: None, 1: "S4K"}}
    assert o["mem"] == {0: {"key": 0, "val": 0}, 1: {"key": 0, "val": 0}}
    assert o["guest_state"] == {1: "RUNNING"}
    assert o["guest_os_validated"] == {1: frozenset()}  # raw PVALIDATE: the OS record untouched
    assert o["md_pages"] == o["context_pages"] == o["swap_locked"] == frozenset()
    assert o["slots"] == {0: None, 1: None}
    assert RmpEntry().with_perm(2, Perm.Read).perms[2] == Perm.Read
    with pytest.raises(ValueError):
        SnpMachine(pages=2, pages_per_2m=2, gpas=2, page_bytes=24)


# ---------------------------------------------------------------------------- guest state
def test_guest_actions_need_a_running_guest() -> None:
    m = mk(running=False)
    private(m, 1, 0, 0, validate=False)
    assert m.pvalidate(1, 0, 0, False, True) == "GUEST_NOT_RUNNING"
    assert m.rmpadjust(1, 0, 0, 1, R, False) == "GUEST_NOT_RUNNING"
    assert m.guest_write(1, 0, 0, 1, True) == "GUEST_NOT_RUNNING"
    assert m.guest_read(1, 0, 0, False) == ("GUEST_NOT_RUNNING", None)
    assert m.guest_fetch(1, 0, 0, True) == ("GUEST_NOT_RUNNING", None)
    assert m.guest_os_pvalidate(1, 0) == "GUEST_NOT_RUNNING"
    assert m.guest_os_unvalidate(1, 0) == "GUEST_NOT_RUNNING"
    assert m.launch_finish(1) == "ok" and m.launch_finish(1) == "INVALID_GUEST_STATE"
    assert m.guest_os_pvalidate(1, 0) == "ok"
    assert m.guest_state[2].value == "LAUNCH"


# ---------------------------------------------------------------------------- guest OS, 2M
def test_guest_os_pvalidate_2m_in_order() -> None:
    m = mk()
    assert m.guest_os_pvalidate(1, 1, True) == "FAIL_INPUT"  # unaligned 2M
    assert m.guest_os_pvalidate(1, 0, True) == "NPF"  # no translation
    private_2m(m, 1, 2, 0, validate=False)
    assert m.guest_os_pvalidate(1, 1) == "NPF"  # 4K request on a 2M entry: HV should PSMASH
    assert m.guest_os_pvalidate(1, 0, True) == "ok"
    assert m.rmp[2].validated and m.rmp[3].validated
    assert m.guest_os_validated[1] == {0, 1}  # the OS records every gpa of the 2M page
    assert m.guest_os_pvalidate(1, 1) == "GUEST_REFUSED_DOUBLE_VALIDATE"
    assert m.guest_os_pvalidate(1, 1, True) == "GUEST_REFUSED_DOUBLE_VALIDATE"  # before FAIL_INPUT
    assert m.guest_os_unvalidate(1, 0) == "NPF"  # PVALIDATE(0) of 4K on a 2M entry
    assert m.psmash(2) == "ok" and m.rmp[3].validated  # PSMASH keeps validated
    m.npt_map(1, 1, 3)
    assert m.guest_os_unvalidate(1, 1) == "ok" and m.guest_os_validated[1] == {0}
    # a 4K entry under a 2M request
    private(m, 2, 4, 2, validate=False)
    assert m.guest_os_pvalidate(2, 2, True) == "FAIL_SIZEMISMATCH"
    assert m.guest_os_validated[2] == set()
    assert m.guest_os_pvalidate(2, 2) == "ok"
    assert m.guest_os_pvalidate(2, 3) == "NPF"


def test_rmpadjust_perms_as_names() -> None:
    m = mk()
    private(m, 1, 0, 0)
    assert m.rmpadjust(1, 0, 0, 1, frozenset({"Read", "ExecSuper"}), False) == "ok"
    assert m.rmp[0].perms[1] == Perm.Read | Perm.ExecSuper
    assert m.rmpadjust(1, 1, 0, 2, {"Write"}, False) == "FAIL_PERMISSION"
    assert m.rmpadjust(1, 1, 0, 2, {"Read"}, False) == "ok"
    assert m.rmpadjust(1, 0, 0, 1, {"Shadow"}, False) == "FAIL_INPUT"
    assert m.rmpadjust(1, 0, 0, 1, Perm.Write, False) == "ok"
    assert as_perm(frozenset()) == PERM_NONE and as_perm(-1) is None and as_perm(15) == PERM_ALL
    assert obs(m)["rmp"][0]["perms"][1] == frozenset({"Write"})


# ---------------------------------------------------------------------------- memory cells
def test_cells_by_trial_decryption() -> None:
    m = mk()
    assert m.cell(0) == (0, 0)  # DRAM starts as plaintext zeros
    assert m.hv_write(0, 1) == "ok" and m.cell(0) == (0, 1)
    private(m, 1, 1, 1)
    assert m.guest_write(1, 0, 1, 1, True) == "ok" and m.cell(1) == (1, 1)
    ct = m.hv_read(1)[1]
    assert m.hv_write_raw(2, ct) == "ok"  # the same ciphertext at another SPA: garbage
    assert m.cell(2) is None and obs(m)["mem"][2] == {"key": None, "val": None}
    m.npt_map(2, 3, 3)
    assert m.guest_write(2, 0, 3, 5, False) == "ok" and m.cell(3) == (0, 5)  # C=0: plaintext
    assert m.hv_read(3)[1][:8] == (5).to_bytes(8, "little")


def test_hardware_swap_of_contents_not_under_the_owner_key() -> None:
    """SWAP_OUT decrypts with the owner's VEK. A page the guest never wrote since it was assigned
    holds host plaintext: in place the round trip restores the very same bytes (still the
    host's plaintext, key 0); at another SPA it is garbage under every key. (spec/snp.tee keeps
    the sealed Cell there: see tests/conformance/test_snp.py.) observe() shows the slot as the
    Cell the page held when sealed."""
    m = mk()
    firmware(m, 7)
    assert m.page_md_init(7) == "ok"
    assert m.hv_write(0, 1) == "ok"
    private(m, 1, 0, 0, validate=False)
    assert m.cell(0) == (0, 1)
    assert m.page_swap_out(0, 7) == "ok"
    rec = m.metadata[7]
    assert rec is not None and int.from_bytes(m.unseal(rec)[:8], "little") != 1  # garbage sealed
    assert (obs(m)["slots"][7]["key"], obs(m)["slots"][7]["val"]) == (0, 1)
    assert m.page_swap_in(0, 7) == "ok"
    assert m.cell(0) == (0, 1)  # same SPA, same key: the same ciphertext comes back
    assert m.page_swap_out(0, 7) == "ok"
    pre_guest(m, 1, 1, 0)
    assert m.page_swap_in(1, 7) == "ok"
    assert m.cell(1) is None  # moved: garbage under every key


def test_reclaim_clears_bookkeeping_of_the_whole_entry() -> None:
    m = mk()
    assert m.rmpupdate(2, 0, 0, True, True, True) == "ok"  # a 2M firmware entry
    assert m.gctx_create(3) == "INVALID_PAGE_SIZE"
    assert m.page_reclaim(3) == "ok"
    assert [m.page_state(p) for p in (2, 3)] == ["HYPERVISOR"] * 2
    pre_guest(m, 1, 4, 0, size2m=True)
    assert m.page_reclaim(5) == "ok"
    assert [m.page_state(p) for p in (4, 5)] == ["GUEST_INVALID"] * 2
    assert m.rmp[5].perms == (PERM_ALL, PERM_NONE, PERM_NONE, PERM_NONE)


# ---------------------------------------------------------------------------- state machine
PAGES, GUESTS, GPAS = 4, 2, 4
pg = st.integers(0, PAGES - 1)
gu = st.integers(1, GUESTS)
ga = st.integers(0, GPAS - 1)
vm = st.sampled_from([0, 0, 0, 1, 2, 3])
rare = st.sampled_from([False, False, False, True])
val = st.integers(0, 2**64 - 1)


def subset(a: Perm, b: Perm) -> bool:
    return not (a & ~b)


class SnpStateMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.m = SnpMachine(pages=PAGES, guests=GUESTS, gpas=GPAS, pages_per_2m=2, seed=1)
        # (guest, gpa) -> (value, page) of the last successful private write
        self.expected: dict[tuple[int, int], tuple[int, int]] = {}
        self.fresh_reads = 0
        self.raw_validated = False  # a raw PVALIDATE(1) bypassed the guest OS's record
        self.swapped: dict[int, bytes] = {}  # metadata page -> plaintext at swap-out

    def _forget(self, old: list[RmpEntry]) -> None:
        """Drop expectations whose page's ownership/validation changed."""
        def key(e: RmpEntry) -> tuple[object, ...]:
            return (e.assigned, e.asid, e.gpa, e.validated, e.immutable, e.size)
        changed = {p for p in range(PAGES) if key(old[p]) != key(self.m.rmp[p])}
        self.expected = {k: v for k, v in self.expected.items() if v[1] not in changed}

    def _forget_guest(self, guest: int) -> None:
        self.expected = {k: v for k, v in self.expected.items() if k[0] != guest}

    @rule(page=pg, asid=st.integers(0, GUESTS), gpa=ga, assigned=st.booleans(),
          size2m=rare, immutable=rare)
    def rmpupdate(self, page: int, asid: int, gpa: int, assigned: bool, size2m: bool,
                  immutable: bool) -> None:
        old = list(self.m.rmp)
        r = self.m.rmpupdate(page, asid, gpa, assigned, size2m, immutable)
        if r == "ok":
            assert not self.m.rmp[page].validated and not self.m.rmp[page].vmsa  # domain 6.2
        else:
            assert self.m.rmp == old
        self._forget(old)

    @rule(page=pg)
    def psmash(self, page: int) -> None:
        old = list(self.m.rmp)
        r = self.m.psmash(page)
        if r == "ok":
            assert [e.validated for e in old] == [e.validated for e in self.m.rmp]  # 6.8
        self._forget(old)

    @rule(guest=gu, vmpl=vm, gpa=ga, size2m=st.booleans(), validate=st.booleans())
    def pvalidate(self, guest: int, vmpl: int, gpa: int, size2m: bool, validate: bool) -> None:
        old = list(self.m.rmp)
        r = self.m.pvalidate(guest, vmpl, gpa, size2m, validate)
        if r == "ok" and validate:  # domain 6.7: only VMPL0 of the owner with matching gpa
            assert vmpl == 0
            tr = self.m.npt[guest][gpa]
            assert tr is not None and self.m.rmp[tr[0]].asid == guest
            assert self.m.rmp[tr[0]].gpa == gpa
            self.raw_validated = True
        self._forget(old)

    @rule(guest=gu, vmpl=vm, gpa=ga, tvmpl=st.integers(0, 3), perms=st.integers(0, 15),
          vmsa=st.booleans(), size2m=st.booleans(), names=st.booleans())
    def rmpadjust(self, guest: int, vmpl: int, gpa: int, tvmpl: int, perms: int, vmsa: bool,
                  size2m: bool, names: bool) -> None:
        old = list(self.m.rmp)
        arg = perm_names(Perm(perms)) if names else perms  # the spec's form or the bits
        r = self.m.rmpadjust(guest, vmpl, gpa, tvmpl, arg, vmsa, size2m)
        if r == "ok":
            assert tvmpl > vmpl
            tr = self.m.npt[guest][gpa]
            assert tr is not None and subset(Perm(perms), old[tr[0]].perms[vmpl])  # 6.6
        self._forget(old)

    @rule(guest=gu, vmpl=vm, gpa=ga, value=val, priv=st.booleans())
    def guest_write(self, guest: int, vmpl: int, gpa: int, value: int, priv: bool) -> None:
        r = self.m.guest_write(guest, vmpl, gpa, value, priv)
        if r == "ok" and priv:
            tr = self.m.npt[guest][gpa]
            assert tr is not None
            self.expected = {k: v for k, v in self.expected.items() if v[1] != tr[0]}
            self.expected[(guest, gpa)] = (value, tr[0])

    @rule(guest=gu, vmpl=vm, gpa=ga, priv=st.booleans())
    def guest_read(self, guest: int, vmpl: int, gpa: int, priv: bool) -> None:
        r, v = self.m.guest_read(guest, vmpl, gpa, priv)
        if r != "ok":
            assert v is None
            return
        tr = self.m.npt[guest][gpa]
        assert tr is not None
        exp = self.expected.get((guest, gpa))
        if priv and exp is not None and exp[1] == tr[0]:
            assert v == exp[0]  # domain 6.23: a read returns the last write

    @rule(guest=gu, vmpl=vm, gpa=ga, user=st.booleans())
    def guest_fetch(self, guest: int, vmpl: int, gpa: int, user: bool) -> None:
        r, v = self.m.guest_fetch(guest, vmpl, gpa, user)
        assert (r == "ok") == (v is not None)

    @rule(page=pg, value=val, via_2m=st.booleans(), raw=st.booleans())
    def hv_write(self, page: int, value: int, via_2m: bool, raw: bool) -> None:
        before = self.m.observe()["mem"]
        assigned = [p for p in range(PAGES) if self.m.rmp[p].assigned]
        if raw:
            r = self.m.hv_write_raw(page, value.to_bytes(8, "little"), via_2m)
        else:
            r = self.m.hv_write(page, value, via_2m)
        after = self.m.observe()["mem"]
        for p in assigned:  # domain 6.4: HV writes never change an assigned page
            assert before[p] == after[p]  # type: ignore[index]
        if self.m.rmp[page].assigned:
            assert r == "RMP_PF"

    @rule(page=pg)
    def hv_read(self, page: int) -> None:
        r, ct = self.m.hv_read(page)
        assert r == "ok" and len(ct) == self.m.page_bytes

    @rule(guest=gu, gpa=ga, page=pg, size2m=st.booleans())
    def npt_map(self, guest: int, gpa: int, page: int, size2m: bool) -> None:
        self.m.npt_map(guest, gpa, page, size2m)
        self._forget_guest(guest)

    @rule(guest=gu, gpa=ga)
    def npt_unmap(self, guest: int, gpa: int) -> None:
        self.m.npt_unmap(guest, gpa)
        self._forget_guest(guest)

    @rule(guest=gu, page=pg, gpa=ga, value=val,
          ptype=st.sampled_from(["NORMAL", "VMSA", "ZERO", "UNMEASURED"]))
    def launch_update(self, guest: int, page: int, gpa: int, value: int, ptype: str) -> None:
        old, d = list(self.m.rmp), self.m.launch_digest[guest]
        r = self.m.launch_update(guest, page, gpa, value, ptype)
        assert (r == "ok") == (self.m.launch_digest[guest] != d)
        self._forget(old)

    @rule(page=pg, which=st.sampled_from(["reclaim", "md", "ctx"]))
    def firmware_page(self, page: int, which: str) -> None:
        old = list(self.m.rmp)
        if which == "reclaim":
            r = self.m.page_reclaim(page)
            if r == "ok":
                assert not self.m.rmp[page].immutable
        elif which == "md":
            self.m.page_md_init(page)
        else:
            self.m.gctx_create(page)
        self._forget(old)

    @rule(page=pg, md=pg, out=st.booleans())
    def swap(self, page: int, md: int, out: bool) -> None:
        old = list(self.m.rmp)
        if out:
            e = self.m.rmp[page]
            plain = self.m.mem.read(e.asid, page, 0, self.m.page_bytes) if e.asid else b""
            r = self.m.page_swap_out(page, md)
            if r == "ok":
                assert self.m.page_state(page) == "PRE_SWAP"
                self.swapped[md] = plain
        else:
            self._swap_in(page, md)
        self._forget(old)

    def _swap_in(self, page: int, md: int) -> str:
        rec = self.m.metadata.get(md)
        r = self.m.page_swap_in(page, md)
        if r == "ok":  # contents survive the trip under the transport key
            assert rec is not None
            assert self.m.mem.read(rec.asid, page, 0, self.m.page_bytes) == self.swapped.pop(md)
            assert self.m.rmp[page].validated == rec.validated
        return r

    # Cooperative hypervisor flows (KVM-style sequences) so that deep states are reached.
    @rule(guest=gu, gpa=ga, page=pg, size2m=rare, validate=st.booleans(), value=val)
    def hv_make_private(self, guest: int, gpa: int, page: int, size2m: bool,
                        validate: bool, value: int) -> None:
        if size2m:
            gpa, page = gpa - gpa % 2, page - page % 2
        old = list(self.m.rmp)
        self.m.rmpupdate(page, guest, gpa, True, size2m, False)
        self.m.npt_map(guest, gpa, page, size2m)
        if validate and self.m.pvalidate(guest, 0, gpa, size2m, True) == "ok":
            self.raw_validated = True
        self._forget(old)
        self._forget_guest(guest)
        if validate and self.m.guest_write(guest, 0, gpa, value, True) == "ok":
            self.expected[(guest, gpa)] = (value, page)

    @rule(guest=gu)
    def launch_finish(self, guest: int) -> None:
        launching = not self.m.running(guest)
        assert (self.m.launch_finish(guest) == "ok") == launching
        assert self.m.running(guest)

    @rule(guest=gu, gpa=ga, page=pg, value=val)
    def hv_launch(self, guest: int, gpa: int, page: int, value: int) -> None:
        old = list(self.m.rmp)
        if self.m.running(guest):
            if self.m.rmpupdate(page, guest, gpa, True, False, True) == "ok":
                assert self.m.launch_update(guest, page, gpa, value) == "INVALID_GUEST_STATE"
                assert self.m.page_reclaim(page) == "ok"
            self._forget(old)
            return
        if self.m.rmpupdate(page, guest, gpa, True, False, True) == "ok":
            assert self.m.launch_update(guest, page, gpa, value) == "ok"
            self.m.npt_map(guest, gpa, page)
            self._forget(old)
            self._forget_guest(guest)
            self.expected[(guest, gpa)] = (value, page)  # the measured contents
        self._forget(old)

    @rule(guest=gu, gpa=ga, perms=st.integers(0, 15), chain=st.booleans())
    def svsm_grant(self, guest: int, gpa: int, perms: int, chain: bool) -> None:
        """SVSM at VMPL0 grants to VMPL1, which may pass a subset on to VMPL2."""
        for g in range(GPAS):  # pick a gpa that is currently private and validated
            a = (gpa + g) % GPAS
            if self.m.rmp_check(guest, 0, a, Perm.Read, True)[0] == "ok":
                assert self.rmpadjust_ok(guest, 0, a, 1, perms)
                if chain:
                    assert self.rmpadjust_ok(guest, 1, a, 2, perms & R)
                return

    def rmpadjust_ok(self, guest: int, vmpl: int, gpa: int, target: int, perms: int) -> bool:
        tr = self.m.npt[guest][gpa]
        size2m = tr is not None and tr[1] is PageSize.S2M
        r = self.m.rmpadjust(guest, vmpl, gpa - gpa % 2 if size2m else gpa, target, perms,
                             False, size2m)
        return r == "ok"

    @rule(page=pg)
    def hv_make_metadata(self, page: int) -> None:
        old = list(self.m.rmp)
        if self.m.rmpupdate(page, 0, 0, True, False, True) == "ok":
            assert self.m.page_md_init(page) == "ok"
        self._forget(old)

    @rule(page=pg, md=pg, back=st.integers(0, 3))
    def hv_swap_out(self, page: int, md: int, back: int) -> None:
        self.hv_make_metadata(md)
        self.swap(page, md, True)
        if back:  # and later (here: at once) back in, in place or elsewhere
            self.hv_swap_in_fresh(back, md)

    @rule(page=pg, md=pg)
    def hv_swap_in_fresh(self, page: int, md: int) -> None:
        full = sorted(p for p, r in self.m.metadata.items() if r is not None)
        if not full:
            return
        md = full[md % len(full)]
        rec = self.m.metadata[md]
        assert rec is not None
        old = list(self.m.rmp)
        locked = [p for p in range(PAGES) if self.m.page_state(p) == "PRE_SWAP"
                  and (self.m.rmp[p].asid, self.m.rmp[p].gpa) == (rec.asid, rec.gpa)]
        if locked and page % 2:  # in place, at a page SWAP_OUT locked
            page = locked[0]
            assert self._swap_in(page, md) == "ok"
            self.m.npt_map(rec.asid, rec.gpa, page)
            self._forget_guest(rec.asid)
        elif self.m.rmpupdate(page, rec.asid, rec.gpa, True, False, True) == "ok":
            assert self._swap_in(page, md) == "ok"
            self.m.npt_map(rec.asid, rec.gpa, page)
            self._forget_guest(rec.asid)
        self._forget(old)

    @rule(guest=gu, gpa=ga, validate=st.booleans(), size2m=rare)
    def guest_os(self, guest: int, gpa: int, validate: bool, size2m: bool) -> None:
        old = list(self.m.rmp)
        if validate:
            before = set(self.m.guest_os_validated[guest])
            r = self.m.guest_os_pvalidate(guest, gpa, size2m)
            span = set(self.m.region(gpa)) if size2m else {gpa}
            if span & before and self.m.running(guest):
                assert r == "GUEST_REFUSED_DOUBLE_VALIDATE"
            assert self.m.guest_os_validated[guest] == (before | span if r == "ok" else before)
        else:
            self.m.guest_os_unvalidate(guest, gpa)
        self._forget(old)

    # ---------------------------------------------------------------- invariants
    @invariant()
    def ownership_well_formed(self) -> None:  # domain 6.3
        for e in self.m.rmp:
            if e.validated:
                assert e.assigned and e.asid != 0
            if e.assigned and e.asid == 0:
                assert e.immutable
            if not e.assigned:
                assert not e.immutable and e.perms == (PERM_NONE,) * 4

    @invariant()
    def vmpl_perms(self) -> None:  # domain 6.6 / 1.5
        for e in self.m.rmp:
            if e.assigned and e.asid != 0:
                assert e.perms[0] == PERM_ALL
                for t in (1, 2, 3):
                    assert any(subset(e.perms[t], e.perms[u]) for u in range(t))

    @invariant()
    def two_m_entries_uniform(self) -> None:  # a 2M entry is one entry
        for base in range(0, PAGES, 2):
            h = self.m.rmp[base]
            if h.size is PageSize.S2M:
                for i in range(2):
                    e = self.m.rmp[base + i]
                    assert e == RmpEntry(h.assigned, h.asid, h.gpa + i, h.size, h.validated,
                                         h.immutable, h.vmsa, h.perms)
            else:
                assert self.m.rmp[base + 1].size is PageSize.S4K

    @invariant()
    def single_mapping(self) -> None:  # domain 6.1
        for g in range(1, GUESTS + 1):
            for a in range(GPAS):
                r, p = self.m.rmp_check(g, 0, a, Perm.Read, True)
                if r == "ok":
                    assert p is not None
                    e = self.m.rmp[p]
                    assert e.validated and (e.asid, e.gpa) == (g, a)

    @invariant()
    def reads_return_last_write(self) -> None:  # domain 6.23 (reads have no side effects)
        for (g, a), (value, page) in self.expected.items():
            r, v = self.m.guest_read(g, 0, a, True)
            tr = self.m.npt[g][a]
            if r == "ok" and tr is not None and tr[0] == page:
                self.fresh_reads += 1
                assert v == value

    @invariant()
    def memory_holds_the_writes(self) -> None:  # the ciphertext is the last write's, under its key
        for (g, _a), (value, page) in self.expected.items():
            assert self.m.cell(page) == (g, value)

    @invariant()
    def record_covers_validated(self) -> None:  # the OS's record vs the RMP (domain 6.2)
        for e in self.m.rmp:
            if e.validated and self.m.running(e.asid):
                assert e.gpa in self.m.guest_os_validated[e.asid] or self.raw_validated

    @invariant()
    def page_states_known(self) -> None:
        names = {s.value for s in PageState}
        for p in range(PAGES):
            assert self.m.page_state(p) in names


SnpStateMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None
)
TestSnpStateMachine = SnpStateMachine.TestCase
