"""Arm RME granule protection: the GPT, the GPC, GPT-caching TLBs and PAS-tagged caches (EL3 side).

In: a granule count, memory/keying options and three fault-injection flags; then accesses
(`load` / `store` by a requester emitting a PAS) and the EL3 transitions `gpt_delegate_pas` /
`gpt_undelegate_pas` (TF-A lib/gpt_rme).
Out: outcome strings: "ok", "GPF" (granule protection fault), "EINVAL" / "EPERM" (TF-A's errno
names for refused GPT transitions). Loads return `(outcome, bytes or None)`.
Guarantees (with the flags off): every access by a CPU world or an SMMU-mastered device passes the
GPC against the *current* GPT (every GPT change is followed by TLBI by PA, so no requester keeps a
stale GPI), and no dirty cache line of a granule survives a GPI change (DC CIPAPA to the PoPA).

Model choices (documented):
- A granule is one page of `models.memory.PhysicalMemory` (small `page_bytes`, mode "xts-line").
- Keys: `keys="per-pas"` (default) programs one memory-encryption context per PAS:
  REALM -> ctx 0, NS -> 1, SECURE -> 2, ROOT -> 3. RMM 1.0 predates FEAT_MEC, so all realms share
  the Realm PAS key [R]. `keys="none"` stores plaintext for every PAS (RME does not mandate
  encryption [R]); leaks to NS are then visible as plaintext, which the attack tests use.
- Requesters: the four security states ("NS", "SECURE", "REALM", "ROOT"; the RMM runs in the Realm
  world) and "SMMU" (a host-assigned device). Each requester has a GPT TLB: requester x granule ->
  the GPI read at its last walk. TLBI by PA drops every requester's entry for that granule
  (broadcast, SMMU included [R]). Only walks whose access passes fill the TLB.
- Data cache: write-back, write-allocate, no allocation on reads; lines are tagged with the PAS
  they were written under (RME caches are PAS-tagged [R]) and hold a whole granule. `evict`
  (hardware may evict any time) and DC CIPAPA write a dirty line back under its PAS's key.
- An access past the last granule raises ValueError (a caller bug, not an outcome).
- Fault-injection flags `skip_tlbi` / `skip_clean` exist ONLY so tests can show that the TLBI and
  the PoPA clean matter (ground for mutation testing). A correct implementation never sets them.
"""

from __future__ import annotations

import enum

from models.memory import PhysicalMemory

__all__ = [
    "EMITTABLE",
    "Gpi",
    "GranuleProtection",
    "Pas",
    "REQUESTERS",
    "World",
    "gpc_allows",
    "pas_of_gpi",
]

OK = "ok"
GPF = "GPF"


class Pas(enum.Enum):
    """Physical address spaces, valued by their bus encoding {NSE,NS} [V domain 3.1, APB5 RME]."""

    SECURE = 0b00
    NS = 0b01
    ROOT = 0b10
    REALM = 0b11


class World(enum.Enum):
    """Security states of a PE."""

    NS = "NS"
    SECURE = "SECURE"
    REALM = "REALM"
    ROOT = "ROOT"


class Gpi(enum.Enum):
    """Granule protection information, valued by TF-A's encodings [V TFA gpt_rme.h]."""

    GPI_NO_ACCESS = 0x0
    GPI_SECURE = 0x8
    GPI_NS = 0x9
    GPI_ROOT = 0xA
    GPI_REALM = 0xB
    GPI_ANY = 0xF


# Which PAS each security state may emit [R Arm "Learn the architecture: RME"; domain 3.1].
EMITTABLE: dict[World, frozenset[Pas]] = {
    World.NS: frozenset({Pas.NS}),
    World.SECURE: frozenset({Pas.SECURE, Pas.NS}),
    World.REALM: frozenset({Pas.REALM, Pas.NS}),
    World.ROOT: frozenset(Pas),
}
REQUESTERS: tuple[str, ...] = ("NS", "SECURE", "REALM", "ROOT", "SMMU")

_GPI_OF_PAS = {
    Pas.SECURE: Gpi.GPI_SECURE,
    Pas.NS: Gpi.GPI_NS,
    Pas.ROOT: Gpi.GPI_ROOT,
    Pas.REALM: Gpi.GPI_REALM,
}
_PAS_KEY_CTX = {Pas.REALM: 0, Pas.NS: 1, Pas.SECURE: 2, Pas.ROOT: 3}


def gpc_allows(gpi: Gpi, pas: Pas) -> bool:
    """The GPC rule: PAS s may access a granule iff GPI == s or GPI == ANY; NO_ACCESS passes
    nothing [V domain 3.1]."""
    return gpi is Gpi.GPI_ANY or gpi is _GPI_OF_PAS[pas]


def pas_of_gpi(gpi: Gpi) -> Pas | None:
    """The PAS through which a granule with this GPI is seen (ANY: NS; NO_ACCESS: none)."""
    for pas, g in _GPI_OF_PAS.items():
        if g is gpi:
            return pas
    return Pas.NS if gpi is Gpi.GPI_ANY else None


class GranuleProtection:
    """EL3's granule protection table plus the hardware that caches it, over encrypted memory."""

    def __init__(
        self,
        granules: int,
        *,
        page_bytes: int = 64,
        keys: str = "per-pas",
        seed: int = 0,
        boot_gpi: dict[int, Gpi] | None = None,
        smmu_gpc: bool = True,
        skip_tlbi: bool = False,
        skip_clean: bool = False,
    ) -> None:
        if keys not in ("per-pas", "none"):
            raise ValueError(f"keys must be 'per-pas' or 'none', not {keys!r}")
        self.granules = granules
        self.page_bytes = page_bytes
        self.keys = keys
        self.smmu_gpc = smmu_gpc
        self.skip_tlbi = skip_tlbi
        self.skip_clean = skip_clean
        self.mem = PhysicalMemory(granules, page_bytes=page_bytes, mode="xts-line", seed=seed)
        if keys == "per-pas":
            for ctx in _PAS_KEY_CTX.values():
                self.mem.program_key(ctx)
        self.gpi: list[Gpi] = [Gpi.GPI_NS] * granules
        for g, v in (boot_gpi or {}).items():
            self._check(g)
            self.gpi[g] = v
        self.tlb: dict[tuple[str, int], Gpi] = {}
        self.cache: dict[tuple[int, Pas], bytearray] = {}
        # Ghost: every GPI change as (granule, old, new), for transition-rule tests.
        self.gpi_log: list[tuple[int, Gpi, Gpi]] = []
        for g in range(granules):  # boot firmware clears memory through each granule's PAS [R]
            self.mem.zero(self.ctx(pas_of_gpi(self.gpi[g]) or Pas.NS), g)

    # -- helpers -------------------------------------------------------------------------------
    def _check(self, granule: int) -> None:
        if not 0 <= granule < self.granules:
            raise ValueError(f"granule {granule} out of range 0..{self.granules - 1}")

    def ctx(self, pas: Pas) -> int | None:
        """The memory-encryption context used for accesses tagged `pas` (None: plaintext)."""
        return _PAS_KEY_CTX[pas] if self.keys == "per-pas" else None

    def _set_gpi(self, granule: int, new: Gpi) -> None:
        self.gpi_log.append((granule, self.gpi[granule], new))
        self.gpi[granule] = new

    # -- the granule protection check ----------------------------------------------------------
    def gpc(self, requester: str, pas: Pas, granule: int) -> str:
        """Check one access. CPU worlds may only emit their PAS set (an access a world cannot
        emit is reported as "GPF"). The GPI comes from the requester's GPT TLB if cached, else a
        GPT walk, which fills the TLB when the access passes (a faulting walk is not cached).
        An SMMU with GPC disabled (misconfiguration) checks nothing."""
        self._check(granule)
        if requester == "SMMU":
            if not self.smmu_gpc:
                return OK
        elif pas not in EMITTABLE[World(requester)]:
            return GPF
        key = (requester, granule)
        gpi = self.tlb.get(key)
        if gpi is not None:
            return OK if gpc_allows(gpi, pas) else GPF
        gpi = self.gpi[granule]
        if not gpc_allows(gpi, pas):
            return GPF  # a faulting walk is not cached
        self.tlb[key] = gpi
        return OK

    # -- data path (after the GPC): PAS-tagged write-back cache in front of memory ------------
    def _line(self, pas: Pas, granule: int) -> bytes:
        line = self.cache.get((granule, pas))
        if line is not None:
            return bytes(line)
        return self.mem.read(self.ctx(pas), granule, 0, self.page_bytes)

    def load(self, requester: str, pas: Pas, granule: int) -> tuple[str, bytes | None]:
        """Read a whole granule: ("ok", bytes) or ("GPF", None)."""
        outcome = self.gpc(requester, pas, granule)
        if outcome != OK:
            return outcome, None
        return OK, self._line(pas, granule)

    def store(self, requester: str, pas: Pas, granule: int, data: bytes, offset: int = 0) -> str:
        """Write `data` at `offset` into the granule's cache line for `pas` (write-allocate)."""
        outcome = self.gpc(requester, pas, granule)
        if outcome != OK:
            return outcome
        line = bytearray(self._line(pas, granule))
        line[offset : offset + len(data)] = data
        self.cache[(granule, pas)] = line
        return OK

    def evict(self, granule: int) -> None:
        """Hardware eviction: write back every dirty line of the granule under its PAS's key
        (in PAS encoding order) and drop it."""
        self._check(granule)
        for key in sorted((k for k in self.cache if k[0] == granule), key=lambda k: k[1].value):
            self.mem.write(self.ctx(key[1]), granule, 0, bytes(self.cache.pop(key)))

    def dc_cipapa(self, granule: int) -> None:
        """DC CIPAPA: clean and invalidate the granule's lines, all PAS aliases, to the PoPA
        [V TFA gpt_rme.c]. Skipped only under the test flag `skip_clean`."""
        if not self.skip_clean:
            self.evict(granule)

    def tlbi_pa(self, granule: int) -> None:
        """TLBI by PA (broadcast): every requester drops its cached GPI for the granule
        [V TFA gpt_rme.c]. Skipped only under the test flag `skip_tlbi`."""
        if not self.skip_tlbi:
            for r in REQUESTERS:
                self.tlb.pop((r, granule), None)

    def dram(self, granule: int) -> int:
        """The first 8 bytes (LE) of the granule as DRAM holds them, dirty lines not included
        (ciphertext under keys="per-pas", plaintext under keys="none")."""
        self._check(granule)
        return int.from_bytes(self.mem.read_ciphertext(granule, 0, 8), "little")

    def dirty(self, granule: int, pas: Pas) -> int | None:
        """The first 8 bytes (LE) of the granule's dirty line for `pas` (caches hold plaintext),
        or None when there is no such line."""
        line = self.cache.get((granule, pas))
        return None if line is None else int.from_bytes(line[:8], "little")

    def view(self, granule: int) -> int | None:
        """The first 8 bytes (LE) of the granule as seen through the PAS its GPI allows, with
        that PAS's key (dirty lines included); None for GPI_NO_ACCESS. No TLB or cache effect."""
        pas = pas_of_gpi(self.gpi[granule])
        if pas is None:
            return None
        return int.from_bytes(self._line(pas, granule)[:8], "little")

    # -- EL3 granule transitions (TF-A gpt_rme.c) ----------------------------------------------
    def gpt_delegate_pas(self, granule: int, target: Pas, caller: World) -> str:
        """NS -> REALM or SECURE, requested by that world. Order: caller/target (EINVAL),
        granule range (EINVAL), current GPI must be NS (EPERM) [V TFA gpt_rme.c; domain 3.1].
        Then DC CIPAPA, GPI := target, TLBI by PA, flush the NS alias to the PoPA."""
        if target not in (Pas.REALM, Pas.SECURE) or caller.value != target.name:
            return "EINVAL"
        if not 0 <= granule < self.granules:
            return "EINVAL"
        if self.gpi[granule] is not Gpi.GPI_NS:
            return "EPERM"
        self.dc_cipapa(granule)
        self._set_gpi(granule, _GPI_OF_PAS[target])
        self.tlbi_pa(granule)
        self.dc_cipapa(granule)
        return OK

    def gpt_undelegate_pas(self, granule: int, caller: World) -> str:
        """REALM or SECURE -> NS, requested by the world that owns it. Order: caller must be
        Realm or Secure (EINVAL), granule range (EINVAL), GPI must be the caller's (EPERM).
        Then GPI := NO_ACCESS (mutual distrust), TLBI, flush the old PAS alias to the PoPA,
        GPI := NS, TLBI [V TFA gpt_rme.c; domain 3.1]. Never REALM <-> SECURE directly."""
        if caller not in (World.REALM, World.SECURE):
            return "EINVAL"
        if not 0 <= granule < self.granules:
            return "EINVAL"
        if self.gpi[granule] is not _GPI_OF_PAS[Pas[caller.value]]:
            return "EPERM"
        self._set_gpi(granule, Gpi.GPI_NO_ACCESS)
        self.tlbi_pa(granule)
        self.dc_cipapa(granule)
        self._set_gpi(granule, Gpi.GPI_NS)
        self.tlbi_pa(granule)
        return OK
