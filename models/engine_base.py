"""The engine base class and the argument and buffer helpers every memory-encryption engine shares.

What goes in: to :class:`Engine` subclasses, ``data`` as a uint8 array of shape ``(n, unit_bytes)``
(or any flat bytes-like of ``n * unit_bytes`` bytes) and ``addrs``, a uint64 array of shape ``(n,)``
with the physical address of the first byte of each unit (scattered, any order), and optionally
``out=``, a writeable C-contiguous uint8 array of ``n * unit_bytes`` bytes (it may be ``data``
itself).  To the helpers: the same arguments one at a time.

What comes out: :meth:`Engine.encrypt` / :meth:`Engine.decrypt` return a uint8 ``(n, unit_bytes)``
array, a new one or a view of ``out``.  :func:`as_units` gives the data as a C-contiguous
``(n, unit_bytes)`` uint8 array (no copy when possible), :func:`as_addrs` the addresses as a flat
uint64 array, :func:`as_out` the caller's buffer as an ``(n, unit_bytes)`` view, :func:`ecb` an
(encryptor, decryptor) pair of AES-ECB contexts, :class:`Scratch` grow-only reusable buffers.

What is guaranteed: every engine checks its arguments here, once, the same way: ``unit_bytes`` a
positive multiple of 16, one address per unit, each address a multiple of ``unit_bytes``, ``out``
of the right size, dtype and layout; a violation raises ``ValueError`` before any work.
Subclasses implement ``_run`` only.  The concrete engines are :class:`models.encryption.PlainEngine`,
:class:`models.encryption.SevXexEngine` and :class:`models.xts.XtsEngine`; this module imports
nothing from ``models``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "BLOCK",
    "SMALL_BYTES",
    "Engine",
    "Scratch",
    "as_addrs",
    "as_out",
    "as_units",
    "deliver",
    "ecb",
]

BLOCK = 16
SMALL_BYTES = 512  # at or below this a call takes the engines' pure-Python path


def as_units(data: Any, unit_bytes: int) -> np.ndarray:
    """Return ``data`` as a C-contiguous uint8 array of shape ``(n, unit_bytes)`` (no copy if possible)."""
    if isinstance(data, np.ndarray):
        arr = data if data.dtype == np.uint8 else data.view(np.uint8)
    else:
        arr = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    if arr.size % unit_bytes:
        raise ValueError(f"data length {arr.size} is not a multiple of the unit ({unit_bytes} bytes)")
    return np.ascontiguousarray(arr.reshape(-1, unit_bytes))


def as_addrs(addrs: Any, n: int) -> np.ndarray:
    a = np.asarray(addrs, dtype=np.uint64).reshape(-1)
    if a.shape[0] != n:
        raise ValueError(f"{a.shape[0]} addresses for {n} units")
    return a


def ecb(key: bytes) -> tuple[Any, Any]:
    """An (encryptor, decryptor) pair of AES-ECB contexts; ECB keeps no state between updates."""
    c = Cipher(algorithms.AES(key), modes.ECB())
    return c.encryptor(), c.decryptor()


class Scratch:
    """Grow-only scratch buffers, reused across calls so the hot path does not allocate."""

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, name: str, nbytes: int) -> np.ndarray:
        buf = self._bufs.get(name)
        if buf is None or buf.size < nbytes:
            self._bufs.pop(name, None)  # free the old one first: it must not count twice
            buf = np.empty(nbytes, dtype=np.uint8)
            self._bufs[name] = buf
        return buf[:nbytes]


class Engine:
    """Base class: one key, one data-unit size; encrypts/decrypts many units at many addresses."""

    name = "engine"

    def __init__(self, unit_bytes: int) -> None:
        if unit_bytes <= 0 or unit_bytes % BLOCK:
            raise ValueError(f"unit_bytes must be a positive multiple of {BLOCK}, got {unit_bytes}")
        self.unit_bytes = unit_bytes

    def _check(self, data: Any, addrs: Any) -> tuple[np.ndarray, np.ndarray]:
        units = as_units(data, self.unit_bytes)
        a = as_addrs(addrs, units.shape[0])
        ub = self.unit_bytes
        if ub & (ub - 1) == 0:  # a power of two: OR of all addresses, one pass, no temporary
            misaligned = a.size > 0 and int(np.bitwise_or.reduce(a)) & (ub - 1) != 0
        else:
            misaligned = bool(np.any(a % np.uint64(ub)))
        if misaligned:
            raise ValueError(f"addresses must be multiples of the unit ({self.unit_bytes} bytes)")
        return units, a

    def encrypt(self, data: Any, addrs: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Encrypt ``n`` units at physical addresses ``addrs``; returns uint8 ``(n, unit_bytes)``.

        ``out``: optional C-contiguous uint8 array of ``n * unit_bytes`` bytes (any shape) that
        receives the result (returned as an ``(n, unit_bytes)`` view of it); it may be ``data``
        itself (in place) but must not partly overlap it.
        """
        units, a = self._check(data, addrs)
        return self._run(units, a, encrypt=True, out=as_out(out, units.shape))

    def decrypt(self, data: Any, addrs: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Decrypt ``n`` units at physical addresses ``addrs``; returns uint8 ``(n, unit_bytes)``."""
        units, a = self._check(data, addrs)
        return self._run(units, a, encrypt=False, out=as_out(out, units.shape))

    def _run(
        self, units: np.ndarray, addrs: np.ndarray, *, encrypt: bool, out: np.ndarray | None = None
    ) -> np.ndarray:
        raise NotImplementedError


def as_out(out: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """The caller's output buffer as a uint8 view of ``shape`` (checked), or None."""
    if out is None:
        return None
    if out.dtype != np.uint8 or not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be a writeable C-contiguous uint8 array")
    if out.size != shape[0] * shape[1]:
        raise ValueError(f"out has {out.size} bytes, the result has {shape[0] * shape[1]}")
    return out.reshape(shape)


def deliver(res: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``res``, or ``res`` copied into the caller's ``out``."""
    if out is None:
        return res
    np.copyto(out, res)
    return out
