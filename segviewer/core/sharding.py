"""Split a batch over machines with no coordinator: shard K of N takes the inputs whose
stable hash falls in its bucket, so every job of a SLURM array / Kubernetes Indexed Job /
``xargs -P`` run computes its own share from the same command line, and the shards
together cover every input exactly once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    index: int  # 0-based, as SLURM_ARRAY_TASK_ID (from 0) and JOB_COMPLETION_INDEX give it
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` with 0 <= K < N."""
        try:
            index_text, count_text = text.split("/")
            shard = cls(int(index_text), int(count_text))
        except ValueError:
            raise ValueError(f"--shard takes K/N (e.g. 0/4), not {text!r}") from None
        if shard.count < 1 or not 0 <= shard.index < shard.count:
            raise ValueError(f"--shard {text}: need 0 <= K < N")
        return shard

    def owns(self, key: str) -> bool:
        """Whether the input named ``key`` (its path as given) belongs to this shard. A hash,
        not a position, so adding files elsewhere does not move the others."""
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index
