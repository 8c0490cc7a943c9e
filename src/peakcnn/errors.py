"""User-facing errors.

Every problem caused by input a user handed in is raised as :class:`PeakcnnError`. The command line
prints its message as a single line (``peakcnn: error: ...``) and exits with status 2 (1 for an
:class:`OutputError`), without a traceback. A message names the file, line or value at fault and says what
to do about it.
"""


class PeakcnnError(Exception):
    """An error in user input, reported as one line without a traceback."""

    #: Exit status of the command line.
    exit_status = 2


class InputError(PeakcnnError):
    """A file or value supplied by the user is malformed or inconsistent."""


class OutputError(PeakcnnError):
    """An output could not be written (a full disk, a lost mount); nothing half-written is left."""

    exit_status = 1
