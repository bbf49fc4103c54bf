"""``make demo``: run diskette on the sandbox project, as a user would.

Every step runs ``sandbox/manage.py`` in a real subprocess with this Python, on a
site under ``sandbox/var`` that is recreated from scratch on each run. Steps are
plain functions taking a ``Site``; later steps (dump, load into a second site,
compare) are appended to ``STEPS``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.sites import MANAGE_PY, REPO_ROOT, SANDBOX_DIR, site_environment  # noqa: E402

OBJECTS = 2000
MEDIA_FILES = 40


@dataclass
class Site:
    """One sandbox site: its ``SANDBOX_VAR`` directory and what the steps found."""

    var: Path
    #: The archive destination (``DISKETTE_DUMP_PATH``), when not ``var/dumps``.
    dumps: Path | None = None
    results: dict[str, str] = field(default_factory=dict)

    @property
    def media(self) -> Path:
        return self.var / "media"

    @property
    def database(self) -> Path:
        return self.var / "db.sqlite3"

    def env(self) -> dict[str, str]:
        extra = {"SANDBOX_DUMPS": str(self.dumps)} if self.dumps else {}
        return site_environment(self.var, **extra)

    def reset(self) -> None:
        """Start from nothing: remove the database and the media directory."""
        self.var.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-journal", "-wal", "-shm"):
            self.database.with_name(self.database.name + suffix).unlink(missing_ok=True)
        shutil.rmtree(self.media, ignore_errors=True)
        if self.dumps is None:
            shutil.rmtree(self.var / "dumps", ignore_errors=True)

    def manage(
        self, *args: str, echo: bool = True, shown: str = "", live: bool = False
    ) -> subprocess.CompletedProcess:
        """Run ``manage.py ARGS`` for this site; stop the demo when it fails.

        With ``live``, on a terminal, the command writes its standard error to it
        as it runs: its live progress lines show.
        """
        shown = shown or " ".join(["manage.py", *args])
        print(f"$ {shown}", flush=True)
        on_terminal = live and sys.stderr.isatty()
        result = subprocess.run(
            [sys.executable, str(MANAGE_PY), *args],
            env=self.env(),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=None if on_terminal else subprocess.PIPE,
            text=True,
            check=False,
        )
        if echo and result.stdout.strip():
            print(indent(result.stdout))
        if result.returncode:
            print(indent(result.stderr or "(no error output)"), file=sys.stderr)
            raise DemoFailed(f"{shown} exited with {result.returncode}")
        return result


class DemoFailed(Exception):
    """A step failed; its output has been printed."""


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


def header(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)), flush=True)


# -- steps -------------------------------------------------------------------


def step_migrate(site: Site) -> None:
    """Create a fresh SQLite database with every migration."""
    site.reset()
    print(f"Site directory: {site.var} (database and media removed)")
    site.manage("migrate", "--verbosity", "0")
    print(f"Database created: {site.database}")


def step_seed(site: Site) -> None:
    """Fill the database with sample rows of every shape, and write media files."""
    result = site.manage(
        "seed",
        "--objects",
        str(OBJECTS),
        "--media-files",
        str(MEDIA_FILES),
        echo=False,
    )
    print(indent(result.stdout))
    files = [p for p in site.media.rglob("*") if p.is_file()]
    site.results["media files"] = str(len(files))
    site.results["media bytes"] = str(sum(p.stat().st_size for p in files))


def step_diskette_apps(site: Site) -> None:
    """Show the application definitions diskette proposes for this project."""
    site.manage("diskette_apps", "--drain")


def step_check(site: Site) -> None:
    """Run Django's system checks, which include diskette's settings checks."""
    site.manage("check")


def step_dump(site: Site) -> None:
    """Dump the definitions and the media storage into one archive, then list it."""
    result = site.manage("diskette_dump", "--json", echo=False, live=True)
    dumped = json.loads(result.stdout)
    archive = Path(dumped["path"])
    site.results["archive"] = str(archive)
    for item in dumped["data"]:
        print(f"    {item['path']:<40}{item['objects']:>8} objects")
    for item in dumped["storages"]:
        print(
            f"    {item['name'] + '/':<40}{item['files']:>8} files {item['bytes']:>10} bytes"
        )
    print(f"    archive: {archive} ({dumped['size']} bytes)")
    print(f"    BLAKE2b-512: {dumped['checksum']}")
    print("$ tar tzvf " + archive.name + "  (first lines)")
    listing = subprocess.run(
        ["tar", "tzvf", str(archive)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    print(indent("\n".join(listing[:12] + [f"... {len(listing)} members in all"])))


def step_inspect(site: Site) -> None:
    """Show what the archive holds and verify every member's checksum."""
    site.manage("diskette_inspect", site.results["archive"], "--verify")


def step_list(site: Site) -> None:
    """List the archives of the destination (read from their manifests)."""
    site.manage("diskette_list")


def step_second_dump(site: Site) -> None:
    """Dump again: a new name (a UTC timestamp), the first archive is kept."""
    result = site.manage("diskette_dump", "--json", echo=False)
    name = json.loads(result.stdout)["name"]
    site.results["latest"] = name
    print(f"    archive: {name}")
    site.manage("diskette_list")


def step_prune(site: Site) -> None:
    """Keep the newest archive only; the command says what it keeps and deletes."""
    site.manage("diskette_prune", "--keep", "1", "--noinput")
    site.manage("diskette_list")
    site.results["pruned"] = Path(site.results.pop("archive")).name


def step_load(site: Site) -> None:
    """Plan, then load the newest archive, by name, into a second, migrated site.

    The second site reads the first one's destination (``--from local`` is its
    ``DISKETTE_DUMP_PATH``): its settings point there through ``SANDBOX_DUMPS``.
    """
    target = Site(site.var / "restored", dumps=site.var / "dumps")
    target.reset()
    print(f"Second site: {target.var}")
    target.manage("migrate", "--verbosity", "0")
    target.manage("diskette_load", "latest", "--plan")
    target.manage("diskette_load", site.results["latest"], live=True)
    site.results["restored"] = str(target.var)


def step_compare(site: Site) -> None:
    """Show that both sites hold the same data and the same media files."""
    target = Site(Path(site.results["restored"]))
    labels = ["library", "auth.user", "auth.group", "sites"]
    source_data, target_data = (
        normalised_dump(each, labels, each.var / "compare.json")
        for each in (site, target)
    )
    if source_data != target_data:
        raise DemoFailed("the restored site's data differs from the original's")
    print(f"    data: {len(source_data)} objects identical ({', '.join(labels)})")
    source_files = media_files(site.media, excluded=True)
    target_files = media_files(target.media, excluded=False)
    if source_files != target_files:
        differ = sorted(set(source_files.items()) ^ set(target_files.items()))
        raise DemoFailed(f"media differ: {differ[:5]}")
    empty = [p for p in target.media.rglob("*") if p.is_dir() and not any(p.iterdir())]
    print(
        f"    media: {len(target_files)} files identical (bytes, mode and mtime), "
        f"{len(empty)} empty directories kept; excluded files were left out"
    )


def step_share(site: Site) -> None:
    """An anonymised copy, encrypted to a new age key and signed, loaded into a
    third site: the e-mail addresses there are fakes, the rows are all there."""
    keys = site.var / "keys"
    shutil.rmtree(keys, ignore_errors=True)
    keys.mkdir()
    made = site.manage("diskette_keys", "--directory", str(keys), echo=False)
    recipient = next(
        line.split('"')[1] for line in made.stdout.splitlines() if "ENCRYPT_TO" in line
    )
    print(f"    age recipient: {recipient}")
    shared = site.var / "shared"
    shutil.rmtree(shared, ignore_errors=True)
    result = site.manage(
        "diskette_dump",
        "--anonymise",
        "--encrypt-to",
        recipient,
        "--sign",
        str(keys / "diskette-signing.key"),
        "--destination",
        str(shared),
        "--json",
        echo=False,
    )
    archive = json.loads(result.stdout)["path"]
    print(f"    archive: {archive}")
    identity = str(keys / "diskette-age.key")
    site.manage("diskette_inspect", archive, "--identity", identity, "--manifest-only")
    target = Site(site.var / "shared-site")
    target.reset()
    target.manage("migrate", "--verbosity", "0")
    target.manage("diskette_load", archive, "--identity", identity, "--no-storages")
    emails = (
        "from django.contrib.auth.models import User\n"
        "print(User.objects.count(), *User.objects.order_by('pk')"
        ".values_list('email', flat=True)[:2])"
    )
    for each, name in ((site, "original"), (target, "shared copy")):
        shown = each.manage(
            "shell",
            "-v",
            "0",
            "-c",
            emails,
            echo=False,
            shown=f"manage.py shell ({name})",
        )
        count, *sample = shown.stdout.split()
        print(f"    {name}: {count} users, first e-mails {', '.join(sample)}")


def normalised_dump(site: Site, labels: list[str], output: Path) -> list:
    """``dumpdata`` of a site, with many-to-many lists sorted, for comparison."""
    site.manage(
        "dumpdata", *labels, "--natural-foreign", f"--output={output}", echo=False
    )
    objects = json.loads(output.read_text("utf-8"))
    for obj in objects:
        for name, value in obj["fields"].items():
            if isinstance(value, list) and name not in ("metadata",):
                obj["fields"][name] = sorted(value, key=json.dumps)
    return sorted(objects, key=lambda obj: (obj["model"], json.dumps(obj["pk"])))


def media_files(root: Path, *, excluded: bool) -> dict[str, tuple]:
    """Each file's content hash, mode and mtime; without excluded ones if asked."""
    from diskette.storages import ExcludePatterns
    from sandbox.settings import DISKETTE_STORAGES_EXCLUDES

    patterns = ExcludePatterns(DISKETTE_STORAGES_EXCLUDES)
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_dir() or (excluded and patterns.excludes(relative, False)):
            continue
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found[relative] = (digest, stat.st_mode & 0o777, int(stat.st_mtime))
    return found


STEPS: list[tuple[str, Callable[[Site], None]]] = [
    ("Migrate a fresh sandbox database", step_migrate),
    (f"Seed about {OBJECTS} objects and the media files", step_seed),
    ("diskette_apps: definitions for every installed app", step_diskette_apps),
    ("manage.py check (with diskette's system checks)", step_check),
    ("diskette_dump: data and media into one archive", step_dump),
    ("diskette_inspect: what the archive holds, verified", step_inspect),
    ("diskette_list: the archives of the destination", step_list),
    ("diskette_dump again: a second archive beside the first", step_second_dump),
    ("diskette_prune --keep 1: the older archive goes", step_prune),
    (
        "diskette_load latest --plan, then diskette_load NAME into a second site",
        step_load,
    ),
    ("Compare the two sites", step_compare),
    (
        "Share safely: an anonymised, encrypted, signed copy into a third site",
        step_share,
    ),
]


def summary(site: Site) -> None:
    """Row counts per model, straight from the database."""
    header("Summary")
    code = (
        "from django.apps import apps\n"
        "for m in apps.get_models(include_auto_created=True):\n"
        "    n = 0 if m._meta.proxy else m._base_manager.count()\n"
        "    if n: print(f'{m._meta.label:<32}{n:>8}')\n"
    )
    result = site.manage(
        "shell",
        "--verbosity",
        "0",
        "--command",
        code,
        echo=False,
        shown="manage.py shell (count the rows of every model)",
    )
    print(indent(result.stdout))
    for key, value in site.results.items():
        print(f"    {key:<32}{value:>8}")


def main() -> int:
    site = Site(SANDBOX_DIR / "var")
    started = time.monotonic()
    for title, step in STEPS:
        header(title)
        try:
            step(site)
        except DemoFailed as error:
            print(f"\nDemo stopped: {error}", file=sys.stderr)
            return 1
    summary(site)
    print(f"\nDemo finished in {time.monotonic() - started:.1f}s; site in {site.var}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
