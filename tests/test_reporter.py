"""The reporter: what each verbosity shows, and progress only on a terminal."""

from io import StringIO

import pytest
from django.core.management.base import OutputWrapper

from diskette.reporter import Reporter, StreamReporter, plural


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
    assert "\rdata/a.json 10/20" in err.replace("\x1b[K", "")
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
    assert raw.getvalue() == "\r\x1b[Kdata/a.json 1\r\x1b[Kcareful\n"
