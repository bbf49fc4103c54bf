"""``manage.py seed``: fill the sandbox with deterministic sample data and media."""

import shutil
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError

from sandbox.library.seeding import (
    SeedPlan,
    existing_rows,
    seed_database,
    seed_media,
)


class Command(BaseCommand):
    help = (
        "Fill the sandbox database with about N deterministic objects of every "
        "shape diskette must carry, and write sample media files to MEDIA_ROOT."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--objects", type=int, default=200, help="About how many rows (200)."
        )
        parser.add_argument(
            "--seed", type=int, default=0, help="Random seed; same seed, same data."
        )
        parser.add_argument(
            "--media",
            action="store_true",
            default=True,
            help="Write media files to MEDIA_ROOT (the default).",
        )
        parser.add_argument(
            "--no-media", dest="media", action="store_false", help="Skip media files."
        )
        parser.add_argument(
            "--media-files",
            type=int,
            default=20,
            help="Number of generated documents besides the fixed layout (20).",
        )
        parser.add_argument(
            "--flush",
            action="store_true",
            help="Empty the database (manage.py flush) and MEDIA_ROOT first.",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, **options):
        using = options["database"]
        media_root = Path(settings.MEDIA_ROOT)
        try:
            SeedPlan.for_count(options["objects"])
        except ValueError as error:
            raise CommandError(f"--objects: {error}") from error
        try:
            occupied = existing_rows(using=using)
        except DatabaseError as error:
            raise CommandError(
                f"Database {using!r} is not ready ({error}); run manage.py migrate first."
            ) from error
        if options["flush"]:
            call_command("flush", interactive=False, database=using, verbosity=0)
            if options["media"] and media_root.exists():
                shutil.rmtree(media_root)
            self.stdout.write(f"Flushed database {using!r} and {media_root}")
        elif occupied:
            total = sum(occupied.values())
            raise CommandError(
                f"Database {using!r} already has {total} sample rows; "
                "use --flush to empty it first."
            )
        counts = seed_database(options["objects"], seed=options["seed"], using=using)
        for label, count in counts.items():
            self.stdout.write(f"  {label:<28} {count:>7}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {sum(counts.values())} rows into {using!r} "
                f"(seed {options['seed']})"
            )
        )
        if options["media"]:
            summary = seed_media(
                media_root, files=options["media_files"], seed=options["seed"]
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Wrote {summary['files']} media files ({summary['bytes']} bytes) "
                    f"to {media_root}; the exclude patterns must skip: "
                    + ", ".join(summary["excluded"])
                )
            )
