"""Benchmarks (python -m bench). Importing pipeline first sets its allocator environment."""

import pipeline  # noqa: F401
