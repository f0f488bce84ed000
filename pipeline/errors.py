"""The one exception type the CLI turns into a clear message and a non-zero exit."""


class PipelineError(Exception):
    """Bad input: the message names the file, key or value and what was expected."""
