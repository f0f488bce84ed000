#!/usr/bin/env bash
# The tests: set up the environment, lint, then pytest (extra arguments go to pytest).
source "$(dirname "$0")/setup.sh"
ruff check pipeline tests bench
pytest "$@"
