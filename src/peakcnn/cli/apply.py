"""``peakcnn predict``, ``peakcnn scan`` and ``peakcnn variants``: apply a trained model."""

from __future__ import annotations

import argparse
import logging
import sys

from peakcnn.cli.prepare import fraction, non_negative_int, positive_int
from peakcnn.runconfig import add_device_option, add_shifts_option

log = logging.getLogger(__name__)

PREDICT_DESCRIPTION = """Score regions of a genome (--genome G --bed REGIONS) or arbitrary sequences
(--fasta SEQS) with the model of RUN. A region is scored on the window of the checkpoint's length centred
as the training data set was ('prepare --center'): on its summit (narrowPeak column 10) or else its
midpoint, or always on its midpoint. FASTA sequences shorter than the window are N-padded on both sides,
longer ones centre-cropped (a warning counts them). A window holding more N than --max-n-frac (assembly
gaps, chromosome ends, the padding of a sequence shorter than the window by more than that fraction) gets
NA, as the model never saw one in training. OUT gets one row
per region/sequence with the
probability of each task in a column named after it, and a header line; for regions, '.bed' (or '.bed.gz')
gives BED6 (score 0, strand '.') followed by the task columns (header starts with '#'), anything else TSV; a
name ending in '.gz' is written gzip-compressed."""

SCAN_DESCRIPTION = """Genome-wide prediction track. Interval i of a chromosome is [i*S, i*S+S) and holds
the probability of the window centred on the interval midpoint i*S + S//2 (window start = midpoint -
W//2), i.e. what 'peakcnn predict' gives for a region with that midpoint. Windows past chromosome ends are
N-padded; an interval whose window holds more N than --max-n-frac (assembly gaps, chromosome ends) has no
value and no peak. Output format follows the extension (.bw/.bigWig or .bedGraph/.bg/.bdg); with several tasks one file
per task is written, named OUT's stem + '.TASK' + extension (one task: OUT itself).
Speed: the convolution trunk is computed once per chunk and shared by overlapping windows. Windows whose
starts differ by a non-multiple of a pool width read different pooled values, so each layer is computed
once per pooling phase in use; a stride that is a multiple of the product P of the pool widths (27 for the
founding model) needs one phase. The default stride is the multiple of P closest to 50 bp (54 for
founding); other strides are exact too but slower (stride 50: 3, 9 and 27 phases, about 4x the work).
Default (exact): each window's border features, where its zero padding differs from the chunk's real
neighbours, are recomputed, so the track equals window-by-window prediction (measured max difference 6e-8).
--fast skips that correction (border features then see neighbouring sequence instead of zero padding):
about 2x faster than exact at the default stride, but only approximate: max difference in probability
measured 1e-3 with random weights and 0.076 with a trained founding model (root ATAC); measure yours with
'python benchmarks/predict.py --run RUN'."""

VARIANTS_DESCRIPTION = """Score each variant of a VCF (plain, gzip or bgzip; 1-based POS) by the change
it causes: the first base of the variant sits at the window centre (index W//2) of a reference window
(the genome) and an alternative window (left flank + ALT + sequence after REF, cut to W; indels therefore
keep the window length). Both strands are averaged. Columns per task: p_ref, p_alt, diff = p_alt - p_ref
and log_odds = logit(p_alt) - logit(p_ref) (Basset's SAD). Multi-allelic records give one row per ALT.
ref_match is 0 where the genome does not carry REF (those rows are still scored, from the genome's bases,
and counted in a warning). An allele whose reference or alternative window holds more N than
--max-n-frac gets NA. Variants on chromosomes absent from the genome, past chromosome ends or with
symbolic alleles (<DEL>, *, breakends) are skipped and counted in warnings."""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "run", metavar="RUN", help="run folder written by 'peakcnn train' or 'peakcnn ensemble' (or its model.json)"
    )
    add_device_option(p)


def _max_n_option(p: argparse.ArgumentParser, scores: str) -> None:
    p.add_argument(
        "--max-n-frac",
        type=fraction,
        metavar="F",
        help=f"windows with more N than this (assembly gaps, chromosome ends, N-padding) get {scores}, since "
        "their scores would be the network's reading of N, not of sequence (default: the training data set's "
        "'prepare --max-n-frac', 0.1 if the model does not record it; 1 scores every window)",
    )


def _genome_options(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--genome", required=required, metavar="FASTA", help="genome FASTA (plain, gzip or bgzip)")
    p.add_argument("--chrom-alias", metavar="TSV", help="chromAlias TSV of equivalent chromosome names")


def register(sub) -> None:
    p = sub.add_parser(
        "predict", help="probabilities for BED regions or FASTA sequences", description=PREDICT_DESCRIPTION
    )
    _common(p)
    _genome_options(p, required=False)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--bed", metavar="REGIONS", help="BED/narrowPeak regions (needs --genome)")
    src.add_argument("--fasta", metavar="SEQS", help="FASTA of sequences to score")
    p.add_argument("--rc", action="store_true", help="average with the reverse-complement strand")
    add_shifts_option(p)
    _max_n_option(p, "NA")
    p.add_argument("--out", required=True, metavar="FILE", help="output table (.bed or .tsv; .gz compresses)")
    p.set_defaults(func=run_predict)

    s = sub.add_parser("scan", help="genome-wide prediction track (bigWig/bedGraph)", description=SCAN_DESCRIPTION)
    _common(s)
    _genome_options(s, required=True)
    s.add_argument("--chrom", nargs="+", metavar="C", help="chromosomes to scan (default: all)")
    s.add_argument(
        "--stride", type=positive_int, metavar="S", help="interval width in bp (default: multiple of P near 50)"
    )
    s.add_argument("--fast", action="store_true", help="skip the border correction (approximate, faster)")
    _max_n_option(s, "no value in the track and no peak")
    s.add_argument("--out", required=True, metavar="TRACK", help="track file (.bw/.bigWig/.bedGraph/.bg/.bdg)")
    s.add_argument("--peaks-out", metavar="P.bed", help="also call peaks from the track (narrowPeak columns)")
    s.add_argument("--threshold", type=fraction, default=0.5, help="peak probability threshold (default 0.5)")
    s.add_argument(
        "--merge-gap", type=non_negative_int, default=0, metavar="BP", help="merge peaks this close (default 0)"
    )
    s.add_argument(
        "--min-length", type=non_negative_int, default=0, metavar="BP", help="drop shorter peaks (default 0)"
    )
    s.set_defaults(func=run_scan)

    v = sub.add_parser("variants", help="variant effects (SAD) from a VCF", description=VARIANTS_DESCRIPTION)
    _common(v)
    _genome_options(v, required=True)
    v.add_argument("--vcf", required=True, help="VCF file (plain, gzip or bgzip)")
    _max_n_option(v, "NA (either allele's window)")
    v.add_argument("--out", required=True, metavar="SCORES", help="output TSV")
    v.set_defaults(func=run_variants)


def _load(args):
    from peakcnn.checkpoint import load_model

    model, meta = load_model(args.run)
    return model, meta, list(meta["tasks"]), int(meta["window"])


def _genome(args, meta):
    from peakcnn.apply import check_genome
    from peakcnn.io.fasta import Genome

    genome = Genome(args.genome, alias_file=args.chrom_alias)
    check_genome(meta, genome)
    return genome


def note_unused_genome(args) -> None:
    """Say that --genome and --chrom-alias are not read with --fasta (its records are the sequences). An
    information line, not a warning: the command line's stable form of predict passes --genome either way."""
    unused = [f"--{k.replace('_', '-')}" for k in ("genome", "chrom_alias") if getattr(args, k, None)]
    if unused:
        log.info(
            "%s: %s not read with --fasta: its records are the sequences scored", args.command, " and ".join(unused)
        )


def input_files(args) -> list[tuple[str, object]]:
    """``(option, path)`` of every input file of a command (the genome's index and the model files of RUN
    included), which its outputs must not overwrite."""
    from peakcnn.checkpoint import model_stem

    stem = model_stem(args.run)
    given = [
        (f"--{k.replace('_', '-')}", getattr(args, k, None)) for k in ("genome", "chrom_alias", "bed", "fasta", "vcf")
    ]
    genome = getattr(args, "genome", None)
    index = [("--genome's index", f"{genome}{ext}") for ext in (".fai", ".gzi")] if genome else []
    return given + index + [("RUN", stem.with_suffix(".json")), ("RUN", stem.with_suffix(".safetensors"))]


def show_progress(args) -> bool:
    """Progress bars are drawn on a terminal, unless --quiet; a log written to a file gets none."""
    return not args.quiet and sys.stderr.isatty()


_CENTRED = {"summit": "summit (narrowPeak column 10; the midpoint where there is none)", "midpoint": "midpoint"}


def run_predict(args) -> int:
    from peakcnn.apply import (
        bed_regions,
        fasta_codes,
        max_n_frac,
        n_fractions,
        output_kind,
        region_codes,
        warn_too_many_n,
    )
    from peakcnn.errors import InputError
    from peakcnn.inference import check_shifts, predict, sigmoid
    from peakcnn.io.output import check_distinct_files, check_output, format_float, write_table
    from peakcnn.progress import progress_bar

    check_shifts(args.shifts, what="--shifts")
    check_output(args.out, "--out table")
    check_distinct_files([("--out", args.out)], input_files(args))
    bed = output_kind(args.out) == "bed"
    if bed and not args.bed:
        raise InputError(f"{args.out}: sequences from --fasta have no coordinates; name the output .tsv")
    model, meta, tasks, window = _load(args)
    check_shifts(args.shifts, window, "--shifts")
    if args.bed:
        if not args.genome:
            raise InputError("predict --bed needs --genome FASTA to read the regions' sequence")
        genome = _genome(args, meta)
        center = meta.get("center") or "summit"
        regions = bed_regions(args.bed, genome, window, center)
        log.info("predict: windows centred on each region's %s, as in training", _CENTRED[center])
        codes = region_codes(regions, genome, window)
        # BED6 first (score 0, no strand) so that genome browsers and bedtools read the file; then the tasks.
        header = ["chrom", "start", "end", "name"] + (["score", "strand"] if bed else [])
        extra = ("0", ".") if bed else ()
        keys = [(*k, *extra) for k in zip(regions.label, regions.start, regions.end, regions.name, strict=False)]
    else:
        note_unused_genome(args)
        names, lengths, codes = fasta_codes(args.fasta, window)
        header, keys = ["name", "length"], list(zip(names, lengths.tolist(), strict=False))
    limit = max_n_frac(meta, args.max_n_frac)
    over = n_fractions(codes, args.shifts, args.rc) > limit[0]  # every window scored, shifted ones too
    if over.any():
        i = int(over.argmax())
        first = f"line {regions.line[i]}" if args.bed else f"record {names[i]!r}"
        warn_too_many_n(
            args.bed or args.fasta, int(over.sum()), len(over), first, limit, "probabilities are written as NA"
        )
    with progress_bar(show_progress(args), len(codes), "window", "predict") as bar:
        probs = sigmoid(predict(model, codes, device=args.device, rc=args.rc, progress=bar.update, shifts=args.shifts))
    rows = (
        list(k) + (["NA"] * len(tasks) if no else [format_float(x) for x in p])
        for k, p, no in zip(keys, probs.tolist(), over.tolist(), strict=True)
    )
    n = write_table(args.out, header + tasks, rows, comment_header=bed)
    log.info("predict: %d rows x %d task(s) -> %s", n, len(tasks), args.out)
    return 0


def run_scan(args) -> int:
    from peakcnn.apply import max_n_frac
    from peakcnn.io.output import check_distinct_files, check_output, check_output_name
    from peakcnn.io.tracks import track_paths
    from peakcnn.scan_run import scan_genome

    check_output_name(args.out, "--out track")  # before track_paths, which drops a trailing separator
    if args.peaks_out:
        check_output_name(args.peaks_out, "--peaks-out file")
    model, meta, tasks, _ = _load(args)
    paths = track_paths(args.out, tasks)
    outputs = (
        [("--out", paths[0])]
        if len(paths) == 1
        else [(f"--out (track of task {t!r})", p) for t, p in zip(tasks, paths, strict=True)]
    )
    outputs += [("--peaks-out", args.peaks_out)] if args.peaks_out else []
    for label, path in outputs:
        check_output(path, label)
    check_distinct_files(outputs, input_files(args))
    genome = _genome(args, meta)
    scan_genome(
        model,
        tasks,
        genome,
        _chroms(args, genome),
        args.stride,
        exact=not args.fast,
        out=args.out,
        peaks_out=args.peaks_out,
        peak_options=(args.threshold, args.merge_gap, args.min_length),
        max_n=max_n_frac(meta, args.max_n_frac),
        device=args.device,
        progress=not args.quiet,
    )
    return 0


def _chroms(args, genome) -> list[str]:
    """Genome names of the chromosomes to scan (all by default)."""
    from peakcnn.errors import InputError
    from peakcnn.io.fasta import ambiguity_note, describe_genome_names

    if not args.chrom:
        return list(genome.names)
    out = []
    for c in args.chrom:
        name = genome.resolve(c)
        if name is None:
            raise InputError(
                f"--chrom {c}: not in genome {genome.path.name} ({describe_genome_names(genome)})"
                f"{ambiguity_note([c], genome)}"
            )
        out.append(name)
    return list(dict.fromkeys(out))


def run_variants(args) -> int:
    from peakcnn.apply import max_n_frac, output_kind
    from peakcnn.errors import InputError
    from peakcnn.io.output import check_distinct_files, check_output
    from peakcnn.variants import score_vcf

    check_output(args.out, "--out table")
    check_distinct_files([("--out", args.out)], input_files(args))
    if output_kind(args.out) == "bed":
        raise InputError(f"{args.out}: variants writes a table with 1-based VCF positions, not BED; name it .tsv")
    model, meta, tasks, window = _load(args)
    genome = _genome(args, meta)
    n = score_vcf(
        model,
        tasks,
        window,
        genome,
        args.vcf,
        args.out,
        device=args.device,
        progress=show_progress(args),
        max_n=max_n_frac(meta, args.max_n_frac),
    )
    log.info("variants: %d allele(s) scored -> %s", n, args.out)
    return 0
