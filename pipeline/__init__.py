"""Reproduction of Generative Adversarial Nets (Goodfellow et al., 2014)."""

import os

# Large CPU tensors on transparent huge pages (PyTorch's c10 allocator reads this once, at its
# first allocation). The 8000-unit nets allocate hundreds of MB of fresh gradients and bf16
# casts every step; on 4 KB pages the page faults alone cost a third of a bf16 step (README,
# Speed). Changes where memory comes from, never what is computed.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
