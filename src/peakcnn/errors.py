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


#: Set when SIGTERM (``kill``, a job scheduler's time limit) stopped the command. The signal is turned into
#: :class:`KeyboardInterrupt`, so it cleans up as Ctrl-C does (no half-written output, a resumable
#: training checkpoint); the command line then exits with 143 instead of 130.
TERMINATED: list[int] = []


def on_sigterm(signum, frame) -> None:
    """SIGTERM handler: note the signal and interrupt as Ctrl-C would."""
    TERMINATED.append(signum)
    raise KeyboardInterrupt


def interrupt_status() -> int:
    """Exit status of an interrupted command: 143 after SIGTERM, 130 after Ctrl-C."""
    return 143 if TERMINATED else 130
