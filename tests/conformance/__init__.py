"""Conformance tests: the reference models in models/ against the specs in spec/ (hypothesis)."""
