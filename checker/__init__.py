"""tee-check: model checking and model-based testing of TEE state machines."""

__version__ = "0.1.0"
