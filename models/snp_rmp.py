"""SEV-SNP Reverse Map Table (RMP) data: entries, permission bits, page sizes, page states.

In: nothing (plain data types used by `models.snp.SnpMachine`).
Out: `Perm` (per-VMPL permission bits), `PageSize`, `PageState`, the frozen `RmpEntry`.
Guarantees: `RmpEntry` is immutable; `RmpEntry.record()` is the plain-value view used by
`SnpMachine.observe()` (size as "S4K"/"S2M", perms as vmpl -> frozenset of bit names).

Sources: domain.md section 1.1 / 1.2 (`[V L/virt-sev struct rmpentry_raw]`, `[V SVSM utils.rs RMPFlags]`,
`[V VSM entry_s.rs]`).
"""

from __future__ import annotations

import enum
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


def perm_names(p: Perm) -> frozenset[str]:
    """The set of bit names in `p`, e.g. frozenset({"Read", "Write"})."""
    return frozenset(m.name for m in Perm if m in p and m.name is not None)


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
    perms: tuple[Perm, Perm, Perm, Perm] = (PERM_NONE, PERM_NONE, PERM_NONE, PERM_NONE)

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
