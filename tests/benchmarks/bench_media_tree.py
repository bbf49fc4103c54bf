"""The media tree of the media case: many files, mostly incompressible, realistic sizes.

A site's media is mostly photos, thumbnails, PDFs and videos: already
compressed, so a dump can only store them, and their sizes spread over orders
of magnitude. The tree is drawn from a seeded ``random.Random``, so a size
always gives the same tree: file sizes follow a log-normal law (most files a few
tens of KiB, a few of several MiB), scaled so that the total is the requested
size; the contents are random bytes, except for a small share of text files
(CSV, SVG, plain text) that compress well. About a hundred files per directory,
in ``uploads/<year>/<month>/<kind>/``.
"""

from __future__ import annotations

import bisect
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path

#: Spread of the log-normal law of file sizes (natural log). With 1.5, the median
#: file is a third of the mean and the largest of 20,000 about a hundred means.
SIZE_SIGMA = 1.5
#: One file in this many is text that compresses well.
TEXT_EVERY = 40
#: Files per directory, about.
FILES_PER_DIRECTORY = 100
#: Binary kinds: (directory, extension), by increasing size.
KINDS = (("thumbs", "webp"), ("images", "jpg"), ("documents", "pdf"), ("video", "mp4"))
TEXT_KINDS = (("exports", "csv"), ("icons", "svg"), ("notes", "txt"))
TEXT_EXTENSIONS = {extension for _, extension in TEXT_KINDS}
WORDS = (
    "media", "archive", "restore", "photo", "thumbnail", "upload", "gallery",
    "article", "author", "caption", "license", "width", "height", "format",
    "quality", "album", "review", "season", "summary", "portrait",
)  # fmt: skip
#: Bytes written per call: big files are written in pieces, not held whole.
WRITE_CHUNK = 4 * 2**20


@dataclass
class Tree:
    """What was written: counts and sizes, for the report and the checks."""

    files: int
    bytes: int
    text_files: int
    text_bytes: int
    largest: int
    median: int

    def as_dict(self) -> dict:
        return asdict(self)


def sizes(files: int, total: int, rng: random.Random) -> list[int]:
    """``files`` sizes drawn log-normally, scaled so that they add up to ``total``."""
    draws = [rng.lognormvariate(0.0, SIZE_SIGMA) for _ in range(files)]
    scale = total / sum(draws)
    result = [max(1, int(draw * scale)) for draw in draws]
    result[result.index(max(result))] += total - sum(result)  # exact total
    return result


def text(size: int, rng: random.Random) -> bytes:
    """``size`` bytes of words and figures: compresses several times, as text does."""
    line = " ".join(rng.choices(WORDS, k=12)).encode() + b"\n"
    parts, length, index = [], 0, 0
    while length < size:
        part = line if index % 7 else f"{index},{rng.random():.6f}\n".encode()
        parts.append(part)
        length += len(part)
        index += 1
    return b"".join(parts)[:size]


def write_tree(root: Path, files: int, total: int, seed: int = 0) -> Tree:
    """Write ``files`` files of ``total`` bytes in all under ``root``."""
    rng = random.Random(seed)
    drawn = sizes(files, total, rng)
    ranked = sorted(drawn)
    text_files = text_bytes = 0
    for number, size in enumerate(drawn):
        year = 2019 + number // (files // 6 + 1)
        month = 1 + (number // FILES_PER_DIRECTORY) % 12
        if number % TEXT_EVERY == TEXT_EVERY - 1:
            kind, extension = TEXT_KINDS[number % len(TEXT_KINDS)]
        else:
            rank = bisect.bisect_left(ranked, size)
            kind, extension = KINDS[min(len(KINDS) - 1, 4 * rank // files)]
        folder = root / "uploads" / str(year) / f"{month:02d}" / kind
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{kind}-{number:06d}.{extension}"
        with open(path, "wb") as out:
            if extension in TEXT_EXTENSIONS:
                out.write(text(size, rng))
                text_files += 1
                text_bytes += size
            else:
                written = 0
                while written < size:
                    piece = min(WRITE_CHUNK, size - written)
                    out.write(rng.randbytes(piece))
                    written += piece
    return Tree(
        files=files,
        bytes=total,
        text_files=text_files,
        text_bytes=text_bytes,
        largest=ranked[-1],
        median=ranked[len(ranked) // 2],
    )


@dataclass
class Contents:
    """Files under a directory: how many, their bytes, and the blocks they take."""

    files: int
    bytes: int
    allocated: int


def contents(root: Path) -> Contents:
    """Count the files under ``root`` (``os.walk``, no symlinks followed)."""
    files = size = allocated = 0
    for directory, _, names in os.walk(root):
        for name in names:
            stat = (Path(directory) / name).lstat()
            files += 1
            size += stat.st_size
            allocated += stat.st_blocks * 512
    return Contents(files, size, allocated)
