"""Commands beside the pipeline that produce none of its outputs: `plan`, `compare`,
`offline-plots`, `relock`."""
