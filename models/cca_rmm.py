"""TF-RMM state for models.cca: granule descriptors, RTT entries, RECs and realm descriptors.

In: nothing (plain data types used by `models.cca.CcaMachine`).
Out: the enums in RMM 1.0 vocabulary (GranuleState, RealmState, Hipas, Ripas), the frozen `Rtte`
and `RipasRequest` (with `.record()` giving the plain-value view used by observe()), and the
mutable descriptors `Granule`, `Rec`, `Realm`; `RmmPanic` for conditions the RMM treats as fatal.
Guarantees: `Realm` starts in REALM_NEW with every IPA unassigned EMPTY, no level-3 tables, no
RECs, and its RIM initialised to SHA-256("REALM" || ipas as 8-byte LE).

Sources: domain.md 3.2 ([V RMM10 smc-rmi.h, lib/s2tt], [V RMM-HEAD granule_types.h]).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

__all__ = [
    "UNASSIGNED_EMPTY",
    "Granule",
    "GranuleState",
    "Hipas",
    "Realm",
    "RealmState",
    "Rec",
    "RipasRequest",
    "Ripas",
    "RmmPanic",
    "Rtte",
    "u64",
]


class RmmPanic(RuntimeError):
    """The RMM hit a condition it treats as fatal (an EL3 call failed or its own access got a
    GPF). Only reachable with a fault-injection flag set."""


class GranuleState(enum.Enum):
    """RMM granule states; UNDELEGATED is the spec's name for NS [V domain 3.2]."""

    UNDELEGATED = 0
    DELEGATED = 1
    RD = 2
    REC = 3
    REC_AUX = 4
    DATA = 5
    RTT = 6


class RealmState(enum.Enum):
    REALM_NEW = 0
    REALM_ACTIVE = 1
    REALM_SYSTEM_OFF = 2


class Hipas(enum.Enum):
    UNASSIGNED = 0
    ASSIGNED = 1


class Ripas(enum.Enum):
    EMPTY = 0
    RAM = 1
    DESTROYED = 2


@dataclass(frozen=True)
class Rtte:
    """A level-3 RTT entry: host view, realm view, output granule (ASSIGNED only)."""

    hipas: Hipas
    ripas: Ripas
    pa: int | None = None

    def record(self) -> dict[str, object]:
        return {"hipas": self.hipas.name, "ripas": self.ripas.name, "pa": self.pa}


UNASSIGNED_EMPTY = Rtte(Hipas.UNASSIGNED, Ripas.EMPTY)


@dataclass(frozen=True)
class RipasRequest:
    """RSI_IPA_STATE_SET as recorded in the REC (the RMI_EXIT_RIPAS_CHANGE exit)."""

    ipa: int
    ripas: Ripas
    change_destroyed: bool
    done: bool = False

    def record(self) -> dict[str, object]:
        return {
            "ipa": self.ipa,
            "ripas": self.ripas.name,
            "change_destroyed": self.change_destroyed,
            "done": self.done,
        }


class Granule:
    """RMM granule descriptor (lock not modelled: actions are atomic)."""

    def __init__(self) -> None:
        self.state = GranuleState.UNDELEGATED
        self.refcount = 0


class Rec:
    def __init__(self, granule: int, aux: tuple[int, ...]) -> None:
        self.granule = granule
        self.aux = aux
        self.request: RipasRequest | None = None


class Realm:
    """What the RD granule holds (plus the starting-level RTT, which this model keeps there)."""

    def __init__(self, rd: int, ipas: int, tables: int, recs: int) -> None:
        self.rd = rd
        self.state = RealmState.REALM_NEW
        self.rim = hashlib.sha256(b"REALM" + ipas.to_bytes(8, "little")).digest()
        self.tables: list[int | None] = [None] * tables
        self.rtte: list[Rtte] = [UNASSIGNED_EMPTY] * ipas
        self.recs: list[Rec | None] = [None] * recs

    def measure(self, *parts: bytes) -> None:
        self.rim = hashlib.sha256(self.rim + b"".join(parts)).digest()


def u64(x: int) -> bytes:
    return x.to_bytes(8, "little")
