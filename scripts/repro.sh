#!/usr/bin/env bash
# The main job: set up the environment, then rebuild everything with `dvc repro` (extra
# arguments go to dvc repro). Data come from $GAN_DATA_MIRROR when set, else the official URLs.
# --pull first fetches whatever the DVC remote holds (README, Share results), so only what is
# missing there is rebuilt.
source "$(dirname "$0")/setup.sh"
if [ "${1:-}" = "--pull" ]; then
    shift
    dvc pull --allow-missing
fi
dvc repro "$@"
