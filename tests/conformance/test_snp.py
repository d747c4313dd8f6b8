"""Conformance of models/snp.py (SnpMachine) to spec/snp.tee, and the mutation check.

In: the spec at its default sizes (2 regions of 2 pages, 2 gpas, 2 guests) and an SnpMachine
built with the same sizes (real SEV-XEX ciphertext in memory; observe() finds each page's key
by trial decryption). Out: a hypothesis state machine (TestSnp) comparing outcome codes and
observe() with the spec's non-ghost state after every step and checking the spec's properties;
a test that every action fires; a test that every seeded bug of tests/conformance/mutants_snp.py
is killed, with the steps it took printed.
Guarantees: no timed assertions; the mutation check is derandomized and unshrunk.

Guided steps. Besides the spec's own rules (one per action), the machine has a few rules that
play the flows a cooperating KVM and guest go through -- assign + map + LAUNCH_FINISH +
PVALIDATE, Pre-Guest + LAUNCH_UPDATE, a firmware page made a Metadata / Context page, swap out
and back in -- as several spec actions in a row, each one taken through the machine's rule for
that action (so compared with the model like any other step). Their arguments come from the
model's state, which equals the spec's observed state up to that step. Without them a uniform
random walk over 19 actions rarely reaches a validated page that is then swapped, smashed or
adjusted (measured: 8 of the 14 mutants survived 60 runs of 100 steps).

One documented abstraction (see ConformingSnp.page_swap_in): the spec has no garbage values.
Contents that were not under the owner's key (host plaintext the guest never overwrote), swapped
out and back in at another page, are garbage under every key on the hardware; the spec keeps
them as the same Cell, which the guest cannot read either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

from checker.testing.conformance import (
    ConformanceError,
    ConformanceMachine,
    assert_every_action_fires,
    conformance,
    run,
)
from checker.values import state_to_plain
from models.snp import GuestState, PageSize, SnpMachine
from models.snp_rmp import PERM_NONE, Perm, perm_names
from tests.conformance.mutants_snp import MUTANTS, Mutant

SPEC = "spec/snp.tee"
PAGES, GUESTS, GPAS, N2M = 4, 2, 2, 2
STEPS = 80
PERM_SETS = tuple(perm_names(Perm(bits)) for bits in range(16))
EXAMPLES = 50
MAX_ENUMERATE = 1024  # rmpadjust (4,096 argument tuples) is drawn freely, the rest enumerated


class ConformingSnp(SnpMachine):
    """SnpMachine at the spec's default sizes. The spec's read actions return only the outcome
    (the value read is what observe() compares; tests/models/test_snp.py checks the values)."""

    def __init__(self) -> None:
        super().__init__(pages=PAGES, guests=GUESTS, gpas=GPAS, pages_per_2m=N2M, seed=0,
                         page_bytes=64)

    def guest_read(self, guest: int, vmpl: int, gpa: int, private: bool) -> str:  # type: ignore[override]
        return super().guest_read(guest, vmpl, gpa, private)[0]

    def guest_fetch(self, guest: int, vmpl: int, gpa: int, user: bool) -> str:  # type: ignore[override]
        return super().guest_fetch(guest, vmpl, gpa, user)[0]

    def page_swap_in(self, page: int, metadata_page: int) -> str:
        """SWAP_IN as the spec abstracts it. In place, or for contents that were under the
        owner's key, the hardware's result is the spec's (re-encryption at the same address
        gives back the same ciphertext). At another page, contents that were under another key
        come out as garbage under every key; the spec, which has no garbage values, keeps the
        sealed Cell, so here the value is stored under the key it was under."""
        rec = self.metadata.get(metadata_page) if 0 <= metadata_page < self.pages else None
        was = self.sealed_cell(rec) if rec is not None else None
        outcome = super().page_swap_in(page, metadata_page)
        if outcome == "ok" and rec is not None and was is not None and page != rec.spa and was[0] != rec.asid:
            self.store(was[0], page, was[1])
        return outcome


class CooperativeHypervisor(ConformanceMachine):
    """Guided rules (see the module docstring): each takes a few spec actions in a row."""

    model: ConformingSnp

    def _take(self, action: str, *args: Any) -> None:
        """One spec step through the machine's own rule for `action` (compared with the model
        and checked like any step; skipped where the spec does not take it)."""
        getattr(self, action)(tuple(args))

    def _hv_page(self, pick: int, avoid: tuple[int, ...] = ()) -> int | None:
        """A Hypervisor page, freed (PAGE_RECLAIM, RMPUPDATE to unassigned 4K) if need be."""
        m = self.model
        free = [p for p in range(PAGES) if p not in avoid and m.page_state(p) == "HYPERVISOR"]
        if free:
            return free[pick % len(free)]
        others = [p for p in range(PAGES) if p not in avoid]
        spare = [p for p in others if not m.rmp[p].validated]  # keep validated pages if we can
        if not others:
            return None
        page = spare[pick % len(spare)] if spare else others[pick % len(others)]
        self._give_back(page)
        if m.rmp[page].immutable:
            self._take("page_reclaim", page)
        self._take("rmpupdate", page, 0, 0, False, False, False)
        return page if m.page_state(page) == "HYPERVISOR" else None

    def _give_back(self, page: int) -> None:
        """Before the HV takes a validated page back, its guest OS runs PVALIDATE(0) on it (a
        2M entry is PSMASHed and the page mapped 4K first, as Linux does), so that the gpa
        leaves the OS's record; a page taken without this leaves its gpa recorded for good."""
        m = self.model
        e = m.rmp[page]
        if not e.validated or not m.running(e.asid):
            return
        if e.size is PageSize.S2M:
            self._take("psmash", page - page % N2M)
        self._take("npt_map", e.asid, e.gpa, page, False)
        self._take("guest_os_unvalidate", e.asid, e.gpa)

    def _usable(self, guest: int) -> list[int]:
        """The gpas the guest can access privately (the RMP check passes, permissions aside)."""
        m = self.model
        return [a for a in range(GPAS) if m.rmp_check(guest, 0, a, PERM_NONE, True)[0] == "ok"]

    def _hv_region(self, pick: int) -> int | None:
        """The head of a 2M region of Hypervisor pages, freed if need be (reclaim, then
        RMPUPDATE to unassigned: per 4K entry, or the whole 2M entry)."""
        m = self.model
        heads = [h for h in range(0, PAGES, N2M) if all(m.page_state(q) == "HYPERVISOR" for q in m.region(h))]
        if heads:
            return heads[pick % len(heads)]
        regions = PAGES // N2M
        for i in range(regions):  # the picked region first, then the next ones
            head = (pick + i) % regions * N2M
            if any(m.metadata.get(q) is not None for q in m.region(head)):
                continue  # a Metadata page holding a swapped-out page cannot be reclaimed
            for q in m.region(head):
                self._give_back(q)
                if m.rmp[q].immutable:
                    self._take("page_reclaim", q)
            if m.rmp[head].size is PageSize.S2M:
                self._take("rmpupdate", head, 0, 0, False, True, False)
            for q in m.region(head):
                if m.rmp[q].assigned:
                    self._take("rmpupdate", q, 0, 0, False, False, False)
            if all(m.page_state(q) == "HYPERVISOR" for q in m.region(head)):
                return head
        return None

    def _running(self, guest: int) -> bool:
        """LAUNCH_FINISH if the guest is still launching; whether it runs."""
        if self.model.guest_state[guest] is GuestState.LAUNCH:
            self._take("launch_finish", guest)
        return self.model.running(guest)

    @rule(guest=st.integers(1, GUESTS), gpa=st.integers(0, GPAS - 1), pick=st.integers(0, 15),
          finish=st.booleans(), validate=st.sampled_from([True, True, False]), value=st.integers(0, 1))
    def guided_private_page(self, guest: int, gpa: int, pick: int, finish: bool, validate: bool,
                            value: int) -> None:
        """RMPUPDATE a Hypervisor page to (guest, gpa), NPT map, maybe LAUNCH_FINISH, PVALIDATE
        by the guest OS of a gpa it has not validated (of the other guest if this one has none
        left) and a private write (domain.md 1.3, shared -> private)."""
        m = self.model
        if set(range(GPAS)) <= m.guest_os_validated[guest]:
            guest = guest % GUESTS + 1
        fresh = [a for a in range(GPAS) if a not in m.guest_os_validated[guest]]
        gpa = fresh[pick % len(fresh)] if fresh else gpa
        page = self._hv_page(pick)
        if page is None:
            return
        self._take("rmpupdate", page, guest, gpa, True, False, False)
        self._take("npt_map", guest, gpa, page, False)
        if finish:
            self._running(guest)
        if validate and m.running(guest):
            self._take("guest_os_pvalidate", guest, gpa, False)
            self._take("guest_write", guest, 0, gpa, value, True)

    @rule(guest=st.integers(1, GUESTS), pick=st.integers(0, 15),
          sizes=st.sampled_from([(True, True), (True, True), (False, True), (False, True), (True, False)]),
          smash=st.sampled_from([True, True, True, False]), value=st.integers(0, 1))
    def guided_2m_page(self, guest: int, pick: int, sizes: tuple[bool, bool], smash: bool,
                       value: int) -> None:
        """A 2M guest page: a free 2M region, RMPUPDATE (2M, or 4K at its head), a 2M NPT leaf,
        LAUNCH_FINISH, PVALIDATE by the guest OS (2M, or 4K) after it gave back its 4K pages in
        that 2M gpa range, a private write; maybe PSMASH and a 4K NPT leaf after it."""
        m = self.model
        rmp2m, pv2m = sizes
        gpa = (pick % (GPAS // N2M)) * N2M
        span = set(m.region(gpa))
        clean = [g for g in m.guest_ids() if not m.guest_os_validated[g] & span]
        if not clean:
            for a in sorted(span & m.guest_os_validated[guest]):
                self._to_shared(guest, a, value)
            clean = [g for g in m.guest_ids() if not m.guest_os_validated[g] & span]
        guest = clean[pick % len(clean)] if clean else guest
        head = self._hv_region(pick)
        if head is None:
            return
        self._take("rmpupdate", head, guest, gpa, True, rmp2m, False)
        self._take("npt_map", guest, gpa, head, True)
        if not self._running(guest):
            return
        self._take("guest_os_pvalidate", guest, gpa, pv2m)
        self._take("guest_write", guest, 0, gpa + pick % N2M, value, True)
        if smash and rmp2m:
            self._take("psmash", head)
            self._take("npt_map", guest, gpa + 1, head + 1, False)
            self._take("guest_read", guest, 0, gpa + 1, True)

    @rule(guest=st.integers(1, GUESTS), gpa=st.integers(0, GPAS - 1), pick=st.integers(0, 15),
          value=st.integers(0, 1), page_type=st.sampled_from(["NORMAL", "VMSA", "ZERO", "SECRETS"]),
          finish=st.booleans(), huge=st.sampled_from([False, False, False, True]))
    def guided_launch_page(self, guest: int, gpa: int, pick: int, value: int, page_type: str,
                           finish: bool, huge: bool) -> None:
        """A Pre-Guest page (2M if `huge`: LAUNCH_UPDATE takes 4K pages only, and PSMASH refuses
        an immutable entry), LAUNCH_UPDATE, NPT map (KVM's sev_gmem_post_populate), maybe
        LAUNCH_FINISH. (For a guest that already runs, LAUNCH_UPDATE fails.)"""
        if huge:
            gpa -= gpa % N2M
        page = self._hv_region(pick) if huge else self._hv_page(pick)
        if page is None:
            return
        self._take("rmpupdate", page, guest, gpa, True, huge, True)
        self._take("launch_update", guest, page, gpa, value, page_type)
        if huge:
            self._take("psmash", page)
        self._take("npt_map", guest, gpa, page, huge)
        if finish:
            self._take("launch_finish", guest)

    @rule(pick=st.integers(0, 15), metadata=st.booleans(), huge=st.sampled_from([False, False, False, True]))
    def guided_firmware_page(self, pick: int, metadata: bool, huge: bool) -> None:
        """A Firmware page (a 2M one if `huge`, which the AMD-SP refuses to use), then
        PAGE_MD_INIT or GCTX_CREATE."""
        page = self._hv_region(pick) if huge else self._hv_page(pick)
        if page is not None:
            self._take("rmpupdate", page, 0, 0, True, huge, True)
            self._take("page_md_init" if metadata else "gctx_create", page)

    @rule(pick=st.integers(0, 63), guest=st.integers(1, GUESTS), gpa=st.integers(0, GPAS - 1),
          validated=st.sampled_from([True, True, True, False]),
          back=st.sampled_from(["stay", "in_place", "in_place", "elsewhere", "elsewhere",
                                "reclaim_md", "reclaim_page"]))
    def guided_swap(self, pick: int, guest: int, gpa: int, validated: bool, back: str) -> None:
        """SWAP_OUT of a 4K guest page (a validated one if `validated`) into an empty slot (both
        made if missing), then SWAP_IN in place or at a page the HV prepares as Pre-Guest for the
        same (asid, gpa), and an NPT map to it; or PAGE_RECLAIM of the metadata page or of the
        locked page."""
        m = self.model

        def guest_pages() -> list[int]:
            return [p for p in range(PAGES) if m.page_state(p) in ("GUEST_VALID", "GUEST_INVALID")
                    and m.rmp[p].size is PageSize.S4K and (m.rmp[p].validated or not validated)]

        for g in (guest, guest % GUESTS + 1):  # make a validated page if there is none
            if validated and not guest_pages():
                self.guided_private_page(g, gpa, pick, True, True, 1)
        pages = guest_pages()
        slots = [p for p, rec in m.metadata.items() if rec is None]
        if not slots:
            free = self._hv_page(pick, avoid=tuple(pages))
            if free is None:
                return
            self._take("rmpupdate", free, 0, 0, True, False, True)
            self._take("page_md_init", free)
            slots = [p for p, rec in m.metadata.items() if rec is None]
            if not slots:
                return
        md = slots[pick % len(slots)]
        pages = guest_pages()
        if not pages:
            free = self._hv_page(pick, avoid=(md,))
            if free is None:
                return
            self._take("rmpupdate", free, guest, gpa, True, False, False)
            pages = [free]
        page = pages[pick % len(pages)]
        asid, gpa = m.rmp[page].asid, m.rmp[page].gpa
        self._take("page_swap_out", page, md)
        if m.metadata.get(md) is None or back == "stay":
            return
        if back.startswith("reclaim"):
            self._take("page_reclaim", md if back == "reclaim_md" else page)
            return
        if back == "elsewhere":
            other = self._hv_page(pick, avoid=(md, page))
            if other is None:
                return
            self._take("rmpupdate", other, asid, gpa, True, False, True)
            page = other
        self._take("page_swap_in", page, md)
        self._take("npt_map", asid, gpa, page, False)

    @rule(pick=st.integers(0, 63), guest=st.integers(1, GUESTS), gpa=st.integers(0, GPAS - 1),
          moved=st.booleans())
    def guided_swap_round_trip(self, pick: int, guest: int, gpa: int, moved: bool) -> None:
        """guided_swap of a validated page that comes back, in place or moved (the round trip
        whose state the metadata entry must carry: validated, vmsa, permissions)."""
        self.guided_swap(pick, guest, gpa, True, "elsewhere" if moved else "in_place")

    @rule(guest=st.integers(1, GUESTS), pick=st.integers(0, 15), grant=st.sampled_from(PERM_SETS),
          regrant=st.sampled_from(PERM_SETS), vmsa=st.booleans(), vmpl=st.integers(0, 3),
          value=st.integers(0, 1))
    def guided_guest_uses(self, guest: int, pick: int, grant: frozenset[str], regrant: frozenset[str],
                          vmsa: bool, vmpl: int, value: int) -> None:
        """On a gpa the guest can use (made as guided_private_page does if there is none):
        VMPL0 grants VMPL1 `grant`, VMPL1 passes `regrant` on to VMPL2 and VMPL `vmpl` tries to
        set its own permissions (RMPADJUST), then a private write, read and fetch (user mode if
        `vmsa`) at `vmpl`."""
        m = self.model
        usable = self._usable(guest)
        if not usable:
            self.guided_private_page(guest, 0, pick, True, True, value)
            usable = self._usable(guest)
            if not usable:
                return
        gpa = usable[pick % len(usable)]
        tr = m.npt[guest][gpa]
        size2m = tr is not None and tr[1] is PageSize.S2M
        base = gpa - gpa % N2M if size2m else gpa
        self._take("rmpadjust", guest, 0, base, 1, grant, vmsa, size2m)
        self._take("rmpadjust", guest, 1, base, 2, regrant, False, size2m)
        self._take("rmpadjust", guest, vmpl, base, vmpl, regrant, False, size2m)  # its own
        self._take("guest_write", guest, vmpl, gpa, value, True)
        self._take("guest_read", guest, vmpl, gpa, True)
        self._take("guest_fetch", guest, vmpl, gpa, vmsa)

    def _to_shared(self, guest: int, gpa: int, value: int) -> None:
        """Private -> shared page-state change of gpa [V L/guest-sev __page_state_change]: the
        guest OS runs PVALIDATE(0) and forgets the gpa, the HV makes the page a Hypervisor
        page, and the guest writes and reads it shared (C=0)."""
        m = self.model
        leaf = m.npt[guest][gpa]
        self._take("guest_os_unvalidate", guest, gpa)
        if leaf is not None:
            self._take("rmpupdate", leaf[0], 0, 0, False, False, False)
        self._take("guest_write", guest, 0, gpa, value, False)
        self._take("guest_read", guest, 0, gpa, False)

    @rule(guest=st.integers(1, GUESTS), pick=st.integers(0, 15), value=st.integers(0, 1))
    def guided_to_shared(self, guest: int, pick: int, value: int) -> None:
        """A private 4K gpa the guest can use becomes shared (see _to_shared)."""
        m = self.model
        usable = [a for a in self._usable(guest) if m.rmp[m.npt[guest][a][0]].size is PageSize.S4K]  # type: ignore[index]
        if usable:
            self._to_shared(guest, usable[pick % len(usable)], value)

    @rule(pick=st.integers(0, 15), value=st.integers(0, 1))
    def guided_hv_probes(self, pick: int, value: int) -> None:
        """The HV writes every page of a 2M region, through a 4K and through a 2M host mapping,
        after assigning one 4K page of it to a guest if none is assigned, or freeing one if all
        are."""
        m = self.model
        region = list(m.region((pick % (PAGES // N2M)) * N2M))
        page = region[pick % N2M]
        if not any(m.rmp[q].assigned for q in region):
            self._take("rmpupdate", page, 1 + pick % GUESTS, 0, True, False, False)
        elif all(m.rmp[q].assigned for q in region):
            if m.rmp[page].immutable:
                self._take("page_reclaim", page)
            self._take("rmpupdate", region[0], 0, 0, False, m.rmp[page].size is PageSize.S2M, False)
            self._take("rmpupdate", page, 1 + pick % GUESTS, 0, True, False, False)
        for q in region:
            self._take("hv_write", q, value, False)
            self._take("hv_write", q, value, True)

    @rule(pick=st.integers(0, 15), other_guest=st.sampled_from([False, False, True]),
          vmpl=st.sampled_from([0, 0, 1]), private=st.booleans(), rmp=st.booleans())
    def guided_remap(self, pick: int, other_guest: bool, vmpl: int, private: bool, rmp: bool) -> None:
        """SEVered and its SNP variant: the HV maps a validated 4K page (made if there is none)
        at another gpa of its guest (or into the other guest), after re-assigning it there with
        RMPUPDATE if `rmp`, and the guest writes (C=1 or C=0) and fetches there."""
        m = self.model

        def valid_4k() -> list[int]:
            return [p for p in range(PAGES) if m.rmp[p].validated and m.rmp[p].size is PageSize.S4K]

        if not valid_4k():
            self.guided_private_page(1 + pick % GUESTS, pick % GPAS, pick, True, True, 0)
        valid = valid_4k()
        if not valid:
            return
        page = valid[pick % len(valid)]
        owner, at = m.rmp[page].asid, m.rmp[page].gpa
        guest = owner % GUESTS + 1 if other_guest else owner
        gpa = (at + 1 + pick // len(valid)) % GPAS
        if guest == owner and gpa == at:
            gpa = (gpa + 1) % GPAS
        if rmp:
            self._take("rmpupdate", page, guest, gpa, True, False, False)
        self._take("npt_map", guest, gpa, page, False)
        self._take("guest_write", guest, vmpl, gpa, 1, private)
        self._take("guest_fetch", guest, vmpl, gpa, False)


def machine(name: str | None = None, failure_dir: str | None = ".tee-check/failures") -> type[ConformanceMachine]:
    """The conformance machine for SnpMachine with the guided rules, `STEPS` steps per run."""
    base = conformance(SPEC, ConformingSnp, max_steps=STEPS, max_enumerate=MAX_ENUMERATE,
                       failure_dir=failure_dir, name=name,
                       hypothesis_settings=settings(max_examples=EXAMPLES))
    cls = cast(type[ConformanceMachine], type(base.__name__ + "Guided", (CooperativeHypervisor, base), {}))
    cls.TestCase.settings = base.TestCase.settings
    return cls


SnpConformance = machine()
TestSnp = SnpConformance.TestCase


def test_every_action_fires() -> None:
    cov = assert_every_action_fires(SnpConformance, runs=EXAMPLES)
    print(cov.report())


def _swap_run(steps: list[tuple[str, tuple[Any, ...]]]) -> tuple[object, object, object]:
    """Play `steps` (each must succeed) on the spec, the hardware model and the conforming
    subclass; return page 3's Cell in each."""
    interp, state = SnpConformance.interp, SnpConformance.interp.init()
    hardware = SnpMachine(pages=PAGES, guests=GUESTS, gpas=GPAS, pages_per_2m=N2M, page_bytes=64)
    conforming = ConformingSnp()
    for action, args in steps:
        r = interp.step(state, action, args)
        assert r is not None and r.outcome == "ok", (action, args)
        state = r.state
        assert getattr(hardware, action)(*args) == getattr(conforming, action)(*args) == "ok"
        assert conforming.observe()["slots"] == state_to_plain(SnpConformance.spec, state)["slots"]
    spec_mem = state_to_plain(SnpConformance.spec, state, include_ghost=False)["mem"][3]
    return spec_mem, conforming.observe()["mem"][3], hardware.observe()["mem"][3]  # type: ignore[index]


# Guest page `page` (guest 1, gpa 0) still holds the host's plaintext zeros when it is
# swapped out through Metadata page 1.
def _swap_out(page: int) -> list[tuple[str, tuple[Any, ...]]]:
    return [("rmpupdate", (page, 1, 0, True, False, False)), ("rmpupdate", (1, 0, 0, True, False, True)),
            ("page_md_init", (1,)), ("page_swap_out", (page, 1))]


def test_swap_in_place_of_a_page_not_under_its_owner_key() -> None:
    """The AMD-SP seals such a page decrypted with the owner's VEK (garbage) and SWAP_IN in
    place encrypts it again at the same address: the same ciphertext, the host's plaintext
    zeros. The spec (SwapRecord.key) says the same, and so does the unmodified hardware model."""
    spec_mem, conforming, hardware = _swap_run([*_swap_out(3), ("page_swap_in", (3, 1))])
    assert spec_mem == conforming == hardware == {"key": 0, "val": 0}


def test_swap_elsewhere_of_a_page_not_under_its_owner_key() -> None:
    """Pins the one abstraction (ConformingSnp.page_swap_in): swapped in at another page, the
    same contents are garbage under every key on the hardware; the spec keeps the sealed Cell
    (under key 0, which guest 1 cannot read either), and the conforming subclass follows it."""
    pre_guest = ("rmpupdate", (3, 1, 0, True, False, True))  # page 3: Pre-Guest for (1, gpa 0)
    spec_mem, conforming, hardware = _swap_run([*_swap_out(0), pre_guest, ("page_swap_in", (3, 1))])
    assert spec_mem == conforming == {"key": 0, "val": 0}
    assert hardware == {"key": None, "val": None}


@pytest.fixture
def mutant_machine(request: pytest.FixtureRequest) -> Iterator[type[ConformanceMachine]]:
    """A fresh conformance class per mutant (its own coverage counters)."""
    yield machine(name=f"SnpMutant_{request.node.callspec.id}", failure_dir=None)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_killed(mutant: Mutant, mutant_machine: type[ConformanceMachine],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    mutant.apply(monkeypatch)
    with pytest.raises(ConformanceError) as info:
        run(mutant_machine, runs=mutant.runs, steps=STEPS, derandomize=True, shrink=False)
    first = mutant_machine.coverage.first_failure
    print(f"{mutant.name}: killed after {first} steps, failing trace {info.value.steps} steps")
