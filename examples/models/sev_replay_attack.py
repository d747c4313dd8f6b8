"""Attacks on SEV-style memory encryption without an RMP (SEV / SEV-ES), played on PhysicalMemory.

Run: ``python examples/models/sev_replay_attack.py``.  The guest (ASID 1) keeps a balance in
page 0 and a copy elsewhere; the hypervisor can read and write DRAM (ciphertext) but has no key.
It shows (domain.md sections 4 and 5): (1) the hypervisor sees only ciphertext; (2) replaying old
ciphertext at the same address makes the guest read the old value (no freshness; SEVurity /
SEVerity); (3) ciphertext moved to another address decrypts to garbage (the tweak binds the
address); (4) the same plaintext at the same address gives the same ciphertext, an equality
oracle (CipherLeaks).  SNP's RMP stops (2)-(3) for software writes; ciphertext hiding stops (4).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.memory import PhysicalMemory  # noqa: E402

GUEST = 1


def main() -> list[str]:
    """Play the attacks; print and return the report lines."""
    lines: list[str] = []
    mem = PhysicalMemory(4, page_bytes=64, mode="sev-xex", seed=2024)
    mem.program_key(GUEST)

    # 1. the hypervisor reads guest memory: ciphertext only
    mem.write(GUEST, 0, 0, b"balance=0000100")
    seen = mem.read_ciphertext(0, 0, 16)
    lines.append(f"1. hypervisor reads page 0: {seen.hex()} (garbage, not the plaintext)")
    assert b"balance" not in seen

    # 2. replay: record the ciphertext, let the guest update, write the old ciphertext back
    old_ct = mem.read_ciphertext(0)
    mem.write(GUEST, 0, 0, b"balance=0000000")  # the guest spends everything
    mem.write_ciphertext(0, 0, old_ct)  # the hypervisor replays the old line
    now = mem.read(GUEST, 0, 0, 15)
    ok = now == b"balance=0000100"
    lines.append(f"2. replay of old ciphertext: guest now reads {now!r} -> replay succeeded: {ok}")

    # 3. move: the same ciphertext at another address decrypts to garbage
    mem.write_ciphertext(2, 0, old_ct)
    moved = mem.read(GUEST, 2, 0, 15)
    lines.append(f"3. ciphertext moved to page 2: guest reads {moved!r} -> garbled: {moved != now}")

    # 4. CipherLeaks: equal plaintext at the same address gives equal ciphertext
    mem.write_int(GUEST, 1, 0)
    ct_zero = mem.read_ciphertext(1, 0, 16)
    mem.write_int(GUEST, 1, 1)
    ct_one = mem.read_ciphertext(1, 0, 16)
    mem.write_int(GUEST, 1, 0)
    ct_again = mem.read_ciphertext(1, 0, 16)
    leak = ct_zero == ct_again and ct_zero != ct_one
    lines.append(
        "4. ciphertext equality: value 0 written twice at page 1 gives the same ciphertext, "
        f"value 1 a different one -> the hypervisor learns when the value returns to 0: {leak}"
    )
    for line in lines:
        print(line)
    return lines


if __name__ == "__main__":
    main()
