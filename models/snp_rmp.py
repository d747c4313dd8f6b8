"""SEV-SNP data: RMP entries, permission bits, page sizes, page and guest states, swap records.

In: nothing (plain data types used by `models.snp.SnpMachine`).
Out: `Perm` (per-VMPL permission bits) and `as_perm` (an RMPADJUST permission argument given as
bits or as a set of bit names), `PageSize`, `PageState`, `GuestState`, the frozen `RmpEntry` and
`SwapRecord`.
Guarantees: `RmpEntry` and `SwapRecord` are immutable; `RmpEntry.record()` is the plain-value
view used by `SnpMachine.observe()` (size as "S4K"/"S2M", perms as vmpl -> frozenset of bit
names, the names spec/snp.tee gives its `Perm` members).

Sources: domain.md section 1.1 / 1.2 (`[V L/virt-sev struct rmpentry_raw]`, `[V SVSM utils.rs RMPFlags]`,
`[V VSM entry_s.rs]`, `[V L/psp]` for the firmware guest states).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

VMPLS = 4  # VMPL0 (most privileged) .. VMPL3 [V VSM; domain 1.5]


class Perm(enum.IntFlag):
    """Per-VMPL permission mask bits. RMPADJUST carries them in rdx bits 8..11; stored here
    shifted down to bits 0..3 [V SVSM utils.rs RMPFlags]. Names are the ones observe() reports."""

    Read = 1
    Write = 2
    ExecUser = 4
    ExecSuper = 8


PERM_NONE = Perm(0)
PERM_ALL = Perm.Read | Perm.Write | Perm.ExecUser | Perm.ExecSuper
Perms = tuple[Perm, Perm, Perm, Perm]


def perm_names(p: Perm) -> frozenset[str]:
    """The set of bit names in `p`, e.g. frozenset({"Read", "Write"})."""
    return frozenset(m.name for m in Perm if m in p and m.name is not None)


def as_perm(perms: Perm | int | Iterable[str]) -> Perm | None:
    """An RMPADJUST permission argument as bits: a Perm, an int 0..15, or bit names
    ({"Read", "Write"}). None when it is malformed (bits above 3, an unknown name)."""
    if isinstance(perms, int):  # Perm is an int too
        return Perm(perms) if 0 <= perms <= int(PERM_ALL) else None
    out = PERM_NONE
    for name in perms:
        if name not in Perm.__members__:
            return None
        out |= Perm[name]
    return out


class PageSize(enum.Enum):
    """RMP / NPT page size. The raw RMP bit is 0 = 4K, 1 = 2M [V L/virt-sev]."""

    S4K = 0
    S2M = 1


class PageState(enum.Enum):
    """The eight page states of the SNP whitepaper, Table 3 (domain.md 1.2)."""

    HYPERVISOR = "HYPERVISOR"
    FIRMWARE = "FIRMWARE"
    PRE_GUEST = "PRE_GUEST"
    PRE_SWAP = "PRE_SWAP"
    GUEST_INVALID = "GUEST_INVALID"
    GUEST_VALID = "GUEST_VALID"
    METADATA = "METADATA"
    CONTEXT = "CONTEXT"


class GuestState(enum.Enum):
    """The AMD-SP's state of a guest: LAUNCH from LAUNCH_START (here: from the start) until
    LAUNCH_FINISH, then RUNNING; only a running guest has vCPUs that execute [V L/psp]."""

    LAUNCH = "LAUNCH"
    RUNNING = "RUNNING"


@dataclass(frozen=True)
class RmpEntry:
    """One RMP entry (one per 4K SPA page). For a 2M entry every 4K page of the region holds a
    copy of the head's fields with `gpa = head.gpa + i` (the RMP check of any 4K page in a 2M
    page then reads its own entry; hardware reads the 2M-aligned entry, which is equivalent)."""

    assigned: bool = False
    asid: int = 0
    gpa: int = 0  # guest page number (GPA >> 12 in hardware)
    size: PageSize = PageSize.S4K
    validated: bool = False
    immutable: bool = False
    vmsa: bool = False
    perms: Perms = (PERM_NONE, PERM_NONE, PERM_NONE, PERM_NONE)

    def with_perm(self, vmpl: int, perm: Perm) -> RmpEntry:
        """A copy with perms[vmpl] := perm."""
        ps = list(self.perms)
        ps[vmpl] = perm
        return RmpEntry(
            self.assigned, self.asid, self.gpa, self.size, self.validated, self.immutable,
            self.vmsa, (ps[0], ps[1], ps[2], ps[3]),
        )

    def record(self) -> dict[str, object]:
        """Plain-value view: fields -> bool/int/str, perms -> {vmpl: frozenset(names)}."""
        return {
            "assigned": self.assigned,
            "asid": self.asid,
            "gpa": self.gpa,
            "size": self.size.name,
            "validated": self.validated,
            "immutable": self.immutable,
            "vmsa": self.vmsa,
            "perms": {v: perm_names(p) for v, p in enumerate(self.perms)},
        }


@dataclass(frozen=True)
class SwapRecord:
    """A metadata entry of a swapped-out guest page: saved RMP state plus the page contents
    sealed under the firmware transport key (AES-GCM, aad = asid||gpa) [R FW ABI]."""

    asid: int
    gpa: int
    validated: bool
    vmsa: bool
    perms: Perms
    nonce: bytes
    sealed: bytes
    spa: int  # the page it was swapped out of (kept so that observe() can decode `sealed`)
