"""Variant effect scoring: reference and alternative windows centred on each variant.

The first base of the variant (VCF ``POS``) sits at index ``W // 2`` of both windows. The reference window
is the genome; the alternative window is the same left flank, then ALT, then the genome after REF, cut to
``W`` bases, so SNVs, insertions and deletions all give windows of the model's length. Each window is
scored on both strands (probabilities averaged); the effect is ``diff = p_alt - p_ref`` and Basset's SAD
log-odds ratio ``logit(p_alt) - logit(p_ref)``.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from peakcnn.inference import predict
from peakcnn.io.vcf import Variant, VcfReport, iter_vcf
from peakcnn.metrics import sigmoid
from peakcnn.sequence import N_CODE, str_to_codes

log = logging.getLogger(__name__)

#: Alleles whose windows are built and scored together (two windows each: 26 MB of codes at 800 bp).
VARIANT_CHUNK = 16_384


def _ref_matches(genome_codes: np.ndarray, ref: str) -> bool:
    """The genome carries REF: every base equal, where an ``N`` in REF (a base the VCF does not know) matches
    any genome base, and an ``N`` in the genome (an assembly gap) carries no base but N."""
    ref_codes = str_to_codes(ref)
    ok = (genome_codes == ref_codes) | (ref_codes == N_CODE)
    return bool(ok.all())


def variant_windows(genome, chrom: str, variant: Variant, window: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Reference and alternative windows of one variant on genome chromosome ``chrom``.

    Returns
    -------
    ref, alt
        uint8 codes, shape ``(window,)`` each.
    ref_match
        Whether the genome carries the VCF's REF allele.
    """
    p0, c, n_ref = variant.pos - 1, window // 2, len(variant.ref)
    ref = genome.fetch(chrom, p0 - c, p0 - c + window)
    match = _ref_matches(genome.fetch(chrom, p0, p0 + n_ref), variant.ref)
    right = genome.fetch(chrom, p0 + n_ref, p0 + n_ref + window)
    alt = np.concatenate([ref[:c], str_to_codes(variant.alt), right])[:window]
    return ref, alt, match


@dataclass
class VariantScores:
    """Per variant and task: logits of both alleles (of the strand-averaged probability), their
    probabilities and differences. Log-odds come from the logits, so they stay exact where a probability
    would round to 0 or 1."""

    l_ref: np.ndarray  # (n, T), float64
    l_alt: np.ndarray  # (n, T), float64

    @property
    def p_ref(self) -> np.ndarray:
        return sigmoid(self.l_ref)

    @property
    def p_alt(self) -> np.ndarray:
        return sigmoid(self.l_alt)

    @property
    def diff(self) -> np.ndarray:
        return self.p_alt - self.p_ref

    @property
    def log_odds(self) -> np.ndarray:
        """Basset SAD: ``logit(p_alt) - logit(p_ref)``, shape ``(n, T)``."""
        return self.l_alt - self.l_ref


def score_windows(
    model: nn.Module,
    ref: np.ndarray,
    alt: np.ndarray,
    device: str | torch.device | None = None,
    rc: bool = True,
    progress: Callable[[int], None] | None = None,
) -> VariantScores:
    """Score paired windows: codes ``(n, W)`` each, or one-hot ``(n, 4, W)``; both strands when ``rc``.
    ``progress`` is called with the number of windows scored after each batch (``2n`` in all)."""
    from peakcnn.errors import InputError

    shapes = tuple(getattr(x, "shape", None) for x in (ref, alt))
    if shapes[0] != shapes[1]:
        raise InputError(f"ref and alt: shapes {shapes[0]} and {shapes[1]}; give one alternative window per reference")
    return VariantScores(
        l_ref=predict(model, ref, device=device, rc=rc, progress=progress).astype(np.float64),
        l_alt=predict(model, alt, device=device, rc=rc, progress=progress).astype(np.float64),
    )


@dataclass
class _Survey:
    """What a first reading of a VCF finds: the skips (``report``), the genome chromosome of each VCF name
    that has one, and the alleles left to score."""

    report: VcfReport
    mapping: dict[str, str]
    n_scored: int
    digest: bytes  # of every allele read (:func:`_add`)


def _survey(vcf, genome) -> _Survey:
    """Read the whole VCF once without keeping its alleles: every line is checked, the chromosome names are
    matched to the genome (an error listing both sides when none matches), and the skips are warned about,
    all before any window is scored."""
    from peakcnn.errors import InputError
    from peakcnn.io.fasta import resolve_chroms

    report, names, lengths, digest = VcfReport(), Counter(), {}, _digest()
    past, first_past = 0, None
    for v in iter_vcf(vcf, report):
        _add(digest, v)
        names[v.chrom] += 1
        if v.chrom not in lengths:
            c = genome.resolve(v.chrom)
            lengths[v.chrom] = genome.lengths[c] if c is not None else None
        length = lengths[v.chrom]
        if length is not None and v.pos - 1 + len(v.ref) > length:
            past += 1
            first_past = first_past or (v, length)
    if report.records == 0:
        raise InputError(f"{vcf}: no variant records after the header; nothing to score")
    if report.no_alt:
        log.warning("warning: %s: %d record(s) with no ALT allele ('.') skipped", vcf, report.no_alt)
    if report.same_as_ref:
        log.warning(
            "warning: %s: %d ALT allele(s) equal to their REF skipped, no change to score (first: %s)",
            vcf,
            report.same_as_ref,
            report.same_as_ref_example,
        )
    if report.symbolic:
        log.warning(
            "warning: %s: %d symbolic/breakend allele(s) skipped, cannot be scored from sequence (%s)",
            vcf,
            report.symbolic,
            "; ".join(report.symbolic_examples),
        )
    mapping = resolve_chroms(names, genome, str(vcf), what="variants", holder="VCF")[0] if names else {}
    if past:
        v, length = first_past
        log.warning(
            "warning: %s: %d variant(s) past their chromosome's end skipped (first: line %d, %s:%d, "
            "length %d); is the VCF for this genome assembly?",
            vcf,
            past,
            v.line,
            v.chrom,
            v.pos,
            length,
        )
    n_scored = sum(n for name, n in names.items() if name in mapping) - past
    if not n_scored:
        raise InputError(f"{vcf}: no variant left to score (see the warnings above)")
    return _Survey(report, mapping, n_scored, digest.digest())


def _scoreable(vcf, genome, survey: _Survey) -> Iterator[tuple[Variant, str]]:
    """The alleles :func:`_survey` counted as scoreable, read again in file order with their genome
    chromosome; a file whose alleles differ this time (by the digest of all alleles read) is refused."""
    from peakcnn.errors import InputError

    n, digest = 0, _digest()
    for v in iter_vcf(vcf, VcfReport()):
        _add(digest, v)
        c = survey.mapping.get(v.chrom)
        if c is not None and v.pos - 1 + len(v.ref) <= genome.lengths[c]:
            n += 1
            yield v, c
    if n != survey.n_scored or digest.digest() != survey.digest:
        raise InputError(
            f"{vcf}: changed while it was read (its alleles differ between the first reading and the second: "
            f"{survey.n_scored} to score, then {n}); score a copy that stays as it is"
        )


def _digest():
    """A running digest of the alleles read (:func:`_add`): two readings of an unchanged file agree."""
    import hashlib

    return hashlib.blake2b(digest_size=16)


def _add(digest, v: Variant) -> None:
    digest.update(f"{v.chrom}\t{v.pos}\t{v.id}\t{v.ref}\t{v.alt}\n".encode())


def score_vcf(
    model: nn.Module,
    tasks: list[str],
    window: int,
    genome,
    vcf,
    out,
    device=None,
    progress: bool = False,
    max_n: tuple[float, str] | None = None,
) -> int:
    """Score every scoreable allele of ``vcf`` and write the TSV ``out``; returns the number of rows.
    ``progress`` shows a bar of the windows scored (two per allele). An allele whose reference or
    alternative window holds more N than ``max_n`` (``(limit, where it comes from)`` as
    :func:`~peakcnn.apply.max_n_frac` gives it; default: its default) gets NA in every task column.

    The VCF is read twice and never held whole: once to check it and count what it holds
    (:func:`_survey`), once to score its alleles :data:`VARIANT_CHUNK` at a time, each chunk's rows written
    before the next is read. Memory does not grow with the number of variants."""
    from peakcnn.apply import max_n_frac, n_fractions, warn_too_many_n
    from peakcnn.io.output import format_float, write_table
    from peakcnn.progress import progress_bar

    survey = _survey(vcf, genome)
    mismatch = {"count": 0, "first": None}
    max_n = max_n or max_n_frac({})
    too_many_n = {"count": 0, "first": None}

    def rows(bar) -> Iterator[list]:
        todo = _scoreable(vcf, genome, survey)
        while chunk := list(itertools.islice(todo, VARIANT_CHUNK)):  # bounded memory
            wins = []
            for v, c in chunk:
                genome.codes(c)  # the whole chromosome, read once and cached: a read per window costs ~1000x more
                wins.append(variant_windows(genome, c, v, window))
            ref, alt = np.stack([w[0] for w in wins]), np.stack([w[1] for w in wins])
            s = score_windows(model, ref, alt, device=device, progress=bar.update)
            per_task = np.stack([s.p_ref, s.p_alt, s.diff, s.log_odds], axis=-1).reshape(len(wins), -1)
            over = np.maximum(n_fractions(ref), n_fractions(alt)) > max_n[0]
            too_many_n["count"] += int(over.sum())
            for (v, _), (_, _, match), r, no in zip(chunk, wins, per_task.tolist(), over.tolist(), strict=True):
                if not match:
                    mismatch["count"] += 1
                    mismatch["first"] = mismatch["first"] or v
                if no:
                    too_many_n["first"] = too_many_n["first"] or v
                scores = ["NA"] * len(r) if no else [format_float(x) for x in r]
                yield [v.chrom, v.pos, v.id, v.ref, v.alt, int(match)] + scores

    cols = [f"{t}_{k}" for t in tasks for k in ("p_ref", "p_alt", "diff", "log_odds")]
    with progress_bar(progress, 2 * survey.n_scored, "window", "variants") as bar:
        n = write_table(out, ["chrom", "pos", "id", "ref", "alt", "ref_match"] + cols, rows(bar))
    if too_many_n["first"] is not None:
        first = too_many_n["first"]
        where = f"line {first.line}, {first.chrom}:{first.pos}"
        warn_too_many_n(
            vcf, too_many_n["count"], n, where, max_n, "scores are written as NA", things="alleles' windows"
        )
    if mismatch["count"]:
        first = mismatch["first"]
        log.warning(
            "warning: %s: %d variant(s) whose REF differs from the genome (ref_match=0; first: line %d, "
            "%s:%d REF %s); scored from the genome's bases",
            vcf,
            mismatch["count"],
            first.line,
            first.chrom,
            first.pos,
            first.ref,
        )
    return n
