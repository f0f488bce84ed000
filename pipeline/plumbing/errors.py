"""The exceptions the CLI turns into one line on stderr and a non-zero exit."""


class PipelineError(Exception):
    """Bad input: the message names the file, key or value and what was expected (exit 2)."""

    exit_code = 2


class Interrupted(PipelineError):
    """Stopped by Ctrl-C or SIGTERM at a point it can resume from (exit 130, as the shell's)."""

    exit_code = 130
