#!/usr/bin/env bash
# The tests: set up the environment, lint and format-check, then pytest (extra arguments go to
# pytest). --fast leaves out the tests marked slow (whole pipelines in scratch repositories).
source "$(dirname "$0")/setup.sh"
ruff check pipeline tests bench studies
ruff format --check pipeline tests bench studies
if [ "${1:-}" = "--fast" ]; then
    shift
    set -- -m "not slow" "$@"
fi
pytest "$@"
