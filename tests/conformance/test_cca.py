"""Conformance of models/cca.py (CcaMachine) to spec/cca.tee, and the mutation check.

In: the spec at its default sizes plus one auxiliary granule per REC (4 granules, 1 realm;
REC_AUX_COUNT=1) and a CcaMachine built with the same sizes and `keys="none"` (plaintext memory, so
`observe()["dram"]` is the value the spec tracks; the spec's properties do not rely on
encryption). Out: a hypothesis state machine (TestCca) comparing outcome codes and observe()
with the spec's non-ghost state after every step and checking the spec's properties; a test
that every action fires; a test that every seeded bug of tests/conformance/mutants_cca.py is
killed.
Guarantees: no timed assertions; the mutation check is derandomized and unshrunk.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from checker.testing.conformance import (
    ConformanceError,
    ConformanceMachine,
    assert_every_action_fires,
    conformance,
    run,
)
from models.cca import CcaMachine
from tests.conformance.mutants_cca import MUTANTS, Mutant

SPEC = "spec/cca.tee"
SIZES = {"GRANULES": 4, "REALMS": 1, "BLOCKS": 1, "IPAS_PER_RTT": 2, "RECS": 1, "REC_AUX_COUNT": 1}


class ConformingCca(CcaMachine):
    """CcaMachine at the conformance sizes. Its reads return (outcome, value); the harness
    compares the outcome, and the value is the state observe() already compares."""

    def __init__(self) -> None:
        super().__init__(granules=4, realms=1, ipas=2, ipas_per_rtt=2, recs_per_realm=1,
                         rec_aux_count=1, keys="none")


CcaConformance = conformance(SPEC, ConformingCca, overrides=SIZES, max_steps=60,
                             hypothesis_settings=settings(max_examples=40))
TestCca = CcaConformance.TestCase


def test_every_action_fires() -> None:
    cov = assert_every_action_fires(CcaConformance, runs=30)
    print(cov.report())


@pytest.fixture
def mutant_machine(request: pytest.FixtureRequest) -> Iterator[type[ConformanceMachine]]:
    """A fresh conformance class per mutant (its own coverage counters)."""
    yield conformance(SPEC, ConformingCca, overrides=SIZES, max_steps=60, failure_dir=None,
                      name=f"CcaMutant_{request.node.callspec.id}")


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_killed(mutant: Mutant, mutant_machine: type[ConformanceMachine], monkeypatch: pytest.MonkeyPatch) -> None:
    _killed(mutant, mutant_machine, monkeypatch)


def _killed(mutant: Mutant, mutant_machine: type[ConformanceMachine], monkeypatch: pytest.MonkeyPatch) -> None:
    mutant.apply(monkeypatch)
    with pytest.raises(ConformanceError) as info:
        run(mutant_machine, runs=mutant.runs, steps=60, derandomize=True, shrink=False)
    first = mutant_machine.coverage.first_failure
    print(f"{mutant.name}: killed after {first} steps, failing trace {info.value.steps} steps")
