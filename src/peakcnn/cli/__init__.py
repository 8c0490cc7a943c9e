"""The ``peakcnn`` command line: one module per pipeline stage, each a thin layer over the library.

Every module listed in :data:`COMMANDS` exposes ``register(subparsers)``, which adds its sub-command and
sets ``func`` to a ``run(args) -> int``. Heavy imports (torch, h5py, matplotlib) happen inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading

from peakcnn import __version__
from peakcnn.errors import TERMINATED, InputError, PeakcnnError, interrupt_status, on_sigterm

#: Sub-command modules, in the order they appear in ``peakcnn --help``.
COMMANDS = ("prepare", "train", "ensemble", "evaluate", "apply", "interpret", "demo")


QUIET_HELP = "only warnings and errors, no progress bars (before or after the command name)"


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``peakcnn: error: ...``, like every other error of the
    command line (argparse's own prints the usage text first); sub-command parsers are of this class too."""

    def error(self, message: str):
        self.exit(2, f"peakcnn: error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="peakcnn",
        description="Learn the regulatory code of a genome from its peaks (Basset-style CNNs).",
    )
    parser.add_argument("--version", action="version", version=f"peakcnn {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"peakcnn.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"peakcnn.cli.{name}":
                continue
            raise
        module.register(sub)
    for command in sub.choices.values():  # `peakcnn predict ... -q` as well as `peakcnn -q predict ...`
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP)
    return parser


#: Arguments that name files or folders, by ``dest``.
_PATH_ARGS = ("genome", "peaks", "out", "chrom_alias", "exclude", "dataset", "init", "runs", "run", "bed", "fasta",
              "vcf", "peaks_out", "motif_db", "track")  # fmt: skip


def _check_no_empty_paths(args: argparse.Namespace) -> None:
    """An empty file or folder name (an unset shell variable, say) is refused: as a path it means the current
    folder, into which ``train --out ""`` wrote a run."""
    for dest in _PATH_ARGS:
        value = getattr(args, dest, None)
        if value == "" or (isinstance(value, list) and "" in value):
            what = {"run": "RUN", "runs": "RUN", "dataset": "DATASET"}.get(dest, "--" + dest.replace("_", "-"))
            raise InputError(f"{what} '': an empty name; give a file or folder name (an unset shell variable?)")


def _allocation_failed(e: RuntimeError) -> bool:
    """torch's way of running out of memory: ``OutOfMemoryError`` on a GPU, a ``RuntimeError`` from the CPU
    allocator."""
    text = str(e)
    return type(e).__name__ == "OutOfMemoryError" or "can't allocate memory" in text or "out of memory" in text


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 bad input, 1 a failed read or write such
    as a full disk, 130 interrupted by Ctrl-C, 143 by SIGTERM, 141 when the reader of stdout went away)."""
    parser = build_parser()
    if argv is not None:  # paths and numbers given from Python, as a shell would pass them
        argv = [os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in argv]
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help or --version (0), or a usage error (2), already printed
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # Other libraries keep to warnings: torch, for one, logs cache statistics at INFO when it exits.
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("peakcnn").setLevel(logging.WARNING if args.quiet else logging.INFO)
    logging.captureWarnings(True)
    TERMINATED.clear()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if main_thread else None
    try:
        _check_no_empty_paths(args)
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # here, where a reader gone away is caught, not as Python exits
        return status
    except PeakcnnError as e:
        print(f"peakcnn: error: {e}", file=sys.stderr)
        return e.exit_status
    except MemoryError as e:
        why = str(e) or "allocation failed"
        print(f"peakcnn: error: out of memory ({why}); ask for less or use a machine with more", file=sys.stderr)
        return 1
    except RuntimeError as e:
        if not _allocation_failed(e):
            raise
        why = str(e).splitlines()[0] if str(e) else "allocation failed"
        print(f"peakcnn: error: out of memory ({why}); ask for less or use a machine with more", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"peakcnn: {'terminated' if TERMINATED else 'interrupted'}", file=sys.stderr)
        return interrupt_status()
    except BrokenPipeError:
        # The reader of our output went away (e.g. `peakcnn ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as e:
        # Outputs are written under temporary names, so a failed write (full disk, lost mount) leaves none.
        from peakcnn.io.output import os_error_message

        print(f"peakcnn: error: {os_error_message(e)}", file=sys.stderr)
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def entry() -> None:
    try:
        status = main()
    except KeyboardInterrupt:  # Ctrl-C before main's own handler is in place (sub-commands still importing)
        print("peakcnn: interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)
