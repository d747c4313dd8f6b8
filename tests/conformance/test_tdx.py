"""Conformance of models/tdx.py (TdxMachine) to spec/tdx.tee, and the mutation check.

In: the spec with two private HKIDs, eight pages and two LPs (so that two TDs run side by side
and the VMM can try to give one TD's page to the other; the spec's defaults have one HKID, four
pages and one LP), and a TdxMachine built with the same sizes. Out: a hypothesis state machine
(TestTdx) comparing outcome codes and observe() with the spec's non-ghost state after every step
and checking the spec's invariants and transitions; a test that every action fires; a test that
every seeded bug of tests/conformance/mutants_tdx.py is killed, which prints the steps it took.
Each run starts with a prefix of `script` (the story of the spec's covers, with the VMM's
attacks of issue 7 tried on the way), then takes random steps: see `tdx_machine`.
Guarantees: no timed assertions; the mutation check is derandomized and unshrunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from checker.testing.conformance import (
    DEFAULT_FAILURE_DIR,
    ConformanceError,
    ConformanceMachine,
    assert_every_action_fires,
    conformance,
    run,
)
from models.tdx import TdxMachine
from models.tdx_defs import EPT_VIOLATION, OK
from tests.conformance.mutants_tdx import MUTANTS, Mutant

SPEC = "spec/tdx.tee"
SIZES = {"PAGES": 8, "GPAS": 2, "VCPUS": 1, "LPS": 2, "HKIDS": 2, "PACKAGES": 1, "L2S": 1, "TDCX": 1}
STEPS = 60
SCRIPT_STEPS = 40  # len(script(...))


class ConformingTdx(TdxMachine):
    """TdxMachine at the conformance sizes. The spec's reads return only the outcome (the value
    read is in the state observe() already compares), and the spec names the EPT-violation TD
    exit of an access as its own action, `td_ept_violation`."""

    def __init__(self) -> None:
        super().__init__(pages=SIZES["PAGES"], tds=1, gpas=SIZES["GPAS"], vcpus_per_td=SIZES["VCPUS"],
                         hkids=SIZES["HKIDS"], packages=SIZES["PACKAGES"], l2_vms=SIZES["L2S"],
                         tdcx_pages=SIZES["TDCX"], lps=SIZES["LPS"])

    def td_read(self, td: int, vcpu: int, gpa: int) -> str:  # type: ignore[override]
        return super().td_read(td, vcpu, gpa)[0]

    def l2_read(self, td: int, l2: int, gpa: int, vcpu: int = 0) -> str:  # type: ignore[override]
        return super().l2_read(td, l2, gpa, vcpu)[0]

    def vmm_read(self, page: int, keyid: int = 0) -> str:  # type: ignore[override]
        return super().vmm_read(page, keyid)[0]

    def td_ept_violation(self, td: int, vcpu: int, gpa: int) -> str:
        """The vCPU touches `gpa` and takes the EPT-violation exit: "ok" when it did."""
        out = super().td_read(td, vcpu, gpa)[0]
        return OK if out == EPT_VIOLATION else out


def script(pages: list[int], hkids: tuple[int, int]) -> list[tuple[str, tuple[object, ...]]]:
    """The story of the spec's covers, with the VMM's attacks of issue 7 tried on the way (the
    spec decides each step's outcome, so each attack must be refused with the module's code):
    TD A is built (a page ADDed at gpa 0) and runs, AUGs and ACCEPTs gpa 1, writes gpa 0 and
    grants its L2 VM an alias of it; TD B is built and runs; the VMM tries to AUG A's page into B;
    it takes gpa 0 from A: BLOCK, REMOVE before TRACK, TRACK, REMOVE while A still runs in the
    blocking epoch, TRACK again, A exits, REMOVE, A runs again; B is torn down, FREEID tried
    before CACHE.WB and its TDR reclaimed before its children. pages: A's TDR, TDCX, TDVPR, ADD
    and AUG pages, then B's TDR, TDCX and TDVPR."""
    a, acx, avp, add, aug, b, bcx, bvp = pages[:8]
    return [
        ("tdh_mng_create", (a, hkids[0])), ("tdh_mng_key_config", (a, 0)), ("tdh_mng_addcx", (a, acx)),
        ("tdh_mng_init", (a,)), ("tdh_vp_create", (a, 0, avp)), ("tdh_vp_init", (a, 0)),
        ("tdh_mem_page_add", (a, 0, add, 1)), ("tdh_mr_finalize", (a,)), ("tdh_vp_enter", (a, 0, 0)),
        ("tdh_mem_page_aug", (a, 1, aug)), ("tdg_mem_page_accept", (a, 0, 1)), ("td_write", (a, 0, 0, 0)),
        ("tdg_mem_page_attr_wr", (a, 0, 1, True, True, 0)),
        ("tdh_mng_create", (b, hkids[1])), ("tdh_mng_key_config", (b, 0)), ("tdh_mng_addcx", (b, bcx)),
        ("tdh_mng_init", (b,)), ("tdh_vp_create", (b, 0, bvp)), ("tdh_vp_init", (b, 0)),
        ("tdh_mr_finalize", (b,)), ("tdh_vp_enter", (b, 0, 1)),
        ("tdh_mem_page_aug", (b, 0, add)),                              # TDX_PAGE_METADATA_INCORRECT
        ("tdh_mem_range_block", (a, 0)),
        ("tdh_mem_page_remove", (a, 0)),                                # TDX_TLB_TRACKING_NOT_DONE
        ("tdh_mem_track", (a,)),
        ("tdh_mem_page_remove", (a, 0)),                                # TDX_TLB_TRACKING_NOT_DONE
        ("tdh_mem_track", (a,)),                                        # TDX_PREVIOUS_TLB_EPOCH_BUSY
        ("td_exit", (a, 0)), ("tdh_mem_page_remove", (a, 0)), ("tdh_vp_enter", (a, 0, 0)),
        ("tdg_vp_vmcall", (b, 0)), ("tdh_vp_flush", (b, 0)), ("tdh_mng_vpflushdone", (b,)),
        ("tdh_mng_key_freeid", (b,)),                                   # TDX_WBCACHE_NOT_COMPLETE
        ("tdh_phymem_cache_wb", (0,)), ("tdh_mng_key_freeid", (b,)),
        ("tdh_phymem_page_reclaim", (b,)),                              # TDX_TD_ASSOCIATED_PAGES_EXIST
        ("tdh_phymem_page_reclaim", (bvp,)), ("tdh_phymem_page_reclaim", (bcx,)),
        ("tdh_phymem_page_reclaim", (b,)),
    ]


def tdx_machine(name: str | None = None, failure_dir: str | Path | None = DEFAULT_FAILURE_DIR,
                examples: int = 100) -> type[ConformanceMachine]:
    """The conformance machine with one extra start: a run begins with the first `depth` steps
    of `script` (depth drawn by hypothesis, 0 included), taken through the machine's own action
    rules and so compared with the spec like any other step, then goes on with STEPS random
    steps. Without it a run draws each of the 32 actions (and then one of its outcomes)
    uniformly and rarely gets a TD to run: the TD-side actions, the removal protocol, RECLAIM
    and the L2 accesses would hardly ever complete within STEPS steps."""
    base = conformance(SPEC, ConformingTdx, overrides=SIZES, max_steps=STEPS, failure_dir=failure_dir,
                       name=name, hypothesis_settings=settings(max_examples=examples))

    class Built(base):  # type: ignore[valid-type, misc]
        @initialize(depth=st.integers(0, SCRIPT_STEPS), pages=st.permutations(range(SIZES["PAGES"])),
                    hkids=st.sampled_from(((1, 2), (2, 1))))
        def start(self, depth: int, pages: list[int], hkids: tuple[int, int]) -> None:
            for action, args in script(pages, hkids)[:depth]:
                getattr(self, action)(args)

    Built.__name__ = Built.__qualname__ = base.__name__
    Built.TestCase.settings = base.TestCase.settings
    return Built


TdxConformance = tdx_machine()
TestTdx = TdxConformance.TestCase


def test_every_action_fires() -> None:
    cov = assert_every_action_fires(TdxConformance, runs=80)
    print(cov.report())


@pytest.fixture
def mutant_machine(request: pytest.FixtureRequest) -> Iterator[type[ConformanceMachine]]:
    """A fresh conformance class per mutant (its own coverage counters)."""
    yield tdx_machine(f"TdxMutant_{request.node.callspec.id}", failure_dir=None)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_killed(mutant: Mutant, mutant_machine: type[ConformanceMachine],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    mutant.apply(monkeypatch)
    with pytest.raises(ConformanceError) as info:
        run(mutant_machine, runs=mutant.runs, steps=STEPS, derandomize=True, shrink=False)
    first = mutant_machine.coverage.first_failure
    print(f"{mutant.name}: killed after {first} steps, failing trace {info.value.steps} steps"
          f" ({info.value.mismatch.kind})")
