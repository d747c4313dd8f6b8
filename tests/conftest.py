"""Shared pytest configuration: hypothesis profiles chosen by HYPOTHESIS_PROFILE.

ci       bounded and derandomized: the same examples every run, so a green main stays green
dev      the default for local runs: quick, random (the seed is printed on failure)
nightly  long fuzzing: many more examples per test (run with -m "slow or not slow")
Tests that set max_examples themselves scale it with `scaled(n)`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", deadline=None, max_examples=2000, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(PROFILE if PROFILE in ("ci", "dev", "nightly") else "dev")

_SCALE = {"ci": 1.0, "dev": 1.0, "nightly": 10.0}


def scaled(n: int) -> int:
    """An example budget scaled by the profile (nightly runs 10x)."""
    return max(1, int(n * _SCALE.get(PROFILE, 1.0)))
