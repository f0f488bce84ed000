"""Research studies on the committed runs (`python -m studies.<name>`): each answers one question
that docs/results.md reports, and writes its evidence under metrics/studies/. Speed benchmarks
are in bench/. Importing pipeline first sets its allocator environment."""

import pipeline  # noqa: F401
