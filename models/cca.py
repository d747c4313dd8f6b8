"""Arm CCA at the level of TF-A's GPT code and TF-RMM's command checks (RMM 1.0).

In: small sizes (`CcaMachine(granules=6, realms=2, ipas=2, recs_per_realm=1, seed=0)`) and actions
as methods named after the RMI / RSI command or the access, parameterised by small ints.
Out: each action returns its outcome code: "ok" (RMI_SUCCESS), "RMI_ERROR_INPUT",
"RMI_ERROR_REALM", "RMI_ERROR_RTT" (RMM 1.0 status names [V RMM10 smc-rmi.h]; RMI_ERROR_REC is
unreachable here: RECs are named by (realm, slot) and REC_RUNNING is not modelled;
RMI_ERROR_IN_USE is not in RMM 1.0 rel0 [R tf-rmm changelog]); RSI calls return "ok",
"RSI_ERROR_INPUT" or "RSI_ERROR_STATE"; EL3 returns "EINVAL"/"EPERM"; accesses return "ok",
"GPF", "SEA" (injected into the realm) or "REC_EXIT" (realm data abort taken to the host).
Reads return `(outcome, int value or None)`.
Guarantees: checks run in TF-RMM's order (cited per command); memory holds ciphertext
(models.memory via models.cca_gpt; RMM state types in
models.cca_rmm); RIM measurements are real SHA-256 chains (hashlib); with the
fault flags off the RMM and the GPT agree (a granule is not UNDELEGATED iff its GPI is
GPI_REALM), no dirty line or stale GPT TLB entry survives a GPI change, and every granule leaving
the Realm PAS is zeroed.

Model choices (documented):
- Memory: one `PhysicalMemory` page (page_bytes=64, mode "xts-line") per granule. Keys (see
  models.cca_gpt): `keys="per-pas"` (default) uses one context per PAS, REALM 0, NS 1, SECURE 2,
  ROOT 3 (RMM 1.0 has no per-realm MEC keys [R]); `keys="none"` stores plaintext, which makes
  leaks to NS visible as plaintext in the attack tests. Values are 8-byte LE ints at offset 0.
- A realm is named by its slot `realm` (0..realms-1); `rmi_realm_create(rd, realm)` binds the slot
  to its RD granule. Commands on a slot without a realm return RMI_ERROR_INPUT (no RD there).
- IPAs are 0..ipas-1, all in the protected range (PAR). The starting-level RTT lives inside the
  RD granule (RMM 1.0 takes separate starting-level granules; one fewer granule here). It has
  ceil(ipas / ipas_per_rtt) entries; `rmi_rtt_create(realm, rtt_granule, ipa)` hangs one
  level-3 RTT (covering ipas_per_rtt IPAs) below the entry holding `ipa`; commands that need a
  level-3 RTTE return RMI_ERROR_RTT while that table is missing. Without a table, every IPA of the
  block shows the block's unassigned RIPAS (children inherit it on RTT_CREATE; RTT_DESTROY leaves
  unassigned DESTROYED [V RMM10 rtt.c]).
- Refcounts: RD = number of RECs; RTT = live (ASSIGNED) entries; starting-level = tables hung
  below it (kept in the realm, shown as the non-None items of observe()["realm"][r]["rtt"]).
- A REC's slot is the lowest free one (RMM 1.0 derives it from the MPIDR). RSI calls come from a
  REC of an ACTIVE realm; the REC's recorded RIPAS-change request is the REC exit the host sees.
  REC_ENTER consumes it (the realm gets the host's answer). An RSI call while a request is
  outstanding is "RSI_ERROR_STATE" (the REC is not running).
- Realm accesses (realm_read/realm_write) need an ACTIVE realm, else "RMI_ERROR_REALM" (no REC of
  it can run). The RMM zeroes granules when delegating (RMM10), on DATA_DESTROY, RTT/REC/RD
  destroy, and scrubs on undelegate (HEAD) [V domain 3.2]. RMM accesses go through the Realm
  world's GPC; a GPF there is an RMM panic (RmmPanic), never an outcome.
- Measurements (not byte-compatible with the RMM's descriptors): realm create: rim =
  H("REALM" || ipas); DATA: rim = H(rim || "DATA" || ipa || H(content)); INIT_RIPAS: rim =
  H(rim || "RIPAS" || ipa); REC: rim = H(rim || "REC" || slot); H = SHA-256, ints 8-byte LE.
- `skip_tlbi`, `skip_clean`, `skip_scrub` are fault injections used ONLY by tests to show the
  attacks they enable (stale GPT TLB entries, dirty lines crossing a GPI change, unscrubbed
  granules); a correct implementation never sets them. `smmu_gpc=False` models a platform whose
  SMMU does no GPC (a misconfiguration).

observe() shape (the non-ghost state of spec/cca.tee, with keys="none"):
  "gpi":      {granule: Gpi name, e.g. "GPI_REALM"}
  "granules": {granule: {"state": GranuleState name, "refcount": int}}
  "realms":   {realm: {"state": "REALM_NEW"|"REALM_ACTIVE"|"REALM_SYSTEM_OFF"|None,
               "rd": granule|None, "rtt": {starting-level entry: level-3 RTT granule|None}}}
  "rtte":     {realm: {ipa: {"hipas": "UNASSIGNED"|"ASSIGNED", "ripas": "EMPTY"|"RAM"|"DESTROYED",
               "pa": granule|None}}} (a slot without a realm shows UNASSIGNED/EMPTY/None)
  "recs":     {realm: {rec: {"granule": granule|None, "aux": frozenset of granules, "pending": None |
               {"ipa": int, "ripas": "EMPTY"|"RAM", "change_destroyed": bool, "done": bool}}}}
  "dram":     {granule: int} first 8 bytes (LE) of DRAM as stored (plaintext under keys="none",
               ciphertext under per-PAS keys), dirty lines not included
  "cache":    {granule: {Pas name: int (first 8 bytes of the dirty line) | None}}
  "tlb":      {requester ("NS"|"SECURE"|"REALM"|"ROOT"|"SMMU"): {granule: cached Gpi name | None}}
The RIM is `rim(realm)` (SHA-256 hex); what a granule shows through its GPI's PAS is `view(g)`.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from models.cca_gpt import OK, REQUESTERS, Gpi, GranuleProtection, Pas, World
from models.cca_rmm import (
    UNASSIGNED_EMPTY,
    Granule,
    GranuleState,
    Hipas,
    Realm,
    RealmState,
    Rec,
    Ripas,
    RipasRequest,
    RmmPanic,
    Rtte,
    u64,
)

__all__ = [
    "CcaMachine",
    "Gpi",
    "GranuleState",
    "Hipas",
    "Pas",
    "RealmState",
    "RipasRequest",
    "Ripas",
    "RmmPanic",
    "Rtte",
    "World",
]

INPUT = "RMI_ERROR_INPUT"
REALM = "RMI_ERROR_REALM"
RTT = "RMI_ERROR_RTT"


class CcaMachine:
    """EL3 GPT (models.cca_gpt) + TF-RMM (RMM 1.0 command checks) + realm/host/device accesses."""

    def __init__(
        self,
        *,
        granules: int = 6,
        realms: int = 2,
        ipas: int = 2,
        recs_per_realm: int = 1,
        ipas_per_rtt: int | None = None,
        rec_aux_count: int = 0,
        keys: str = "per-pas",
        page_bytes: int = 64,
        boot_gpi: dict[int, Gpi] | None = None,
        smmu_gpc: bool = True,
        skip_tlbi: bool = False,
        skip_clean: bool = False,
        skip_scrub: bool = False,
        seed: int = 0,
    ) -> None:
        self.granules = granules
        self.realms = realms
        self.ipas = ipas
        self.recs_per_realm = recs_per_realm
        self.ipas_per_rtt = ipas_per_rtt or ipas
        self.rec_aux_count = rec_aux_count
        self.page_bytes = page_bytes
        self.skip_scrub = skip_scrub
        self.gpt = GranuleProtection(
            granules,
            page_bytes=page_bytes,
            keys=keys,
            seed=seed,
            boot_gpi=boot_gpi,
            smmu_gpc=smmu_gpc,
            skip_tlbi=skip_tlbi,
            skip_clean=skip_clean,
        )
        self.gran = [Granule() for _ in range(granules)]
        self.realm: list[Realm | None] = [None] * realms

    # ================================================================ helpers
    def _tables(self) -> int:
        return -(-self.ipas // self.ipas_per_rtt)

    def _granule(self, g: int, state: GranuleState) -> bool:
        """find_lock_granule: in range and in `state`."""
        return 0 <= g < self.granules and self.gran[g].state is state

    def _rd(self, realm: int) -> Realm | None:
        return self.realm[realm] if 0 <= realm < self.realms else None

    def _table(self, rd: Realm, ipa: int) -> int | None:
        """The level-3 RTT granule covering `ipa`, or None if the walk stops at the start level."""
        return rd.tables[ipa // self.ipas_per_rtt]

    def _rmm_store(self, g: int, data: bytes) -> None:
        if self.gpt.store(World.REALM.value, Pas.REALM, g, data) != OK:
            raise RmmPanic(f"RMM write to granule {g} faulted")

    def _zero(self, g: int) -> None:
        """granule_memzero through the Realm PAS (skipped only under `skip_scrub`)."""
        if not self.skip_scrub:
            self._rmm_store(g, bytes(self.page_bytes))

    def _to(self, g: int, state: GranuleState) -> None:
        self.gran[g].state = state

    # ================================================================ EL3 (forwarded)
    def gpt_delegate_pas(
        self, granule: int, target_pas: Pas | str, caller_world: World | str
    ) -> str:
        """EL3 GTSI delegate (see GranuleProtection.gpt_delegate_pas). Realm-world calls are the
        RMM's (rmi_granule_delegate); callers use this directly for the Secure world."""
        return self.gpt.gpt_delegate_pas(
            granule,
            Pas[str(getattr(target_pas, "name", target_pas))],
            World(getattr(caller_world, "value", caller_world)),
        )

    def gpt_undelegate_pas(self, granule: int, caller_world: World | str) -> str:
        """EL3 GTSI undelegate (see GranuleProtection.gpt_undelegate_pas)."""
        return self.gpt.gpt_undelegate_pas(
            granule, World(getattr(caller_world, "value", caller_world))
        )

    # ================================================================ RMI: granules
    def rmi_granule_delegate(self, granule: int) -> str:
        """UNDELEGATED -> DELEGATED. Order: granule valid and UNDELEGATED (INPUT); EL3 delegate to
        the Realm PAS refused, e.g. Secure owns it (INPUT). Zeroes the granule (RMM10)
        [V RMM10 granule.c; CBMC tb_rmi_granule_delegate]."""
        if not self._granule(granule, GranuleState.UNDELEGATED):
            return INPUT
        if self.gpt.gpt_delegate_pas(granule, Pas.REALM, World.REALM) != OK:
            return INPUT
        self._zero(granule)
        self._to(granule, GranuleState.DELEGATED)
        return OK

    def rmi_granule_undelegate(self, granule: int) -> str:
        """DELEGATED -> UNDELEGATED. Order: granule valid and DELEGATED (INPUT). Scrubs (HEAD),
        then EL3 undelegate; an EL3 failure is a panic [V RMM-HEAD granule.c]."""
        if not self._granule(granule, GranuleState.DELEGATED):
            return INPUT
        self._zero(granule)
        if self.gpt.gpt_undelegate_pas(granule, World.REALM) != OK:
            raise RmmPanic(f"EL3 refused to undelegate granule {granule}")
        self._to(granule, GranuleState.UNDELEGATED)
        return OK

    # ================================================================ RMI: realms
    def rmi_realm_create(self, rd: int, realm: int) -> str:
        """Order: realm slot valid and free (INPUT; RMM: VMID reservation), RD granule DELEGATED
        (INPUT). RD -> RD, realm NEW, starting level unassigned EMPTY, RIM initialised
        [V RMM10 realm.c smc_realm_create]."""
        if not 0 <= realm < self.realms or self.realm[realm] is not None:
            return INPUT
        if not self._granule(rd, GranuleState.DELEGATED):
            return INPUT
        self.realm[realm] = Realm(rd, self.ipas, self._tables(), self.recs_per_realm)
        self._to(rd, GranuleState.RD)
        return OK

    def rmi_realm_activate(self, realm: int) -> str:
        """Order: RD (INPUT); state NEW else REALM [V RMM10 realm.c smc_realm_activate]."""
        rd = self._rd(realm)
        if rd is None:
            return INPUT
        if rd.state is not RealmState.REALM_NEW:
            return REALM
        rd.state = RealmState.REALM_ACTIVE
        return OK

    def rmi_realm_destroy(self, realm: int) -> str:
        """Order: RD (INPUT); RD refcount (RECs) != 0 (REALM); starting-level RTT refcount != 0
        (REALM). RD zeroed -> DELEGATED, slot freed [V RMM10 realm.c smc_realm_destroy]."""
        rd = self._rd(realm)
        if rd is None:
            return INPUT
        if self.gran[rd.rd].refcount != 0:
            return REALM
        if any(t is not None for t in rd.tables):
            return REALM
        self._zero(rd.rd)
        self._to(rd.rd, GranuleState.DELEGATED)
        self.realm[realm] = None
        return OK

    def psci_system_off(self, realm: int) -> str:
        """PSCI SYSTEM_OFF/RESET from a REC: ACTIVE -> SYSTEM_OFF [V RMM10 rsi/psci.c]. A realm
        that is not ACTIVE cannot run: RMI_ERROR_REALM."""
        rd = self._rd(realm)
        if rd is None or rd.state is not RealmState.REALM_ACTIVE:
            return REALM
        rd.state = RealmState.REALM_SYSTEM_OFF
        return OK

    # ================================================================ RMI: RECs
    def rmi_rec_create(self, realm: int, rec_granule: int, aux: tuple[int, ...] = ()) -> str:
        """Order: RD (INPUT); REC granule DELEGATED (INPUT); aux count == rec_aux_count, each
        distinct and DELEGATED (INPUT); realm NEW (REALM, rec.c:326); a free REC slot (INPUT).
        REC -> REC, aux -> REC_AUX, RD refcount + 1, REC measured into the RIM
        [V RMM10 rec.c]."""
        rd = self._rd(realm)
        if rd is None:
            return INPUT
        if not self._granule(rec_granule, GranuleState.DELEGATED):
            return INPUT
        if len(aux) != self.rec_aux_count or len(set(aux) | {rec_granule}) != len(aux) + 1:
            return INPUT
        if not all(self._granule(a, GranuleState.DELEGATED) for a in aux):
            return INPUT
        if rd.state is not RealmState.REALM_NEW:
            return REALM
        slot = next((i for i, r in enumerate(rd.recs) if r is None), None)
        if slot is None:
            return INPUT
        rd.recs[slot] = Rec(rec_granule, tuple(aux))
        self._to(rec_granule, GranuleState.REC)
        for a in aux:
            self._to(a, GranuleState.REC_AUX)
        self.gran[rd.rd].refcount += 1
        rd.measure(b"REC", u64(slot))
        return OK

    def _rec(self, realm: int, rec: int) -> tuple[Realm, Rec] | None:
        rd = self._rd(realm)
        if rd is None or not 0 <= rec < self.recs_per_realm:
            return None
        r = rd.recs[rec]
        return None if r is None else (rd, r)

    def rmi_rec_destroy(self, realm: int, rec: int) -> str:
        """Order: RD and REC (INPUT). REC and aux zeroed -> DELEGATED, RD refcount - 1
        [V RMM10 rec.c; CBMC tb_rmi_rec_destroy] (REC_RUNNING is not reachable: actions are
        atomic)."""
        found = self._rec(realm, rec)
        if found is None:
            return INPUT
        rd, r = found
        for g in (r.granule, *r.aux):
            self._zero(g)
            self._to(g, GranuleState.DELEGATED)
        rd.recs[rec] = None
        self.gran[rd.rd].refcount -= 1
        return OK

    def rmi_rec_enter(self, realm: int, rec: int) -> str:
        """Order: RD and REC (INPUT); realm NEW or SYSTEM_OFF (REALM) [V RMM10 run.c:237-254].
        Completes the REC's outstanding RIPAS-change exit (the realm gets the host's answer)."""
        found = self._rec(realm, rec)
        if found is None:
            return INPUT
        rd, r = found
        if rd.state is not RealmState.REALM_ACTIVE:
            return REALM
        r.request = None
        return OK

    # ================================================================ RMI: RTTs
    def rmi_rtt_create(self, realm: int, rtt_granule: int, ipa: int) -> str:
        """Order: RD (INPUT); RTT granule DELEGATED (INPUT); ipa in PAR (INPUT); the walk must stop
        at the starting level, i.e. no table yet (RTT). Child inherits the block's unassigned
        RIPAS; RTT zeroed -> RTT; starting-level refcount + 1 [V RMM10 rtt.c]."""
        rd = self._rd(realm)
        if rd is None:
            return INPUT
        if not self._granule(rtt_granule, GranuleState.DELEGATED):
            return INPUT
        if not 0 <= ipa < self.ipas:
            return INPUT
        if self._table(rd, ipa) is not None:
            return RTT
        self._zero(rtt_granule)
        rd.tables[ipa // self.ipas_per_rtt] = rtt_granule
        self._to(rtt_granule, GranuleState.RTT)
        return OK

    def rmi_rtt_destroy(self, realm: int, ipa: int) -> str:
        """Order: RD (INPUT); ipa in PAR (INPUT); a level-3 table covers ipa (RTT); its refcount
        is 0 (RTT [R]; RMM-HEAD says RMI_ERROR_IN_USE). The parent entry becomes unassigned
        DESTROYED, the table zeroed -> DELEGATED [V RMM10 rtt.c]."""
        rd = self._rd(realm)
        if rd is None:
            return INPUT
        if not 0 <= ipa < self.ipas:
            return INPUT
        table = self._table(rd, ipa)
        if table is None:
            return RTT
        if self.gran[table].refcount != 0:
            return RTT
        block = ipa // self.ipas_per_rtt
        lo = block * self.ipas_per_rtt
        for i in range(lo, min(lo + self.ipas_per_rtt, self.ipas)):
            rd.rtte[i] = Rtte(Hipas.UNASSIGNED, Ripas.DESTROYED)
        rd.tables[block] = None
        self._zero(table)
        self._to(table, GranuleState.DELEGATED)
        return OK

    # ================================================================ RMI: DATA
    def _data_checks(self, realm: int, ipa: int, data: int, need_new: bool) -> str:
        """Shared order of DATA_CREATE[_UNKNOWN]: data granule DELEGATED and RD (INPUT); realm NEW
        for DATA_CREATE (REALM); ipa in PAR (INPUT); walk reaches level 3 (RTT); RTTE UNASSIGNED
        (RTT) [V RMM10 rtt.c:857-1034]."""
        rd = self._rd(realm)
        if not self._granule(data, GranuleState.DELEGATED) or rd is None:
            return INPUT
        if need_new and rd.state is not RealmState.REALM_NEW:
            return REALM
        if not 0 <= ipa < self.ipas:
            return INPUT
        if self._table(rd, ipa) is None:
            return RTT
        if rd.rtte[ipa].hipas is not Hipas.UNASSIGNED:
            return RTT
        return OK

    def _assign(self, rd: Realm, ipa: int, data: int, ripas: Ripas) -> None:
        rd.rtte[ipa] = Rtte(Hipas.ASSIGNED, ripas, data)
        self._to(data, GranuleState.DATA)
        table = self._table(rd, ipa)
        assert table is not None
        self.gran[table].refcount += 1

    def rmi_data_create(self, realm: int, ipa: int, data_granule: int, src_granule: int) -> str:
        """Order: src granule UNDELEGATED (INPUT, checked first by smc_data_create), then
        `_data_checks` with NEW required. Copies src (read by the RMM through the NS PAS; a GPF
        there, e.g. the Secure world owns src, returns INPUT and changes nothing), measures (ipa, content) into the RIM,
        RTTE := ASSIGNED RAM, data -> DATA, RTT refcount + 1 [V RMM10 rtt.c]."""
        if not self._granule(src_granule, GranuleState.UNDELEGATED):
            return INPUT
        outcome = self._data_checks(realm, ipa, data_granule, need_new=True)
        if outcome != OK:
            return outcome
        rd = self._rd(realm)
        assert rd is not None
        got, content = self.gpt.load(World.REALM.value, Pas.NS, src_granule)
        if content is None:
            # The copy is atomic here, so a GPF on the source leaves the data granule as it
            # was (TF-RMM zeroes it because its copy may have been partial).
            return INPUT
        self._rmm_store(data_granule, content)
        rd.measure(b"DATA", u64(ipa), hashlib.sha256(content).digest())
        self._assign(rd, ipa, data_granule, Ripas.RAM)
        return OK

    def rmi_data_create_unknown(self, realm: int, ipa: int, data_granule: int) -> str:
        """`_data_checks` without the NEW requirement; no copy (the granule was zeroed when
        delegated); RIPAS unchanged [V RMM10 rtt.c; domain 3.2]."""
        outcome = self._data_checks(realm, ipa, data_granule, need_new=False)
        if outcome != OK:
            return outcome
        rd = self._rd(realm)
        assert rd is not None
        self._assign(rd, ipa, data_granule, rd.rtte[ipa].ripas)
        return OK

    def rmi_data_destroy(self, realm: int, ipa: int) -> str:
        """Order: RD (INPUT); ipa in PAR (INPUT); walk reaches level 3 (RTT); RTTE ASSIGNED (RTT).
        RAM -> unassigned DESTROYED, EMPTY -> EMPTY, DESTROYED -> DESTROYED; data zeroed ->
        DELEGATED; RTT refcount - 1 [V RMM10 rtt.c:1040-1118]."""
        rd = self._rd(realm)
        if rd is None:
            return INPUT
        if not 0 <= ipa < self.ipas:
            return INPUT
        table = self._table(rd, ipa)
        if table is None:
            return RTT
        e = rd.rtte[ipa]
        if e.hipas is not Hipas.ASSIGNED or e.pa is None:
            return RTT
        ripas = Ripas.DESTROYED if e.ripas is Ripas.RAM else e.ripas
        rd.rtte[ipa] = Rtte(Hipas.UNASSIGNED, ripas)
        self.gran[table].refcount -= 1
        self._zero(e.pa)
        self._to(e.pa, GranuleState.DELEGATED)
        return OK

    # ================================================================ RIPAS
    def rmi_rtt_init_ripas(self, realm: int, ipa: int) -> str:
        """Order: RD (INPUT); ipa in PAR (INPUT); realm NEW (REALM); walk reaches level 3 (RTT);
        RTTE unassigned EMPTY or RAM (RTT). EMPTY -> RAM; measured [V RMM10 rtt.c
        smc_rtt_init_ripas]."""
        rd = self._rd(realm)
        if rd is None:
            return INPUT
        if not 0 <= ipa < self.ipas:
            return INPUT
        if rd.state is not RealmState.REALM_NEW:
            return REALM
        if self._table(rd, ipa) is None:
            return RTT
        e = rd.rtte[ipa]
        if e.hipas is not Hipas.UNASSIGNED or e.ripas is Ripas.DESTROYED:
            return RTT
        rd.rtte[ipa] = Rtte(Hipas.UNASSIGNED, Ripas.RAM)
        rd.measure(b"RIPAS", u64(ipa))
        return OK

    def rsi_ipa_state_set(
        self, realm: int, rec: int, ipa: int, ripas: Ripas | str, change_destroyed: bool
    ) -> str:
        """Realm call. Order: a running REC of an ACTIVE realm without an outstanding request
        (RSI_ERROR_STATE); ripas EMPTY or RAM and ipa in PAR (RSI_ERROR_INPUT) [V RMM10
        rsi/memory.c]. Records the request in the REC: the REC exits with RIPAS_CHANGE."""
        found = self._rec(realm, rec)
        if found is None or found[0].state is not RealmState.REALM_ACTIVE:
            return "RSI_ERROR_STATE"
        if found[1].request is not None:
            return "RSI_ERROR_STATE"
        value = ripas if isinstance(ripas, Ripas) else Ripas[ripas]
        if value is Ripas.DESTROYED or not 0 <= ipa < self.ipas:
            return "RSI_ERROR_INPUT"
        found[1].request = RipasRequest(ipa, value, bool(change_destroyed))
        return OK

    def rmi_rtt_set_ripas(self, realm: int, rec: int, ipa: int) -> str:
        """Host command. Order: RD and REC (INPUT); ipa is the REC's outstanding, not yet done
        request (INPUT); walk reaches level 3 (RTT); leaving DESTROYED without CHANGE_DESTROYED
        makes no progress (RTT) [V tf-rmm rtt.c smc_rtt_set_ripas / update_ripas]. Sets the
        requested RIPAS (HIPAS and pa unchanged) and marks the request done."""
        found = self._rec(realm, rec)
        if found is None:
            return INPUT
        rd, r = found
        req = r.request
        if req is None or req.done or req.ipa != ipa:
            return INPUT
        if self._table(rd, ipa) is None:
            return RTT
        e = rd.rtte[ipa]
        if e.ripas is Ripas.DESTROYED and not req.change_destroyed:
            return RTT
        rd.rtte[ipa] = replace(e, ripas=req.ripas)
        r.request = replace(req, done=True)
        return OK

    # ================================================================ accesses
    def realm_read(self, realm: int, ipa: int) -> tuple[str, int | None]:
        """Realm load: see `_realm_access`; ("ok", value) on success."""
        outcome, g = self._realm_access(realm, ipa)
        if g is None:
            return outcome, None
        got, data = self.gpt.load(World.REALM.value, Pas.REALM, g)
        return got, None if data is None else int.from_bytes(data[:8], "little")

    def realm_write(self, realm: int, ipa: int, value: int) -> str:
        """Realm store of an 8-byte value at offset 0 of the IPA's granule."""
        outcome, g = self._realm_access(realm, ipa)
        if g is None:
            return outcome
        return self.gpt.store(World.REALM.value, Pas.REALM, g, u64(value))

    def _realm_access(self, realm: int, ipa: int) -> tuple[str, int | None]:
        """Realm not ACTIVE (RMI_ERROR_REALM: it cannot run); ipa outside the IPA space or RIPAS
        EMPTY -> "SEA" injected; RIPAS DESTROYED or unassigned RAM -> "REC_EXIT" to the host
        [V RMM10 core/exit.c handle_data_abort]; else the granule, then the GPC."""
        rd = self._rd(realm)
        if rd is None or rd.state is not RealmState.REALM_ACTIVE:
            return REALM, None
        if not 0 <= ipa < self.ipas or rd.rtte[ipa].ripas is Ripas.EMPTY:
            return "SEA", None
        e = rd.rtte[ipa]
        if e.ripas is Ripas.DESTROYED or e.hipas is Hipas.UNASSIGNED:
            return "REC_EXIT", None
        return OK, e.pa

    def _read(self, requester: str, pas: Pas, granule: int) -> tuple[str, int | None]:
        outcome, data = self.gpt.load(requester, pas, granule)
        return outcome, None if data is None else int.from_bytes(data[:8], "little")

    def ns_read(self, granule: int) -> tuple[str, int | None]:
        """Host (NS world, NS PAS) load: ("ok", value) or ("GPF", None)."""
        return self._read(World.NS.value, Pas.NS, granule)

    def ns_write(self, granule: int, value: int) -> str:
        return self.gpt.store(World.NS.value, Pas.NS, granule, u64(value))

    def secure_read(self, granule: int, ns: bool = False) -> tuple[str, int | None]:
        """Secure world load through the Secure PAS (or the NS PAS if `ns`)."""
        return self._read(World.SECURE.value, Pas.NS if ns else Pas.SECURE, granule)

    def secure_write(self, granule: int, value: int, ns: bool = False) -> str:
        return self.gpt.store(World.SECURE.value, Pas.NS if ns else Pas.SECURE, granule, u64(value))

    def smmu_read(self, granule: int, secure: bool = False) -> tuple[str, int | None]:
        """DMA by an SMMU-mastered device (host-assigned: NS PAS; `secure`: Secure PAS); GPC by
        the SMMU unless `smmu_gpc=False` [R domain 3.1]."""
        return self._read("SMMU", Pas.SECURE if secure else Pas.NS, granule)

    def smmu_write(self, granule: int, value: int, secure: bool = False) -> str:
        return self.gpt.store("SMMU", Pas.SECURE if secure else Pas.NS, granule, u64(value))

    def gpc(self, world: World | str, pas: Pas | str, granule: int) -> str:
        """The GPC alone for a CPU access by `world` tagged `pas`: "ok" or "GPF" (fills the
        world's GPT TLB like a real access)."""
        w = World(getattr(world, "value", world))
        return self.gpt.gpc(w.value, Pas[str(getattr(pas, "name", pas))], granule)

    def cache_evict(self, granule: int) -> str:
        """Hardware evicts the granule's dirty lines (may happen at any time)."""
        self.gpt.evict(granule)
        return OK

    # ================================================================ observe
    def view(self, granule: int) -> int | None:
        """The granule's first 8 bytes (LE) as seen through the PAS its GPI allows, with that
        PAS's key, dirty lines included; None for GPI_NO_ACCESS."""
        return self.gpt.view(granule)

    def rim(self, realm: int) -> str | None:
        """The realm's RIM (SHA-256 hex), None for a free slot."""
        rd = self._rd(realm)
        return None if rd is None else rd.rim.hex()

    def observe(self) -> dict[str, object]:
        """Spec-visible state; shape in the module docstring."""
        realms: dict[int, dict[str, object]] = {}
        rtte: dict[int, dict[int, dict[str, object]]] = {}
        recs: dict[int, dict[int, dict[str, object]]] = {}
        no_rec: dict[str, object] = {"granule": None, "aux": frozenset(), "pending": None}
        for i in range(self.realms):
            rd = self.realm[i]
            if rd is None:
                realms[i] = {"state": None, "rd": None, "rtt": dict.fromkeys(range(self._tables()))}
                rtte[i] = {a: UNASSIGNED_EMPTY.record() for a in range(self.ipas)}
                recs[i] = {j: dict(no_rec) for j in range(self.recs_per_realm)}
                continue
            realms[i] = {"state": rd.state.name, "rd": rd.rd, "rtt": dict(enumerate(rd.tables))}
            rtte[i] = {a: rd.rtte[a].record() for a in range(self.ipas)}
            recs[i] = {
                j: dict(no_rec)
                if r is None
                else {
                    "granule": r.granule,
                    "aux": frozenset(r.aux),
                    "pending": None if r.request is None else r.request.record(),
                }
                for j, r in enumerate(rd.recs)
            }
        gp = self.gpt
        return {
            "gpi": {g: gp.gpi[g].name for g in range(self.granules)},
            "granules": {
                g: {"state": d.state.name, "refcount": d.refcount} for g, d in enumerate(self.gran)
            },
            "realms": realms,
            "rtte": rtte,
            "recs": recs,
            "dram": {g: gp.dram(g) for g in range(self.granules)},
            "cache": {g: {p.name: gp.dirty(g, p) for p in Pas} for g in range(self.granules)},
            "tlb": {
                r: {g: None if (r, g) not in gp.tlb else gp.tlb[(r, g)].name for g in range(self.granules)}
                for r in REQUESTERS
            },
        }
