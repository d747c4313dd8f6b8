"""Seeded bugs in models/cca.py, applied by monkeypatching one method (never committed).

In: a pytest MonkeyPatch. Out: `MUTANTS`, each a plausible implementation mistake from issue 8
and domain.md 3 / 5 / 6, with the number of conformance runs the test gives it.
Guarantees: `Mutant.apply` changes the class under test only for the duration of the test
(monkeypatch undoes it); the unpatched model is untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models.cca import CcaMachine, GranuleState, RealmState
from models.cca_gpt import Gpi, GranuleProtection, Pas, World
from tests.conformance.mutant import Mutant


def _without_zero(method: Callable[..., str]) -> Callable[..., str]:
    """`method` with the RMM's granule_memzero turned off while it runs."""

    def patched(self: CcaMachine, *args: Any) -> str:
        self._zero = lambda g: None  # type: ignore[method-assign]
        try:
            return method(self, *args)
        finally:
            del self._zero

    return patched


def delegate_no_zero(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(CcaMachine, "rmi_granule_delegate", _without_zero(CcaMachine.rmi_granule_delegate))


def realm_create_any_rd(mp: pytest.MonkeyPatch) -> None:
    """REALM_CREATE takes an RD granule the host never delegated (still NS: host-writable)."""
    original = CcaMachine.rmi_realm_create

    def patched(self: CcaMachine, rd: int, realm: int) -> str:
        if 0 <= rd < self.granules and self.gran[rd].state is GranuleState.UNDELEGATED:
            self.gran[rd].state = GranuleState.DELEGATED
        return original(self, rd, realm)

    mp.setattr(CcaMachine, "rmi_realm_create", patched)


def smmu_without_gpc(mp: pytest.MonkeyPatch) -> None:
    """A platform whose SMMU does no granule protection check (domain.md 5: "no SMMU that lacks
    GPC")."""
    original = GranuleProtection.gpc

    def patched(self: GranuleProtection, requester: str, pas: Pas, granule: int) -> str:
        return "ok" if requester == "SMMU" else original(self, requester, pas, granule)

    mp.setattr(GranuleProtection, "gpc", patched)


def activate_any_state(mp: pytest.MonkeyPatch) -> None:
    """REALM_ACTIVATE without the NEW check: a SYSTEM_OFF realm runs again."""

    def patched(self: CcaMachine, realm: int) -> str:
        rd = self._rd(realm)
        if rd is None:
            return "RMI_ERROR_INPUT"
        rd.state = RealmState.REALM_ACTIVE
        return "ok"

    mp.setattr(CcaMachine, "rmi_realm_activate", patched)


def gpt_no_tlbi(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(GranuleProtection, "tlbi_pa", lambda self, granule: None)


def gpt_no_clean(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(GranuleProtection, "dc_cipapa", lambda self, granule: None)


def delegate_from_realm(mp: pytest.MonkeyPatch) -> None:
    """EL3 lets the Secure world delegate a granule that is Realm (Realm -> Secure directly)."""
    original = GranuleProtection.gpt_delegate_pas

    def patched(self: GranuleProtection, granule: int, target: Pas, caller: World) -> str:
        if target is Pas.SECURE and caller is World.SECURE and self.gpi[granule] is Gpi.GPI_REALM:
            self.gpi[granule] = Gpi.GPI_NS  # the missing EPERM check: any non-Secure GPI is taken
            out = original(self, granule, target, caller)
            return out
        return original(self, granule, target, caller)

    mp.setattr(GranuleProtection, "gpt_delegate_pas", patched)


MUTANTS: tuple[Mutant, ...] = (
    Mutant("delegate_no_zero", "GRANULE_DELEGATE does not zero the granule (RMM 1.0 does)", delegate_no_zero),
    Mutant("gpt_no_tlbi", "EL3 changes GPIs without TLBI by PA", gpt_no_tlbi),
    Mutant("gpt_no_clean", "EL3 changes GPIs without DC CIPAPA to the PoPA", gpt_no_clean),
    Mutant("delegate_from_realm", "gpt_delegate_pas takes a Realm granule for Secure", delegate_from_realm),
    Mutant("realm_create_any_rd", "REALM_CREATE takes an undelegated RD granule", realm_create_any_rd),
    Mutant("smmu_without_gpc", "the SMMU does no GPC", smmu_without_gpc),
    Mutant("activate_any_state", "REALM_ACTIVATE does not require NEW", activate_any_state),
)
