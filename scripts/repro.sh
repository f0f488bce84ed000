#!/usr/bin/env bash
# The main job: set up the environment, then rebuild everything with `dvc repro` (extra
# arguments go to dvc repro). Data come from $GAN_DATA_MIRROR when set, else the official URLs.
source "$(dirname "$0")/setup.sh"
dvc repro "$@"
