"""User-facing errors.

Every problem caused by input a user handed in is raised as :class:`PeakcnnError`. The command line
prints its message as a single line (``peakcnn: error: ...``) and exits with status 2, without a traceback.
A message names the file, line or value at fault and says what to do about it.
"""


class PeakcnnError(Exception):
    """An error in user input, reported as one line without a traceback."""


class InputError(PeakcnnError):
    """A file or value supplied by the user is malformed or inconsistent."""
