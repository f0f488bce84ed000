#!/usr/bin/env bash
# The main job: set up the environment, say what will run and for how long, then rebuild
# everything with `dvc repro` (extra arguments go to dvc repro). Data come from
# $GAN_DATA_MIRROR when set, else the official URLs. --pull first fetches whatever the DVC
# remote holds (docs/experiments.md, Share results), so only what is missing there is rebuilt.
source "$(dirname "$0")/setup.sh"
if [ "${1:-}" = "--pull" ]; then
    shift
    dvc pull --allow-missing
fi
python -m pipeline plan
echo "Starting dvc repro (Ctrl-C stops it; run this again to resume where each seed stopped)."
dvc repro "$@"
