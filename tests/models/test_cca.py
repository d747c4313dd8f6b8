"""Tests for models.cca / models.cca_gpt: error paths in check order, GPT transitions, a
hypothesis state machine with the CCA invariants (domain.md 6.16-6.21), and attack demos that
show each fault-injection flag (skip_scrub / skip_tlbi / skip_clean / smmu_gpc=False) matters."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from models.cca import CcaMachine, GranuleState, Ripas, RmmPanic
from models.cca_gpt import EMITTABLE, Gpi, GranuleProtection, Pas, World, gpc_allows, pas_of_gpi

OK = "ok"
INPUT = "RMI_ERROR_INPUT"
REALM = "RMI_ERROR_REALM"
RTT = "RMI_ERROR_RTT"
SECRET = 0x5EC0_0000_0000_0000


# ----------------------------------------------------------------------------- fixtures
def obs(m: CcaMachine) -> Any:
    """observe() typed loosely for indexing in tests."""
    return m.observe()


def realm_with_table(m: CcaMachine, realm: int = 0, rd: int = 0, rtt: int = 1) -> None:
    for g in (rd, rtt):
        assert m.rmi_granule_delegate(g) == OK
    assert m.rmi_realm_create(rd, realm) == OK
    assert m.rmi_rtt_create(realm, rtt, 0) == OK


def realm_with_data(m: CcaMachine, *, data: int = 2, src: int = 3, rec: int | None = 4) -> None:
    """Realm 0 (RD 0, RTT 1) with DATA `data` at IPA 0 copied from `src`, a REC, ACTIVE."""
    realm_with_table(m)
    assert m.rmi_granule_delegate(data) == OK
    assert m.rmi_data_create(0, 0, data, src) == OK
    if rec is not None:
        assert m.rmi_granule_delegate(rec) == OK
        assert m.rmi_rec_create(0, rec) == OK
    assert m.rmi_realm_activate(0) == OK


# ----------------------------------------------------------------------------- GPT / GPC
def test_gpc_rule_over_all_gpis_worlds_and_pas() -> None:
    boot = {
        0: Gpi.GPI_NO_ACCESS,
        1: Gpi.GPI_SECURE,
        2: Gpi.GPI_NS,
        3: Gpi.GPI_ROOT,
        4: Gpi.GPI_REALM,
        5: Gpi.GPI_ANY,
    }
    m = CcaMachine(granules=6, boot_gpi=boot)
    for g, gpi in boot.items():
        for w in World:
            for pas in Pas:
                want = pas in EMITTABLE[w] and (gpi is Gpi.GPI_ANY or pas_of_gpi(gpi) is pas)
                assert (m.gpc(w, pas, g) == OK) == want, (g, w, pas)
                assert (m.gpc(w.value, pas.name, g) == OK) == want
    assert m.view(0) is None  # NO_ACCESS: no PAS sees it
    assert m.view(5) == 0  # ANY is seen through NS
    assert not gpc_allows(Gpi.GPI_NO_ACCESS, Pas.ROOT)
    assert m.secure_read(1) == (OK, 0) and m.secure_read(1, ns=True) == ("GPF", None)
    assert m.secure_write(2, 3, ns=True) == OK and m.ns_read(2) == (OK, 3)
    assert m.secure_write(2, 3) == "GPF"
    assert m.smmu_read(1, secure=True) == (OK, 0) and m.smmu_write(1, 4, secure=True) == OK
    assert m.smmu_read(1) == ("GPF", None) and m.smmu_write(4, 1) == "GPF"


def test_out_of_range_access_and_bad_keys_raise() -> None:
    m = CcaMachine(granules=2)
    with pytest.raises(ValueError):
        m.ns_read(2)
    with pytest.raises(ValueError):
        m.cache_evict(-1)
    with pytest.raises(ValueError):
        CcaMachine(keys="per-realm")
    with pytest.raises(ValueError):
        CcaMachine(granules=2, boot_gpi={7: Gpi.GPI_ROOT})


def test_gpt_delegate_error_order_and_transitions() -> None:
    m = CcaMachine(granules=4)
    assert m.gpt_delegate_pas(0, Pas.NS, World.NS) == "EINVAL"  # target must be REALM/SECURE
    assert m.gpt_delegate_pas(0, "SECURE", "REALM") == "EINVAL"  # only by that world
    assert m.gpt_delegate_pas(9, Pas.SECURE, World.SECURE) == "EINVAL"  # range
    assert m.gpt_delegate_pas(0, Pas.SECURE, World.SECURE) == OK
    assert m.gpt_delegate_pas(0, Pas.SECURE, World.SECURE) == "EPERM"  # not NS any more
    assert m.gpt_delegate_pas(0, Pas.REALM, World.REALM) == "EPERM"  # never SECURE -> REALM
    assert m.rmi_granule_delegate(0) == INPUT  # EL3 refuses: Secure owns it
    assert m.gpt_undelegate_pas(0, World.NS) == "EINVAL"
    assert m.gpt_undelegate_pas(9, World.SECURE) == "EINVAL"
    assert m.gpt_undelegate_pas(0, World.REALM) == "EPERM"  # caller must own it
    assert m.gpt_undelegate_pas(0, "SECURE") == OK
    # back to NS through NO_ACCESS [V TFA gpt_rme.c]
    assert m.gpt.gpi_log == [
        (0, Gpi.GPI_NS, Gpi.GPI_SECURE),
        (0, Gpi.GPI_SECURE, Gpi.GPI_NO_ACCESS),
        (0, Gpi.GPI_NO_ACCESS, Gpi.GPI_NS),
    ]


def test_gpt_transition_invalidates_tlb_and_cleans_cache() -> None:
    gp = GranuleProtection(2, keys="per-pas")
    assert gp.store("NS", Pas.NS, 0, b"\x07") == OK
    assert gp.load("SMMU", Pas.NS, 0) == (OK, b"\x07" + bytes(63))
    assert ("NS", 0) in gp.tlb and (0, Pas.NS) in gp.cache
    assert gp.gpt_delegate_pas(0, Pas.REALM, World.REALM) == OK
    assert not any(k[1] == 0 for k in gp.tlb) and not gp.cache
    assert gp.mem.read(gp.ctx(Pas.NS), 0, 0, 1) == b"\x07"  # cleaned under the NS key
    assert gp.view(0) != 7  # seen through the Realm key: not the NS plaintext


# ----------------------------------------------------------------------------- RMI error paths
def test_granule_delegate_undelegate_errors() -> None:
    m = CcaMachine(granules=3, boot_gpi={2: Gpi.GPI_ROOT})
    assert m.rmi_granule_delegate(-1) == INPUT
    assert m.rmi_granule_delegate(3) == INPUT
    assert m.rmi_granule_delegate(2) == INPUT  # EL3: GPI not NS
    assert m.rmi_granule_undelegate(0) == INPUT  # not DELEGATED
    assert m.ns_write(0, 42) == OK
    assert m.rmi_granule_delegate(0) == OK
    assert m.rmi_granule_delegate(0) == INPUT
    assert obs(m)["gpi"][0] == "GPI_REALM"
    assert m.rmi_granule_undelegate(0) == OK
    assert m.ns_read(0)[1] != 42  # per-PAS keys: the NS view of Realm-key zeros
    m2 = CcaMachine(granules=1, keys="none")
    m2.ns_write(0, 42)
    assert m2.rmi_granule_delegate(0) == OK and m2.view(0) == 0  # zeroed (RMM10)
    assert m2.rmi_granule_undelegate(0) == OK and m2.ns_read(0) == (OK, 0)


def test_undelegate_panics_if_el3_refuses() -> None:
    m = CcaMachine(granules=1)
    assert m.rmi_granule_delegate(0) == OK
    m.gpt.gpi[0] = Gpi.GPI_SECURE  # corrupt EL3 state behind the RMM's back
    with pytest.raises(RmmPanic):
        m.rmi_granule_undelegate(0)


def test_realm_lifecycle_errors() -> None:
    m = CcaMachine(granules=4, realms=2)
    assert m.rmi_realm_create(0, 2) == INPUT  # slot out of range
    assert m.rmi_realm_create(0, 0) == INPUT  # RD not DELEGATED
    m.rmi_granule_delegate(0)
    assert m.rmi_realm_create(0, 0) == OK
    assert m.rmi_realm_create(0, 0) == INPUT  # slot in use
    assert m.rmi_realm_create(0, 1) == INPUT  # RD already RD
    assert m.rmi_realm_activate(1) == INPUT and m.rmi_realm_destroy(5) == INPUT
    assert m.psci_system_off(0) == REALM  # NEW realm cannot run
    assert m.rmi_realm_activate(0) == OK
    assert m.rmi_realm_activate(0) == REALM
    assert m.psci_system_off(0) == OK
    assert m.psci_system_off(0) == REALM
    assert obs(m)["realms"][0]["state"] == "REALM_SYSTEM_OFF"
    assert m.rmi_realm_destroy(0) == OK
    assert obs(m)["granules"][0] == {"state": "DELEGATED", "refcount": 0}
    assert obs(m)["realms"][0] == {"state": None, "rd": None, "rtt": {0: None}}


def test_realm_destroy_needs_no_recs_and_no_tables() -> None:
    m = CcaMachine(granules=4)
    realm_with_table(m)
    m.rmi_granule_delegate(2)
    assert m.rmi_rec_create(0, 2) == OK
    assert m.rmi_realm_destroy(0) == REALM  # RD refcount (REC)
    assert m.rmi_rec_destroy(0, 0) == OK
    assert m.rmi_realm_destroy(0) == REALM  # starting-level table
    assert m.rmi_rtt_destroy(0, 0) == OK
    assert m.rmi_realm_destroy(0) == OK


def test_rec_errors() -> None:
    m = CcaMachine(granules=6, recs_per_realm=1, rec_aux_count=1)
    for g in range(5):
        m.rmi_granule_delegate(g)
    assert m.rmi_rec_create(0, 1, (2,)) == INPUT  # no realm
    m.rmi_realm_create(0, 0)
    assert m.rmi_rec_create(0, 5, (2,)) == INPUT  # REC granule not DELEGATED
    assert m.rmi_rec_create(0, 1) == INPUT  # aux count
    assert m.rmi_rec_create(0, 1, (1,)) == INPUT  # aux aliases the REC
    assert m.rmi_rec_create(0, 1, (5,)) == INPUT  # aux not DELEGATED
    rim = m.rim(0)
    assert m.rmi_rec_create(0, 1, (2,)) == OK
    assert m.rim(0) != rim  # REC measured
    assert obs(m)["granules"][2]["state"] == "REC_AUX"
    assert obs(m)["granules"][0]["refcount"] == 1
    assert m.rmi_rec_create(0, 3, (4,)) == INPUT  # no free REC slot
    assert m.rmi_rec_enter(0, 0) == REALM  # NEW
    assert m.rmi_rec_enter(0, 1) == INPUT and m.rmi_rec_enter(1, 0) == INPUT
    m.rmi_realm_activate(0)
    assert m.rmi_rec_create(0, 3, (4,)) == REALM  # only while NEW
    assert m.rmi_rec_enter(0, 0) == OK
    m.psci_system_off(0)
    assert m.rmi_rec_enter(0, 0) == REALM  # SYSTEM_OFF
    assert m.rmi_rec_destroy(0, 1) == INPUT
    assert m.rmi_rec_destroy(0, 0) == OK
    assert obs(m)["granules"][2]["state"] == "DELEGATED"


def test_rtt_errors() -> None:
    m = CcaMachine(granules=5, ipas=4, ipas_per_rtt=2)
    for g in range(4):
        m.rmi_granule_delegate(g)
    assert m.rmi_rtt_create(0, 1, 0) == INPUT  # no realm
    m.rmi_realm_create(0, 0)
    assert m.rmi_rtt_create(0, 4, 0) == INPUT  # not DELEGATED
    assert m.rmi_rtt_create(0, 1, 4) == INPUT  # outside PAR
    assert m.rmi_rtt_create(0, 1, 1) == OK
    assert m.rmi_rtt_create(0, 2, 0) == RTT  # table exists
    assert obs(m)["realms"][0]["rtt"] == {0: 1, 1: None}
    assert m.rmi_rtt_destroy(1, 0) == INPUT
    assert m.rmi_rtt_destroy(0, 4) == INPUT
    assert m.rmi_rtt_destroy(0, 2) == RTT  # no table there
    assert m.rmi_data_create_unknown(0, 1, 2) == OK
    assert m.rmi_rtt_destroy(0, 0) == RTT  # live entry
    assert obs(m)["granules"][1]["refcount"] == 1
    assert m.rmi_data_destroy(0, 1) == OK
    assert m.rmi_rtt_destroy(0, 0) == OK
    rt = obs(m)["rtte"][0]
    assert [rt[i]["ripas"] for i in range(4)] == ["DESTROYED", "DESTROYED", "EMPTY", "EMPTY"]


def test_data_create_errors_in_order() -> None:
    m = CcaMachine(granules=6, ipas=2, ipas_per_rtt=1)
    for g in (0, 1, 2):
        m.rmi_granule_delegate(g)
    assert m.rmi_data_create(0, 0, 2, 0) == INPUT  # src not NS
    assert m.rmi_data_create(0, 0, 3, 4) == INPUT  # data not DELEGATED
    assert m.rmi_data_create(0, 0, 2, 4) == INPUT  # no RD
    m.rmi_realm_create(0, 0)
    assert m.rmi_data_create(0, 5, 2, 4) == INPUT  # outside PAR
    assert m.rmi_data_create(0, 0, 2, 4) == RTT  # walk stops at the start level
    m.rmi_rtt_create(0, 1, 0)
    assert m.rmi_data_create(0, 1, 2, 4) == RTT  # IPA 1 is in the other (missing) table
    m.ns_write(4, 1234)
    assert m.rmi_data_create(0, 0, 2, 4) == OK
    o = obs(m)
    assert o["rtte"][0][0] == {"hipas": "ASSIGNED", "ripas": "RAM", "pa": 2}
    assert o["granules"][1]["refcount"] == 1 and m.view(2) == 1234
    m.rmi_granule_delegate(3)
    assert m.rmi_data_create(0, 0, 3, 4) == RTT  # RTTE assigned
    m.rmi_realm_activate(0)
    assert m.rmi_data_create(0, 0, 3, 4) == REALM  # only while NEW


def test_data_create_measures_ipa_and_content() -> None:
    def rim(ipa: int, value: int) -> str:
        m = CcaMachine(granules=6, ipas=2)
        realm_with_table(m)
        m.rmi_granule_delegate(2)
        m.ns_write(3, value)
        assert m.rmi_data_create(0, ipa, 2, 3) == OK
        r = m.rim(0)
        assert isinstance(r, str)
        return r

    base = hashlib.sha256(b"REALM" + (2).to_bytes(8, "little")).digest()
    content = (7).to_bytes(8, "little") + bytes(56)
    want = hashlib.sha256(
        base + b"DATA" + (0).to_bytes(8, "little") + hashlib.sha256(content).digest()
    ).hexdigest()
    assert rim(0, 7) == want
    assert len({rim(0, 7), rim(1, 7), rim(0, 8)}) == 3


def test_data_create_src_gpf_zeroes_and_fails() -> None:
    m = CcaMachine(granules=6, keys="none")
    realm_with_table(m)
    m.rmi_granule_delegate(2)
    assert m.gpt_delegate_pas(3, Pas.SECURE, World.SECURE) == OK  # src stays UNDELEGATED
    assert m.rmi_data_create(0, 0, 2, 3) == INPUT
    assert obs(m)["granules"][2]["state"] == "DELEGATED" and m.view(2) == 0


def test_data_create_unknown_and_destroy() -> None:
    m = CcaMachine(granules=6, ipas=2)
    realm_with_table(m)
    for g in (2, 3):
        m.rmi_granule_delegate(g)
    assert m.rmi_data_create_unknown(1, 0, 2) == INPUT
    assert m.rmi_data_create_unknown(0, 0, 2) == OK
    assert obs(m)["rtte"][0][0]["ripas"] == "EMPTY"  # RIPAS unchanged
    assert m.rmi_data_destroy(1, 0) == INPUT
    assert m.rmi_data_destroy(0, 2) == INPUT
    assert m.rmi_data_destroy(0, 1) == RTT  # unassigned
    assert m.rmi_data_destroy(0, 0) == OK
    assert obs(m)["rtte"][0][0] == {"hipas": "UNASSIGNED", "ripas": "EMPTY", "pa": None}
    m.rmi_rtt_init_ripas(0, 0)
    assert m.rmi_data_create_unknown(0, 0, 2) == OK
    assert m.rmi_data_destroy(0, 0) == OK
    assert obs(m)["rtte"][0][0]["ripas"] == "DESTROYED"  # RAM -> DESTROYED
    assert m.rmi_data_create_unknown(0, 0, 3) == OK
    assert obs(m)["rtte"][0][0]["ripas"] == "DESTROYED"  # assigned DESTROYED
    assert m.rmi_data_destroy(0, 0) == OK
    assert obs(m)["rtte"][0][0]["ripas"] == "DESTROYED"
    m2 = CcaMachine(granules=6, ipas=2)
    realm_with_table(m2)
    assert m2.rmi_data_destroy(0, 0) == RTT
    m2.rmi_rtt_destroy(0, 0)
    assert m2.rmi_data_destroy(0, 0) == RTT  # walk stops at the start level


def test_init_ripas_errors() -> None:
    m = CcaMachine(granules=6, ipas=2, ipas_per_rtt=1)
    assert m.rmi_rtt_init_ripas(0, 0) == INPUT
    realm_with_table(m)
    assert m.rmi_rtt_init_ripas(0, 2) == INPUT
    assert m.rmi_rtt_init_ripas(0, 1) == RTT  # no table for IPA 1
    rim = m.rim(0)
    assert m.rmi_rtt_init_ripas(0, 0) == OK
    assert m.rim(0) != rim
    assert m.rmi_rtt_init_ripas(0, 0) == OK  # already RAM: accepted, measured again
    m.rmi_granule_delegate(2)
    m.rmi_data_create_unknown(0, 0, 2)
    assert m.rmi_rtt_init_ripas(0, 0) == RTT  # assigned
    m.rmi_data_destroy(0, 0)
    assert m.rmi_rtt_init_ripas(0, 0) == RTT  # DESTROYED
    m.rmi_realm_activate(0)
    assert m.rmi_rtt_init_ripas(0, 0) == REALM


def test_ripas_change_needs_request_and_consent() -> None:
    m = CcaMachine(granules=6, ipas=2)
    realm_with_data(m)
    assert m.rsi_ipa_state_set(0, 1, 0, "EMPTY", False) == "RSI_ERROR_STATE"  # no REC 1
    assert m.rsi_ipa_state_set(1, 0, 0, "EMPTY", False) == "RSI_ERROR_STATE"
    assert m.rsi_ipa_state_set(0, 0, 0, "DESTROYED", False) == "RSI_ERROR_INPUT"
    assert m.rsi_ipa_state_set(0, 0, 2, Ripas.RAM, False) == "RSI_ERROR_INPUT"
    assert m.rmi_rtt_set_ripas(0, 0, 1) == INPUT  # no request
    assert m.rsi_ipa_state_set(0, 0, 1, Ripas.RAM, False) == OK
    assert m.rsi_ipa_state_set(0, 0, 1, Ripas.RAM, False) == "RSI_ERROR_STATE"  # REC exited
    assert obs(m)["recs"][0][0]["pending"] == {
        "ipa": 1,
        "ripas": "RAM",
        "change_destroyed": False,
        "done": False,
    }
    assert m.rmi_rtt_set_ripas(1, 0, 1) == INPUT
    assert m.rmi_rtt_set_ripas(0, 0, 0) == INPUT  # not the requested IPA
    assert m.rmi_rtt_set_ripas(0, 0, 1) == OK
    assert obs(m)["rtte"][0][1]["ripas"] == "RAM"
    assert m.rmi_rtt_set_ripas(0, 0, 1) == INPUT  # already done
    assert m.rmi_rec_enter(0, 0) == OK and obs(m)["recs"][0][0]["pending"] is None
    # DESTROYED needs CHANGE_DESTROYED
    assert m.rmi_data_destroy(0, 0) == OK
    assert m.rsi_ipa_state_set(0, 0, 0, "RAM", False) == OK
    assert m.rmi_rtt_set_ripas(0, 0, 0) == RTT
    m.rmi_rec_enter(0, 0)  # host answers (reject)
    assert m.rsi_ipa_state_set(0, 0, 0, "EMPTY", True) == OK
    assert m.rmi_rtt_set_ripas(0, 0, 0) == OK
    assert obs(m)["rtte"][0][0]["ripas"] == "EMPTY"
    m.rmi_rec_enter(0, 0)
    m.rmi_rtt_destroy(0, 0)  # refcount 0 now
    assert m.rsi_ipa_state_set(0, 0, 0, "RAM", True) == OK
    assert m.rmi_rtt_set_ripas(0, 0, 0) == RTT  # walk stops at the start level


def test_realm_access_outcomes() -> None:
    m = CcaMachine(granules=6, ipas=2, keys="none")
    realm_with_table(m)
    assert m.realm_read(0, 0) == (REALM, None)  # NEW: cannot run
    m.rmi_rtt_init_ripas(0, 1)
    m.rmi_granule_delegate(2)
    m.ns_write(3, 5)
    m.rmi_data_create(0, 0, 2, 3)
    m.rmi_realm_activate(0)
    assert m.realm_read(0, 0) == (OK, 5)
    assert m.realm_write(0, 0, 6) == OK and m.realm_read(0, 0) == (OK, 6)
    assert m.realm_read(0, 2) == ("SEA", None)  # outside the IPA space
    assert m.realm_read(0, 1) == ("REC_EXIT", None)  # unassigned RAM
    m.rmi_data_destroy(0, 0)
    assert m.realm_write(0, 0, 1) == "REC_EXIT"  # DESTROYED
    assert m.ns_read(2) == ("GPF", None) and m.smmu_read(2) == ("GPF", None)
    assert m.realm_read(1, 0) == (REALM, None)
    m2 = CcaMachine(granules=6, ipas=2)
    realm_with_table(m2)
    m2.rmi_realm_activate(0)
    assert m2.realm_write(0, 0, 1) == "SEA"  # RIPAS EMPTY


# ----------------------------------------------------------------------------- attack demos
@pytest.mark.parametrize("flag", [False, True])
def test_skip_scrub_leaks_realm_data_to_ns(flag: bool) -> None:
    m = CcaMachine(granules=6, keys="none", skip_scrub=flag)
    realm_with_data(m)
    assert m.realm_write(0, 0, SECRET) == OK
    assert m.rmi_data_destroy(0, 0) == OK
    assert m.rmi_granule_undelegate(2) == OK
    assert (m.ns_read(2) == (OK, SECRET)) == flag
    assert (m.view(2) == SECRET) == flag


@pytest.mark.parametrize("flag", [False, True])
def test_skip_scrub_leaks_across_realms(flag: bool) -> None:
    m = CcaMachine(granules=9, skip_scrub=flag)  # per-PAS keys: both realms share the Realm key
    realm_with_data(m)
    m.realm_write(0, 0, SECRET)
    assert m.rmi_data_destroy(0, 0) == OK
    realm_with_table_1 = [m.rmi_granule_delegate(g) for g in (5, 6)]
    assert realm_with_table_1 == [OK, OK]
    assert m.rmi_realm_create(5, 1) == OK and m.rmi_rtt_create(1, 6, 0) == OK
    assert m.rmi_rtt_init_ripas(1, 0) == OK and m.rmi_realm_activate(1) == OK
    assert m.rmi_data_create_unknown(1, 0, 2) == OK
    assert (m.realm_read(1, 0) == (OK, SECRET)) == flag


@pytest.mark.parametrize("flag", [False, True])
def test_skip_tlbi_stale_gpt_entry_lets_ns_read_realm_data(flag: bool) -> None:
    m = CcaMachine(granules=6, keys="none", skip_tlbi=flag)
    assert m.ns_read(2) == (OK, 0)  # NS world caches GPI_NS for granule 2
    realm_with_data(m)
    m.realm_write(0, 0, SECRET)
    m.cache_evict(2)
    assert m.ns_read(2) == ((OK, SECRET) if flag else ("GPF", None))


@pytest.mark.parametrize("flag", [False, True])
def test_skip_tlbi_stale_entry_lets_device_corrupt_realm_data(flag: bool) -> None:
    m = CcaMachine(granules=6, skip_tlbi=flag)  # per-PAS keys: integrity, not plaintext
    assert m.smmu_read(2)[0] == OK
    realm_with_data(m)
    m.realm_write(0, 0, SECRET)
    m.cache_evict(2)
    assert m.smmu_write(2, 1) == ("ok" if flag else "GPF")
    m.cache_evict(2)
    assert (m.realm_read(0, 0) != (OK, SECRET)) == flag


def test_skip_tlbi_can_panic_the_rmm() -> None:
    m = CcaMachine(granules=6, skip_tlbi=True)
    realm_with_table(m)
    m.rmi_granule_delegate(2)
    assert m.rmi_data_create(0, 0, 2, 3) == OK  # the RMM caches GPI_NS for src 3
    with pytest.raises(RmmPanic):
        m.rmi_granule_delegate(3)  # its zeroing write hits the stale entry


@pytest.mark.parametrize("flag", [False, True])
def test_skip_clean_leaves_scrub_in_cache(flag: bool) -> None:
    m = CcaMachine(granules=6, keys="none", skip_clean=flag)
    realm_with_data(m)
    m.realm_write(0, 0, SECRET)
    m.cache_evict(2)  # the secret reaches DRAM
    m.rmi_data_destroy(0, 0)  # zeroes: a dirty Realm-PAS line
    m.rmi_granule_undelegate(2)
    assert (m.ns_read(2) == (OK, SECRET)) == flag
    # the stale Realm line is written back later, over the host's data
    assert m.ns_write(2, 9) == OK
    m.cache_evict(2)
    assert (m.ns_read(2) != (OK, 9)) == flag


@pytest.mark.parametrize("gpc", [True, False])
def test_smmu_without_gpc_reads_and_corrupts_realm_memory(gpc: bool) -> None:
    m = CcaMachine(granules=6, keys="none", smmu_gpc=gpc)
    realm_with_data(m)
    m.realm_write(0, 0, SECRET)
    m.cache_evict(2)
    assert m.smmu_read(2) == (("GPF", None) if gpc else (OK, SECRET))
    assert m.smmu_write(2, 3) == ("GPF" if gpc else OK)


# ----------------------------------------------------------------------------- state machine
G, R, IPAS = 10, 2, 2
ROOT_GRANULE = G - 1  # boot GPI_ROOT: never delegable
_ORDER = {"REALM_NEW": 0, "REALM_ACTIVE": 1, "REALM_SYSTEM_OFF": 2}

gran = st.integers(0, G - 1)
realm_id = st.integers(0, R - 1)
ipa_ = st.integers(0, IPAS - 1)


class CcaStateMachine(RuleBasedStateMachine):
    """All actions at small sizes. Arguments are drawn mostly (3/4) from the currently valid
    choices (so deep states are reached) and otherwise uniformly (so every error path is exercised)."""

    def __init__(self) -> None:
        super().__init__()
        self.m = CcaMachine(
            granules=G,
            realms=R,
            ipas=IPAS,
            recs_per_realm=1,
            ipas_per_rtt=1,
            keys="none",
            boot_gpi={ROOT_GRANULE: Gpi.GPI_ROOT},
        )
        self.secrets: dict[int, int] = {}  # value -> realm that wrote it
        self.n = 0
        self.prev: Any = obs(self.m)
        self.prev_rim = [self.m.rim(r) for r in range(R)]
        self.act: tuple[str, tuple[object, ...], str] = ("init", (), OK)

    # -- helpers
    def _pick(self, data: st.DataObject, good: list[int], base: st.SearchStrategy[int]) -> int:
        if good and data.draw(st.integers(0, 3)) != 3:  # three in four: a valid choice
            return data.draw(st.sampled_from(good))
        return data.draw(base)

    def _snap(self) -> None:
        self.prev = obs(self.m)
        self.prev_rim = [self.m.rim(r) for r in range(R)]

    def _grans(self, state: str) -> list[int]:
        o = obs(self.m)["granules"]
        return [g for g in range(G) if o[g]["state"] == state]

    def _realms(self, *states: str) -> list[int]:
        o = obs(self.m)["realms"]
        return [r for r in range(R) if o[r]["state"] in states]

    def _do(self, name: str, *args: object) -> str:
        self._snap()
        out = getattr(self.m, name)(*args)
        outcome = out[0] if isinstance(out, tuple) else out
        self.act = (name, tuple(args), outcome)
        return str(outcome)

    def _state(self, r: int) -> object:
        return self.prev["realms"][r]["state"]

    def _g(self, data: st.DataObject, state: str) -> int:
        return self._pick(data, self._grans(state), gran)

    def _r(self, data: st.DataObject, *states: str) -> int:
        return self._pick(data, self._realms(*(states or tuple(_ORDER))), realm_id)

    def _check_all(self) -> None:
        for name in (
            "rmm_and_gpt_agree",
            "no_stale_tlb_or_cross_pas_line",
            "gpi_transitions",
            "no_secret_outside_realm_pas",
            "no_remanence",
            "unique_mapping_and_refcounts",
            "ripas_consent_and_lifecycle",
        ):
            getattr(self, name)()

    @initialize(level=st.sampled_from([0, 1, 2, 3, 4, 4, 5, 5]))
    def setup(self, level: int) -> None:
        """Start from a deeper state: realm 0 with both RTTs (level 1), plus DATA at IPA 0 copied
        from granule 5, RIPAS RAM at IPA 1 and a REC (level 2), ACTIVE (level 3), with a RIPAS request
        outstanding (level 4) or with IPA 0 DESTROYED by DATA_DESTROY (level 5). Each step is a
        checked transition."""
        steps: list[tuple[object, ...]] = []
        if level >= 1:
            steps += [
                ("rmi_granule_delegate", 0),
                ("rmi_realm_create", 0, 0),
                ("rmi_granule_delegate", 1),
                ("rmi_rtt_create", 0, 1, 0),
                ("rmi_granule_delegate", 2),
                ("rmi_rtt_create", 0, 2, 1),
            ]
        if level >= 2:
            steps += [
                ("ns_write", 5, 77),
                ("rmi_granule_delegate", 3),
                ("rmi_data_create", 0, 0, 3, 5),
                ("rmi_rtt_init_ripas", 0, 1),
                ("rmi_granule_delegate", 4),
                ("rmi_rec_create", 0, 4),
            ]
        if level >= 3:
            steps += [("rmi_realm_activate", 0)]
        if level == 4:
            steps += [("rsi_ipa_state_set", 0, 0, 0, "EMPTY", False)]
        if level == 5:
            steps += [("rmi_data_destroy", 0, 0)]
        for name, *args in steps:
            assert self._do(str(name), *args) == OK
            self._check_all()

    # -- host / RMI
    @rule(data=st.data())
    def delegate(self, data: st.DataObject) -> None:
        self._do("rmi_granule_delegate", self._g(data, "UNDELEGATED"))

    @rule(data=st.data())
    def undelegate(self, data: st.DataObject) -> None:
        self._do("rmi_granule_undelegate", self._g(data, "DELEGATED"))

    @rule(g=gran, back=st.booleans())
    def secure_world_gpt(self, g: int, back: bool) -> None:
        if back:
            self._do("gpt_undelegate_pas", g, World.SECURE)
        else:
            self._do("gpt_delegate_pas", g, Pas.SECURE, World.SECURE)

    @rule(data=st.data())
    def realm_create(self, data: st.DataObject) -> None:
        free = [r for r in range(R) if r not in self._realms(*_ORDER)]
        self._do("rmi_realm_create", self._g(data, "DELEGATED"), self._pick(data, free, realm_id))

    @rule(data=st.data())
    def realm_activate(self, data: st.DataObject) -> None:
        self._do("rmi_realm_activate", self._r(data, "REALM_NEW"))

    @rule(data=st.data())
    def realm_destroy(self, data: st.DataObject) -> None:
        self._do("rmi_realm_destroy", self._r(data))

    @rule(data=st.data())
    def system_off(self, data: st.DataObject) -> None:
        self._do("psci_system_off", self._r(data, "REALM_ACTIVE"))

    @rule(data=st.data())
    def rec_create(self, data: st.DataObject) -> None:
        r = self._r(data, "REALM_NEW")
        if self._do("rmi_rec_create", r, self._g(data, "DELEGATED")) == OK:
            assert self._state(r) == "REALM_NEW"

    @rule(data=st.data())
    def rec_destroy(self, data: st.DataObject) -> None:
        self._do("rmi_rec_destroy", self._r(data), 0)

    @rule(data=st.data())
    def rec_enter(self, data: st.DataObject) -> None:
        r = self._r(data)
        if self._do("rmi_rec_enter", r, 0) == OK:
            assert self._state(r) == "REALM_ACTIVE"  # REC_ENTER only when ACTIVE

    @rule(data=st.data(), ipa=ipa_)
    def rtt_create(self, data: st.DataObject, ipa: int) -> None:
        self._do("rmi_rtt_create", self._r(data), self._g(data, "DELEGATED"), ipa)

    @rule(data=st.data(), ipa=ipa_)
    def rtt_destroy(self, data: st.DataObject, ipa: int) -> None:
        self._do("rmi_rtt_destroy", self._r(data), ipa)

    @rule(data=st.data(), ipa=ipa_)
    def data_create(self, data: st.DataObject, ipa: int) -> None:
        r = self._r(data, "REALM_NEW")
        g, src = self._g(data, "DELEGATED"), self._g(data, "UNDELEGATED")
        if self._do("rmi_data_create", r, ipa, g, src) == OK:
            assert self._state(r) == "REALM_NEW"

    @rule(data=st.data(), ipa=ipa_)
    def data_create_unknown(self, data: st.DataObject, ipa: int) -> None:
        self._do("rmi_data_create_unknown", self._r(data), ipa, self._g(data, "DELEGATED"))

    @rule(data=st.data(), ipa=ipa_)
    def data_destroy(self, data: st.DataObject, ipa: int) -> None:
        self._do("rmi_data_destroy", self._r(data), ipa)

    @rule(data=st.data(), ipa=ipa_)
    def init_ripas(self, data: st.DataObject, ipa: int) -> None:
        r = self._r(data, "REALM_NEW")
        if self._do("rmi_rtt_init_ripas", r, ipa) == OK:
            assert self._state(r) == "REALM_NEW"

    @rule(data=st.data(), ripas=st.sampled_from(["EMPTY", "RAM"]), cd=st.booleans())
    def ipa_state_set(self, data: st.DataObject, ripas: str, cd: bool) -> None:
        """The realm asks (often about a DESTROYED IPA); often the host answers at once with
        RTT_SET_RIPAS (each step checked)."""
        r = self._r(data, "REALM_ACTIVE")
        rtte = obs(self.m)["rtte"][r] if 0 <= r < R else {}
        gone = [a for a in range(IPAS) if rtte and rtte[a]["ripas"] == "DESTROYED"]
        ipa = self._pick(data, gone, ipa_)
        if self._do("rsi_ipa_state_set", r, 0, ipa, ripas, cd) == OK and data.draw(st.booleans()):
            self._check_all()
            self._do("rmi_rtt_set_ripas", r, 0, ipa)

    @rule(data=st.data())
    def set_ripas(self, data: st.DataObject) -> None:
        o = obs(self.m)["recs"]
        asks = [
            (r, q["pending"]["ipa"])
            for r in range(R)
            for q in [o[r][0]]
            if q["pending"] is not None
        ]
        r, ipa = data.draw(
            st.one_of(st.sampled_from(asks), st.tuples(realm_id, ipa_))
            if asks
            else st.tuples(realm_id, ipa_)
        )
        self._do("rmi_rtt_set_ripas", r, 0, ipa)

    # -- accesses
    @rule(data=st.data(), ipa=ipa_)
    def realm_write(self, data: st.DataObject, ipa: int) -> None:
        self.n += 1
        r = self._r(data, "REALM_ACTIVE")
        if self._do("realm_write", r, ipa, SECRET + self.n) == OK:
            self.secrets[SECRET + self.n] = r

    @rule(data=st.data(), ipa=ipa_)
    def realm_read(self, data: st.DataObject, ipa: int) -> None:
        r = self._r(data, "REALM_ACTIVE")
        self._snap()
        outcome, value = self.m.realm_read(r, ipa)
        self.act = ("realm_read", (r, ipa), outcome)
        assert value is None or self.secrets.get(value, r) == r  # no cross-realm leak

    @rule(
        g=gran,
        v=st.integers(0, 1000),
        who=st.sampled_from(["ns", "secure", "smmu"]),
        ns=st.booleans(),
    )
    def other_write(self, g: int, v: int, who: str, ns: bool) -> None:
        self._snap()
        out = (
            self.m.ns_write(g, v)
            if who == "ns"
            else self.m.secure_write(g, v, ns)
            if who == "secure"
            else self.m.smmu_write(g, v, ns)
        )
        self.act = (f"{who}_write", (g,), out)

    @rule(g=gran, who=st.sampled_from(["ns", "secure", "smmu"]), ns=st.booleans())
    def other_read(self, g: int, who: str, ns: bool) -> None:
        self._snap()
        outcome, value = (
            self.m.ns_read(g)
            if who == "ns"
            else self.m.secure_read(g, ns)
            if who == "secure"
            else self.m.smmu_read(g, ns)
        )
        self.act = (f"{who}_read", (g,), outcome)
        assert value not in self.secrets  # no realm data readable from NS / Secure PAS

    @rule(g=gran)
    def evict(self, g: int) -> None:
        self._do("cache_evict", g)

    @rule(g=gran, w=st.sampled_from(list(World)), pas=st.sampled_from(list(Pas)))
    def gpc_rule(self, g: int, w: World, pas: Pas) -> None:
        gpi = Gpi[obs(self.m)["gpi"][g]]
        want = pas in EMITTABLE[w] and gpc_allows(gpi, pas)
        assert (self.m.gpc(w, pas, g) == OK) == want

    # -- invariants
    @invariant()
    def rmm_and_gpt_agree(self) -> None:
        o = obs(self.m)
        for g in range(G):
            if g == ROOT_GRANULE:
                assert o["gpi"][g] == "GPI_ROOT"
                continue
            delegated = o["granules"][g]["state"] != "UNDELEGATED"
            assert delegated == (o["gpi"][g] == "GPI_REALM")

    @invariant()
    def no_stale_tlb_or_cross_pas_line(self) -> None:
        gp = self.m.gpt
        assert all(gp.gpi[g] is v for (_, g), v in gp.tlb.items())
        assert all(gpc_allows(gp.gpi[g], pas) for (g, pas) in gp.cache)

    @invariant()
    def gpi_transitions(self) -> None:
        allowed = {
            (Gpi.GPI_NS, Gpi.GPI_REALM),
            (Gpi.GPI_NS, Gpi.GPI_SECURE),
            (Gpi.GPI_REALM, Gpi.GPI_NO_ACCESS),
            (Gpi.GPI_SECURE, Gpi.GPI_NO_ACCESS),
            (Gpi.GPI_NO_ACCESS, Gpi.GPI_NS),
        }
        assert all((old, new) in allowed for _, old, new in self.m.gpt.gpi_log)

    @invariant()
    def no_secret_outside_realm_pas(self) -> None:
        o = obs(self.m)
        for g in range(G):
            if o["gpi"][g] != "GPI_REALM":
                assert self.m.view(g) not in self.secrets

    @invariant()
    def no_remanence(self) -> None:
        """Granules the RMM holds but a realm has not filled read zero (6.18): zeroed on
        delegate, DATA_DESTROY and every destroy."""
        o = obs(self.m)
        for g in range(G):
            if o["granules"][g]["state"] in ("DELEGATED", "RD", "REC", "REC_AUX", "RTT"):
                assert self.m.view(g) == 0

    @invariant()
    def unique_mapping_and_refcounts(self) -> None:
        o = obs(self.m)
        users: dict[int, int] = {}
        for r in range(R):
            for e in o["rtte"][r].values():
                if e["hipas"] == "ASSIGNED":
                    users[e["pa"]] = users.get(e["pa"], 0) + 1
        data = {g for g in range(G) if o["granules"][g]["state"] == "DATA"}
        assert set(users) == data and all(c == 1 for c in users.values())
        want = {g: 0 for g in range(G)}
        for r in range(R):
            rl = o["realms"][r]
            if rl["rd"] is not None:
                want[rl["rd"]] = sum(x["granule"] is not None for x in o["recs"][r].values())
            for ipa, t in rl["rtt"].items():
                if t is not None:
                    want[t] = int(o["rtte"][r][ipa]["hipas"] == "ASSIGNED")
        assert {g: o["granules"][g]["refcount"] for g in range(G)} == want

    @invariant()
    def ripas_consent_and_lifecycle(self) -> None:
        o, p = obs(self.m), self.prev
        name, args, outcome = self.act
        for r in range(R):
            pr, nr = p["realms"][r], o["realms"][r]
            if pr["rd"] is None or pr["rd"] != nr["rd"]:
                continue  # created or destroyed this step
            assert _ORDER[nr["state"]] >= _ORDER[pr["state"]]  # lifecycle monotone
            if self.m.rim(r) != self.prev_rim[r]:
                assert outcome == OK and args[0] == r and pr["state"] == "REALM_NEW"
                assert name in ("rmi_data_create", "rmi_rtt_init_ripas", "rmi_rec_create")
            for ipa in range(IPAS):
                a = p["rtte"][r][ipa]["ripas"]
                b = o["rtte"][r][ipa]["ripas"]
                if a == b:
                    continue
                here = outcome == OK and args[0] == r
                if name == "rmi_rtt_set_ripas":
                    req = p["recs"][r][0]["pending"]
                    assert here and args[2] == ipa and req["ipa"] == ipa and b == req["ripas"]
                    assert a != "DESTROYED" or req["change_destroyed"]
                elif name == "rmi_rtt_init_ripas":
                    assert here and (a, b) == ("EMPTY", "RAM") and pr["state"] == "REALM_NEW"
                elif name == "rmi_data_create":
                    assert here and b == "RAM" and pr["state"] == "REALM_NEW"
                else:  # host-only changes may only destroy
                    assert name in ("rmi_data_destroy", "rmi_rtt_destroy") and here
                    assert b == "DESTROYED" and a == ("RAM" if name == "rmi_data_destroy" else a)


CcaStateMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None
)
TestCcaStateMachine = CcaStateMachine.TestCase


def test_granule_state_names_cover_rmm10() -> None:
    assert {s.name for s in GranuleState} == {
        "UNDELEGATED",
        "DELEGATED",
        "RD",
        "REC",
        "REC_AUX",
        "RTT",
        "DATA",
    }
