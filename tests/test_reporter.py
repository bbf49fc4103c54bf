"""The reporter: what each verbosity shows, and progress only on a terminal."""

from io import StringIO

import pytest
from django.core.management.base import OutputWrapper

from diskette.reporter import Reporter, StreamReporter, plural, progress_line


def streams(verbosity: int, interactive: bool = False):
    out, err = StringIO(), StringIO()
    reporter = StreamReporter(verbosity, out=out, err=err, interactive=interactive)
    reporter.info("info")
    reporter.detail("detail")
    reporter.warning("warning")
    reporter.progress("data/a.json", 10, 20)
    reporter.done()
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("verbosity", "out", "err"),
    [
        (0, "", ""),
        (1, "info\n", "warning\n"),
        (2, "info\ndetail\n", "warning\n"),
    ],
)
def test_verbosity_decides_what_is_shown(verbosity, out, err):
    assert streams(verbosity) == (out, err)


def test_progress_is_drawn_and_cleared_on_a_terminal_only():
    _out, err = streams(1, interactive=True)
    assert "\rdata/a.json 10/20 objects (50 %)" in err.replace("\x1b[K", "")
    assert err.endswith("\r\x1b[K")
    assert "data/a.json" not in streams(1, interactive=False)[1]


def test_the_silent_reporter_says_nothing(capsys):
    reporter = Reporter()
    reporter.info("x")
    reporter.warning("y")
    reporter.progress("z", 1)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 objects"), (1, "1 object"), (2, "2 objects")],
)
def test_plural(count, expected):
    assert plural(count, "object") == expected
    assert plural(count, "empty directory", "empty directories").startswith(str(count))


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_a_command_stderr_neither_colours_nor_breaks_the_progress_line():
    """Django's stderr wrapper colours every write as an error and ends it with a
    newline; progress and warnings must reach the terminal as they are."""
    raw = Terminal()
    err = OutputWrapper(raw)
    err.style_func = lambda text: f"<error>{text}</error>"
    reporter = StreamReporter(1, out=StringIO(), err=err, interactive=True)
    reporter.progress("data/a.json", 1)
    reporter.warning("careful")
    assert raw.getvalue() == "\r\x1b[Kdata/a.json 1 objects\r\x1b[Kcareful\n"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("data/a.json", 500, None, "", 0.5), "data/a.json 500 objects"),
        (
            ("data/a.json", 12_000, 50_000, "", 2.0),
            "data/a.json 12,000/50,000 objects (24 %), 6,000/s, 6 s left",
        ),
        (
            ("verifying", 3_000_000, 9_000_000, "bytes", 10.0),
            "verifying 3.0 MB/9.0 MB (33 %), 300.0 kB/s, 20 s left",
        ),
        (("media", 40, 40, "files", 80.0), "media 40/40 files (100 %), 0.5/s"),
        (
            ("data/b.json", 1, 4_000, "", 100.0),
            "data/b.json 1/4,000 objects (0 %), 0.01/s, 111 h 5 min left",
        ),
    ],
)
def test_a_progress_line_says_done_total_rate_and_time_left(args, line):
    assert progress_line(*args) == line
