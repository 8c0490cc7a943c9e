"""``peakcnn ism``: in-silico saturation mutagenesis of a genome region or of FASTA sequences; ``peakcnn motifs``:
the motifs of the first-layer filters, matched to JASPAR; ``peakcnn attribute``: DeepLIFT/SHAP attributions of
BED regions or FASTA sequences."""

from __future__ import annotations

import contextlib
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
    _register_motifs(sub)
    _register_attribute(sub)


MOTIFS_DESCRIPTION = """Turn each first-layer filter of RUN's network into a motif, as Basset's filter analysis
does: the stretches of the data set's windows (default: the run's own data set, test split, at most 5,000
windows) whose activation of the filter exceeds mean + F * (max - mean) of its activations over those
windows (F: --threshold) are counted base by base.
Each motif is trimmed of uninformative flanks and matched with Tomtom (memelite) against the JASPAR CORE
motifs of --jaspar-group (the copy of JASPAR in the pyjaspar package; no network access), or against the
motifs of a MEME file (--motif-db). Each filter's auROC says how well its strongest activation in a window
tells peak windows from the others (below 0.5: it fires more in the others). --influence N adds Basset's
filter influence: the rise of the loss on N windows when the filter's output is replaced by its mean. The
summary, the logos and the report list filters with a motif by influence when it is measured, else by the
distance of their auROC from 0.5. Writes motifs.tsv and motifs.json (in filter order),
filters.meme (every filter with a site, for MEME-suite tools), logos.png and report.html to RUN/motifs (or
--out)."""


def _register_motifs(sub) -> None:
    from peakcnn.cli.prepare import number_argument, positive_int
    from peakcnn.interpret.motifs import MAX_WINDOWS, THRESHOLD

    p = sub.add_parser(
        "motifs", help="motifs of the first-layer filters, matched to JASPAR (Tomtom)", description=MOTIFS_DESCRIPTION
    )
    p.add_argument("run", metavar="RUN", help="run folder written by 'peakcnn train' (one network, not an ensemble)")
    p.add_argument("--dataset", metavar="DIR", help="data set whose windows are read (default: the run's own)")
    p.add_argument("--split", default="test", choices=["train", "valid", "test", "all"], help="default test")
    p.add_argument(
        "--max-windows",
        type=positive_int,
        default=MAX_WINDOWS,
        metavar="N",
        help=f"read at most N windows of the split, drawn at random with seed 0 (default {MAX_WINDOWS:,})",
    )
    p.add_argument(
        "--threshold",
        type=number_argument(float, "number", lambda v: 0 <= v < 1, "must lie in [0, 1)"),
        default=THRESHOLD,
        metavar="F",
        help=f"a site's activation exceeds mean + F * (max - mean) of the filter's, 0 <= F < 1 (default {THRESHOLD}, "
        "as Basset)",
    )
    db = p.add_mutually_exclusive_group()
    db.add_argument(
        "--jaspar-group",
        default="plants",
        metavar="GROUP",
        help="JASPAR CORE taxonomic group: plants (default), vertebrates, insects, nematodes, fungi, urochordates",
    )
    db.add_argument("--motif-db", metavar="MEME", help="match against the motifs of this MEME file instead of JASPAR")
    p.add_argument(
        "--jaspar-release", metavar="NAME", help="JASPAR release, e.g. JASPAR2024 (default: pyjaspar's newest)"
    )
    p.add_argument(
        "--max-q",
        type=number_argument(float, "number", lambda v: 0 < v <= 1, "must lie in (0, 1]"),
        default=0.05,
        metavar="Q",
        help="a database motif matches a filter at Tomtom q-value <= Q (default 0.05)",
    )
    p.add_argument(
        "--influence",
        type=number_argument(int, "whole number", lambda v: v >= 0, "must be 0 or more"),
        default=0,
        metavar="N",
        help="Basset's filter influence: score N of the windows (a random subset) again with each filter replaced by "
        "its mean activation, and rank filters by the rise of the loss (N x filters forward passes; default 0: "
        "skipped)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="output folder (default RUN/motifs); an earlier motifs folder there is replaced"
    )
    add_device_option(p)
    p.set_defaults(func=run_motifs)


def run_motifs(args) -> int:
    from peakcnn.cli.apply import show_progress
    from peakcnn.interpret.motifs import find_motifs, matched_filters, rank

    doc, folder = find_motifs(
        args.run,
        dataset=args.dataset,
        split=args.split,
        out=args.out,
        threshold=args.threshold,
        max_windows=args.max_windows,
        jaspar_group=args.jaspar_group,
        jaspar_release=args.jaspar_release,
        motif_db=args.motif_db,
        max_q=args.max_q,
        influence=args.influence,
        device=args.device,
        progress=show_progress(args),
    )
    rows = doc["filters"]
    matched = matched_filters(doc)
    print(
        f"motifs: {len(rows)} filters read in {doc['windows']:,} windows ({doc['split']} split); "
        f"{sum(r['bits'] is not None for r in rows)} with a motif, {len(matched)} matching {doc['database']} "
        f"at q <= {doc['max_q']}"
        + (f"; influence measured on {doc['influence_windows']:,} windows" if doc["influence_windows"] else "")
    )
    print("by influence:" if doc["influence_windows"] else "by the distance of their auROC from 0.5:")
    for r in sorted((r for r in rows if r["bits"] is not None), key=rank)[:10]:
        auroc = "n/a" if r["auroc"] is None else f"{r['auroc']:.3f}"
        influence = "" if r["influence"] is None else f", influence {r['influence']:+.1e}"
        match = f"{r['match_name']} ({r['match_id']}), q={r['q_value']:.1e}" if r["match_id"] else "not matched"
        print(f"  filter {r['filter']}: auROC {auroc}{influence}, {r['consensus']} ~ {match}")
    print(f"report: {folder / 'report.html'}")
    return 0


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


def _fitted_records(args, window: int) -> list[tuple[str, object, int, int]]:
    """Per --fasta record ``(name, codes (W,) fitted to the window, offset, length)``, ``offset`` being the
    window column of the record's first base (negative when cropped); a warning counts the fitted ones."""
    import numpy as np

    from peakcnn.apply import warn_fitted
    from peakcnn.cli.apply import note_unused_genome
    from peakcnn.io.seqs import fit_to_window, read_sequences

    note_unused_genome(args)
    out = [(name, *fit_to_window(codes, window), len(codes)) for name, codes in read_sequences(args.fasta)]
    warn_fitted(args.fasta, np.array([r[3] for r in out], dtype=np.int64), window)
    return out


def _fasta_inputs(args, window: int):
    """Per record ``(name, codes (W,), mutate start, mutate end, first coordinate)`` for --fasta."""
    out = []
    for name, fitted, offset, length in _fitted_records(args, window):
        lo, hi = max(offset, 0), min(offset + length, window)
        out.append((name, fitted, lo, hi, lo - offset + 1))
    return out


def _check_prefix(prefix: str, files: str = ".npy/.tsv/.png") -> None:
    """Fail in one line when ``--out`` names a folder rather than a prefix of file names (``files``: the
    extensions written, for the message)."""
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
            f"(writes {inside}{files})"
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
    import numpy as np

    from peakcnn.apply import warn_explained_n
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
    warn_explained_n("ism", np.stack([codes for _, codes, *_ in items]), [n or args.region for n, *_ in items], meta)
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
            renames.enter_context(atomic_output(prefix + ".tsv")),
            ["position", "ref", "task", "A", "C", "G", "T"],
            rows,
            atomic=False,
        )
        if plot:
            plot_ism(
                delta, x, tasks, renames.enter_context(atomic_output(prefix + ".png")), title=title, first_pos=first
            )
    if not plot:
        _remove_older_figure(prefix + ".png")


def _remove_older_figure(path: str, command: str = "ism") -> None:
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
            f"{path}: an older figure that does not show these {_SHOWN[command]} cannot be removed: "
            f"{e.strerror}; remove it, or run without --no-plot"
        ) from None
    log.info("%s: removed %s, an older figure that does not show these %s", command, path, _SHOWN[command])


ATTRIBUTE_DESCRIPTION = """Attribute one task's logit to the bases of each window with DeepLIFT/SHAP: each window
is compared with --shuffles dinucleotide shuffles of itself (each run of bases between N shuffled on its own,
N kept in place; seeded by --seed and the window's own bases, so a window gets the same scores wherever it
stands in the input), and the multipliers of DeepLIFT (tangermeme's implementation: rescale rule for ReLU,
max rule for max-pooling) are averaged over them. Windows are placed as 'predict' places them (--bed:
centred on each region's summit or midpoint, as in training; --fasta: records N-padded or centre-cropped).
Writes PREFIX.hyp.npz (hypothetical contributions of every base at every position) and PREFIX.ohe.npz (the
one-hot windows), both float32 (windows, 4, W) under the name arr_0, the inputs of TF-MoDISco (modisco
motifs -s PREFIX.ohe.npz -a PREFIX.hyp.npz -n 2000); PREFIX.tsv (one row per window: its logit, its
references' mean logit, their difference, the sum of its contributions, which equals that difference, and
as error the largest gap between the two over single references, which DeepLIFT makes 0); PREFIX.json (the
settings); and PREFIX.png (contribution logos of the windows with the highest logits, over the 100 bp
where their contributions are strongest). With --bed, --track TRACK also writes the contributions base by
base along the genome as a bigWig or bedGraph (by extension), the mean where windows overlap, for a genome
browser. --rc explains the mean of the two strands' logits: the reverse-complement strand is attributed
against the reverse complements of the same references and its scores are mapped back onto the forward
strand and averaged with it (twice the time); the logit columns are then means of the two strands."""


def _register_attribute(sub) -> None:
    from peakcnn.cli.prepare import non_negative_int, positive_int

    p = sub.add_parser(
        "attribute", help="DeepLIFT/SHAP attributions (TF-MoDISco inputs, logos)", description=ATTRIBUTE_DESCRIPTION
    )
    p.add_argument("run", metavar="RUN", help="run folder written by 'peakcnn train' or 'peakcnn ensemble'")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--bed", metavar="REGIONS", help="BED/narrowPeak regions (needs --genome)")
    src.add_argument("--fasta", metavar="SEQS", help="FASTA of sequences")
    p.add_argument("--genome", metavar="FASTA", help="genome FASTA for --bed")
    p.add_argument("--chrom-alias", metavar="TSV", help="chromAlias TSV of equivalent chromosome names")
    p.add_argument("--task", metavar="NAME", help="task attributed (needed when the run has several)")
    p.add_argument(
        "--shuffles", type=positive_int, default=20, metavar="K", help="dinucleotide-shuffled references (default 20)"
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the references (default 0)")
    p.add_argument(
        "--rc", action="store_true", help="explain the mean logit of both strands (default: the forward strand)"
    )
    p.add_argument("--out", required=True, metavar="PREFIX", help="output prefix (PREFIX.hyp.npz/.ohe.npz/.tsv/...)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG (an older PREFIX.png is removed)")
    p.add_argument(
        "--track",
        metavar="TRACK",
        help="with --bed: also a per-base track of the contributions (.bw/.bigWig or .bedGraph/.bg/.bdg)",
    )
    add_device_option(p)
    p.set_defaults(func=run_attribute)


_SHOWN = {"ism": "effects", "attribute": "contributions"}
ATTRIBUTE_FILES = (".hyp.npz", ".ohe.npz", ".tsv", ".json", ".png")


def _task_index(args, tasks: list[str]) -> int:
    from peakcnn.errors import InputError
    from peakcnn.io.chromnames import format_names

    if args.task is None:
        if len(tasks) == 1:
            return 0
        raise InputError(f"{args.run}: the run has {len(tasks)} tasks ({format_names(tasks)}); choose one with --task")
    if args.task not in tasks:
        raise InputError(f"--task {args.task}: not a task of {args.run} (its tasks: {format_names(tasks)})")
    return tasks.index(args.task)


def _attribute_inputs(args, meta: dict, window: int):
    """Window codes ``(n, W)``, the TSV's leading columns and rows, per window a label and the coordinate of
    its first base (1-based) for the figure, and for --bed the genome and the placed regions (for --track)."""
    import numpy as np

    from peakcnn.apply import bed_regions, region_codes
    from peakcnn.cli.apply import _genome
    from peakcnn.errors import InputError

    if args.bed:
        if not args.genome:
            raise InputError("attribute --bed needs --genome FASTA to read the regions' sequence")
        genome = _genome(args, meta)
        regions = bed_regions(args.bed, genome, window, meta.get("center") or "summit")
        codes = region_codes(regions, genome, window)
        header = ["chrom", "start", "end", "name", "window_start", "window_end"]
        keys = [
            [c, s, e, nm, w, w + window]
            for c, s, e, nm, w in zip(
                regions.label, regions.start, regions.end, regions.name, regions.window_start, strict=True
            )
        ]
        labels = [f"{c}:{s + 1}-{e}" + (f" {nm}" if nm and nm != "." else "") for c, s, e, nm, *_ in keys]
        firsts = [int(w) + 1 for w in regions.window_start]
        return codes, header, keys, labels, firsts, (genome, regions)
    records = _fitted_records(args, window)  # at least one: an empty FASTA is refused
    codes = np.stack([r[1] for r in records])
    keys = [[name, length] for name, _, _, length in records]
    # the figure's positions count the record's own bases from 1: window column 0 is base 1 - offset
    return codes, ["name", "length"], keys, [r[0] for r in records], [1 - offset for _, _, offset, _ in records], None


def _open_track(path, genome, regions):
    """A :class:`~peakcnn.io.tracks.TrackWriter` for the contributions of the --bed windows, opened before
    any work so that a track that cannot be written is refused first; chromosomes named and ordered as in the
    genome."""
    from peakcnn.io.tracks import TrackWriter

    present = set(regions.chrom.astype(str))
    return TrackWriter(path, [(c, genome.lengths[c]) for c in genome.names if c in present], option="--track")


def _fill_track(writer, regions, contribution) -> None:
    """Add the per-base contributions of every chromosome (overlapping windows averaged) and finish the
    temporary file; nothing is in place before ``writer.commit()``."""
    import numpy as np

    from peakcnn.interpret.attribute import track_intervals

    names = regions.chrom.astype(str)
    by_chrom: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        by_chrom.setdefault(name, []).append(i)
    for chrom, length in writer.chroms:
        idx = np.asarray(by_chrom[chrom])
        writer.add(chrom, *track_intervals(regions.window_start[idx], contribution[idx], length))
    writer.finish()


@contextlib.contextmanager
def _deleted_on_failure(writer):
    """Delete the track's temporary file (and spool) when the block fails or is interrupted, its own rename
    included; without a track, nothing."""
    try:
        yield
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.abort()
        raise


def run_attribute(args) -> int:
    from peakcnn.apply import warn_explained_n
    from peakcnn.checkpoint import load_model
    from peakcnn.cli.apply import input_files
    from peakcnn.errors import InputError
    from peakcnn.io.output import check_distinct_files, check_output
    from peakcnn.io.tracks import track_format

    _check_prefix(args.out, "/".join(ATTRIBUTE_FILES))
    written = [ext for ext in ATTRIBUTE_FILES if not (args.no_plot and ext == ".png")]
    outputs = [("--out", args.out + ext) for ext in written]
    if args.track:
        if not args.bed:
            raise InputError(f"--track {args.track}: sequences from --fasta have no genome coordinates; use --bed")
        track_format(args.track)
        outputs.append(("--track", args.track))
    for label, path in outputs:
        check_output(path, "track" if label == "--track" else "output")
    check_distinct_files(outputs, input_files(args))
    model, meta = load_model(args.run)
    tasks, window = list(meta["tasks"]), int(meta["window"])
    task = _task_index(args, tasks)
    inputs = _attribute_inputs(args, meta, window)
    warn_explained_n("attribute", inputs[0], inputs[3], meta)
    writer = _open_track(args.track, *inputs[-1]) if args.track else None
    with _deleted_on_failure(writer):
        _attribute_and_write(args, model, tasks, task, window, inputs, written, writer)
    return 0


def _attribute_and_write(args, model, tasks, task, window, inputs, written: list[str], writer) -> None:
    """Attribute the windows of :func:`_attribute_inputs` and write the files ``written`` (extensions of
    ``--out``), then the track of ``writer`` when there is one."""
    import json

    import numpy as np

    from peakcnn import __version__
    from peakcnn.cli.apply import show_progress
    from peakcnn.interpret.attribute import PLOT_WINDOWS, deep_lift_shap, plot_contributions
    from peakcnn.io.output import atomic_output, format_float, write_table
    from peakcnn.progress import progress_bar
    from peakcnn.sequence import codes_to_onehot

    codes, header, keys, labels, firsts, placed = inputs
    with progress_bar(show_progress(args), len(codes), "window", "attribute") as bar:
        a = deep_lift_shap(
            model,
            codes,
            task,
            n_shuffles=args.shuffles,
            seed=args.seed,
            device=args.device,
            progress=bar.update,
            rc=args.rc,
        )
    rows = (
        list(k) + [format_float(v) for v in (lo, ref, lo - ref, c, err)]
        for k, lo, ref, c, err in zip(
            keys, a.logit, a.reference_logit, a.contribution.sum(1, dtype=np.float64), a.error, strict=True
        )
    )
    worst = float(a.error.max())  # at least one window: an empty BED or FASTA is refused
    settings = {
        "method": "DeepLIFT/SHAP (tangermeme), dinucleotide-shuffled references",
        "run": str(args.run),
        "task": tasks[task],
        "shuffles": args.shuffles,
        "seed": args.seed,
        "strands": "both: the mean of the two strands' logits is explained" if args.rc else "forward",
        "window": window,
        "windows": len(codes),
        "input": {"bed": args.bed, "genome": args.genome} if args.bed else {"fasta": args.fasta},
        "max_error": worst,
        "files": {
            "hypothetical contributions, (windows, 4, W), arr_0": args.out + ".hyp.npz",
            "one-hot windows, (windows, 4, W), arr_0": args.out + ".ohe.npz",
            **({"per-base contribution track": args.track} if args.track else {}),
        },
        "peakcnn": __version__,
    }
    top = np.argsort(-a.logit, kind="stable")[:PLOT_WINDOWS]
    if writer is not None:
        _fill_track(writer, placed[1], a.contribution)
    with contextlib.ExitStack() as renames:  # the files are renamed into place together, once all are complete
        for ext, array in ((".hyp.npz", a.hypothetical), (".ohe.npz", codes_to_onehot(codes))):
            with open(renames.enter_context(atomic_output(args.out + ext)), "wb") as fh:
                np.savez_compressed(fh, array)
        write_table(
            renames.enter_context(atomic_output(args.out + ".tsv")),
            header + ["logit", "reference_logit", "difference", "contribution_sum", "error"],
            rows,
            atomic=False,
        )
        with open(renames.enter_context(atomic_output(args.out + ".json")), "w") as fh:
            json.dump(settings, fh, indent=2)
        if not args.no_plot:
            plot_contributions(
                a.contribution[top],
                codes[top],
                [f"{labels[i]}  (logit {a.logit[i]:.2f})" for i in top],
                [firsts[i] for i in top],
                renames.enter_context(atomic_output(args.out + ".png")),
                title=f"{tasks[task]}: DeepLIFT/SHAP contributions, {args.shuffles} dinucleotide shuffles"
                + (", mean of both strands" if args.rc else ""),
            )
    if writer is not None:
        writer.commit()  # renamed last, after every other file is complete
    if args.no_plot:
        _remove_older_figure(args.out + ".png", "attribute")
    if a.unshuffled:
        log.warning(
            "warning: %d window(s) have nothing to shuffle (no other order of their dinucleotides: all N, a "
            "single repeated base, runs of 3 bp or less between N, or a few bases such as ACGT): their references "
            "equal them, so all their contributions are 0",
            a.unshuffled,
        )
    if worst > 1e-3 * max(1.0, float(np.abs(a.logit - a.reference_logit).max())):
        log.warning(
            "warning: contributions of some window add up to %.3g away from its logit minus its references' "
            "(DeepLIFT makes this 0); see the error column of %s.tsv",
            worst,
            args.out,
        )
    log.info(
        "attribute: %d window(s), task %s%s, %d shuffles, largest summation error %.2g -> %s.{%s}%s",
        len(codes),
        tasks[task],
        " (mean of both strands)" if args.rc else "",
        args.shuffles,
        worst,
        args.out,
        ",".join(ext[1:] for ext in written),
        f" and {args.track}" if args.track else "",
    )
    return 0
