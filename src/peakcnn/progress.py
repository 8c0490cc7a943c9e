"""Progress bars of the commands that apply a model (predict, variants, ism)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def progress_bar(show: bool, total: int, unit: str, desc: str) -> Iterator:
    """A tqdm bar on standard error when ``show`` (disabled otherwise; ``bar.update`` works either way),
    cleared at the end; log lines printed meanwhile go above it, not through it."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    with tqdm(total=total, unit=unit, desc=desc, leave=False, disable=not show) as bar:
        with logging_redirect_tqdm() if show else contextlib.nullcontext():
            yield bar
