"""``peakcnn ism``: in-silico saturation mutagenesis of a genome region or of FASTA sequences."""

from __future__ import annotations

import logging
import re

from peakcnn.runconfig import add_device_option

log = logging.getLogger(__name__)

ISM_DESCRIPTION = """Score every single-base substitution of a sequence (Basset's saturation mutagenesis)
as the change in logit per task. --region chr:start-end (1-based, inclusive) mutates the bases of the region
inside the model window centred on the region's midpoint; a region longer than the window is cut to the
window. --fasta mutates each record's bases, after N-padding/centre-cropping it to the window as 'predict'
does. For each sequence writes PREFIX.npy (float32, shape (tasks, 4, L): delta logit, rows A C G T, 0 at the
reference base), PREFIX.tsv (one row per position and task) and PREFIX.png (logo of the reference bases'
importance = minus the mean effect of their substitutions, over a heatmap of all effects). With several
FASTA records the files are PREFIX.I_NAME.*, I being the record's number (1, 2, ...) and NAME its name
with characters unsafe in file names replaced. Effects are of the forward strand unless --rc, which scores
every sequence as the mean probability of its two strands, as 'variants' does; the figure's title and the
log line say which."""

_REGION = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)$")


def register(sub) -> None:
    p = sub.add_parser(
        "ism", help="in-silico saturation mutagenesis (array, table and figure)", description=ISM_DESCRIPTION
    )
    p.add_argument("run", metavar="RUN", help="run folder written by 'peakcnn train' or 'peakcnn ensemble'")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--region", metavar="CHR:START-END", help="genome region, 1-based inclusive (needs --genome)")
    src.add_argument("--fasta", metavar="SEQS", help="FASTA of sequences")
    p.add_argument("--genome", metavar="FASTA", help="genome FASTA for --region")
    p.add_argument("--chrom-alias", metavar="TSV", help="chromAlias TSV of equivalent chromosome names")
    p.add_argument("--out", required=True, metavar="PREFIX", help="output prefix (PREFIX.npy/.tsv/.png)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG (an older PREFIX.png is removed)")
    p.add_argument(
        "--rc", action="store_true", help="average both strands, as 'variants' does (default: the forward strand)"
    )
    add_device_option(p)
    p.set_defaults(func=run_ism)


def parse_region(text: str) -> tuple[str, int, int]:
    """``chr:start-end`` (1-based inclusive, commas allowed) -> ``(chrom, start0, end)`` half-open."""
    from peakcnn.errors import InputError

    m = _REGION.match(text.strip())
    if not m:
        raise InputError(f"--region {text!r}: expected CHROM:START-END, e.g. chr1:1001-1200 (1-based, inclusive)")
    start, end = int(m["start"].replace(",", "")), int(m["end"].replace(",", ""))
    if start < 1 or end < start:
        raise InputError(f"--region {text!r}: need 1 <= START <= END")
    return m["chrom"], start - 1, end


def _region_inputs(args, window: int, meta: dict):
    """One ``(label, codes (W,), mutate start, mutate end, first coordinate)`` for --region."""
    from peakcnn.apply import check_genome
    from peakcnn.errors import InputError
    from peakcnn.io.fasta import Genome, ambiguity_note, describe_genome_names

    if not args.genome:
        raise InputError("ism --region needs --genome FASTA")
    chrom, start, end = parse_region(args.region)
    genome = Genome(args.genome, alias_file=args.chrom_alias)
    check_genome(meta, genome)
    name = genome.resolve(chrom)
    if name is None:
        raise InputError(
            f"--region {args.region}: {chrom} is not in genome {genome.path.name} ({describe_genome_names(genome)})"
            f"{ambiguity_note([chrom], genome)}"
        )
    if end > genome.lengths[name]:
        raise InputError(f"--region {args.region}: runs past the end of {name} ({genome.lengths[name]} bp)")
    w0 = (start + end) // 2 - window // 2
    lo, hi = max(start, w0), min(end, w0 + window)
    if (lo, hi) != (start, end):
        log.warning(
            "warning: region is %d bp, longer than the %d bp window; mutating %s:%d-%d",
            end - start,
            window,
            name,
            lo + 1,
            hi,
        )
    return [("", genome.fetch(name, w0, w0 + window), lo - w0, hi - w0, lo + 1)]


def _fasta_inputs(args, window: int):
    """Per record ``(name, codes (W,), mutate start, mutate end, first coordinate)`` for --fasta."""
    import numpy as np

    from peakcnn.apply import warn_fitted
    from peakcnn.cli.apply import note_unused_genome
    from peakcnn.io.seqs import fit_to_window, read_sequences

    note_unused_genome(args)
    out, lengths = [], []
    for name, codes in read_sequences(args.fasta):
        fitted, offset = fit_to_window(codes, window)
        lo, hi = max(offset, 0), min(offset + len(codes), window)
        out.append((name, fitted, lo, hi, lo - offset + 1))
        lengths.append(len(codes))
    warn_fitted(args.fasta, np.array(lengths), window)
    return out


def _check_prefix(prefix: str) -> None:
    """Fail in one line when ``--out`` names a folder rather than a prefix of file names."""
    from pathlib import Path

    from peakcnn.errors import InputError
    from peakcnn.io.output import names_folder

    try:
        is_dir = Path(prefix).is_dir()
    except OSError:  # a name too long: the output check says so
        is_dir = False
    if names_folder(prefix) or is_dir:
        inside = Path(prefix) / "out"
        raise InputError(
            f"--out {prefix}: is a folder, not a prefix of file names; give a prefix such as {inside} "
            f"(writes {inside}.npy/.tsv/.png)"
        )


def _check_outputs(args, prefixes: list[str]) -> None:
    """Fail in one line, before anything is written, when an output file cannot be written or is an input."""
    from peakcnn.cli.apply import input_files
    from peakcnn.io.output import check_distinct_files, check_output

    outputs = [("--out", prefix + ext) for prefix in prefixes for ext in (".npy", ".tsv", ".png")]
    for _, path in outputs:
        if not (args.no_plot and path.endswith(".png")):
            check_output(path)
    check_distinct_files(outputs, input_files(args))  # with --no-plot, an older PREFIX.png is removed


def run_ism(args) -> int:
    from peakcnn.checkpoint import load_model
    from peakcnn.cli.apply import show_progress
    from peakcnn.interpret.ism import ism, n_mutants
    from peakcnn.io.output import check_output
    from peakcnn.io.tracks import safe_name
    from peakcnn.progress import progress_bar
    from peakcnn.sequence import codes_to_onehot

    _check_prefix(args.out)
    check_output(args.out + ".npy")  # the folder, before the model loads; every file is checked below
    model, meta = load_model(args.run)
    tasks, window = list(meta["tasks"]), int(meta["window"])
    items = _region_inputs(args, window, meta) if args.region else _fasta_inputs(args, window)
    prefixes = (
        [args.out] if len(items) == 1 else [f"{args.out}.{i + 1}_{safe_name(n)}" for i, (n, *_) in enumerate(items)]
    )
    _check_outputs(args, prefixes)
    onehot = [codes_to_onehot(codes) for _, codes, *_ in items]
    total = sum(n_mutants(x, lo, hi) for x, (_, _, lo, hi, _) in zip(onehot, items, strict=True))
    strands = "both strands averaged" if args.rc else "forward strand"
    with progress_bar(show_progress(args), total, "mutant", "ism") as bar:
        for prefix, x, (name, _, lo, hi, first) in zip(prefixes, onehot, items, strict=True):
            delta = ism(model, x[None], lo, hi, device=args.device, progress=bar.update, rc=args.rc)[0]
            title = f"{args.region or name} ({strands})"
            _write(prefix, delta, x[:, lo:hi], tasks, first, title, not args.no_plot)
            log.info(
                "ism: %s (%s): %d positions x %d tasks -> %s.npy/.tsv%s",
                name or args.region,
                strands,
                hi - lo,
                len(tasks),
                prefix,
                "" if args.no_plot else "/.png",
            )
    return 0


def _write(prefix: str, delta, x, tasks: list[str], first: int, title: str, plot: bool) -> None:
    """Write ``prefix.npy``, ``prefix.tsv`` and (optionally) ``prefix.png`` as a set: each is written
    under a temporary name, and the three are renamed into place one after the other only once all are
    complete, so a failure or an interruption while they are written leaves the previous set as it was."""
    import contextlib

    import numpy as np

    from peakcnn.interpret.plot_ism import plot_ism
    from peakcnn.io.output import atomic_output, format_float, write_table
    from peakcnn.sequence import codes_to_str, onehot_to_codes

    ref = codes_to_str(onehot_to_codes(x))
    rows = (
        [first + j, ref[j], t] + [format_float(v) for v in delta[k, :, j]]
        for k, t in enumerate(tasks)
        for j in range(delta.shape[-1])
    )
    with contextlib.ExitStack() as renames:  # each block renames its file when the stack closes
        np.save(renames.enter_context(atomic_output(prefix + ".npy")), delta.astype(np.float32))
        write_table(
            renames.enter_context(atomic_output(prefix + ".tsv")), ["position", "ref", "task", "A", "C", "G", "T"], rows
        )
        if plot:
            plot_ism(
                delta, x, tasks, renames.enter_context(atomic_output(prefix + ".png")), title=title, first_pos=first
            )
    if not plot:
        _remove_older_figure(prefix + ".png")


def _remove_older_figure(path: str) -> None:
    """Remove a figure an earlier run wrote under the same prefix, which would not show the new effects."""
    from pathlib import Path

    from peakcnn.errors import InputError

    figure = Path(path)
    if not (figure.is_file() or figure.is_symlink()):
        return
    try:
        figure.unlink()
    except OSError as e:
        raise InputError(
            f"{path}: an older figure that does not show these effects cannot be removed: "
            f"{e.strerror}; remove it, or run without --no-plot"
        ) from None
    log.info("ism: removed %s, an older figure that does not show these effects", path)
