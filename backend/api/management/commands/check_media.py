"""``python manage.py check_media [--fix] [--json]``: the media folder against the database.

A thin wrapper around :func:`api.services.media_audit.audit_media` (what is checked and
how it is repaired is written there). Prints a report for people, or with ``--json`` the
report as one JSON object (``MediaReport.as_dict``). Exit status 0 when there is nothing
to repair (clean, or everything repaired with ``--fix``), 1 when problems remain.
"""
from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from api.services.media_audit import MediaReport, audit_media

#: Problems listed per kind in the human report before "... and N more".
SHOWN_PER_KIND = 50


class Command(BaseCommand):
    help = (
        "Check MEDIA_ROOT against the database: orphan files, rows pointing to missing files, stale temp "
        "files of interrupted writes. --fix repairs them; exit status 1 when problems remain."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="Delete orphans and stale temp files, clear or "
                            "delete rows pointing to missing files.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        report = audit_media(fix=options["fix"])
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self._print(report)
        if not report.clean:
            sys.exit(1)

    def _print(self, report: MediaReport) -> None:
        kinds = [
            ("Orphan files (nothing in the database points to them)", report.orphan_files),
            ("Rows pointing to missing files", report.missing_files),
            ("Stale temp files of interrupted writes", report.stale_temp_files),
        ]
        for title, items in kinds:
            if not items:
                continue
            self.stdout.write(f"{title}: {len(items)}")
            for item in items[:SHOWN_PER_KIND]:
                self.stdout.write(f"  {item}")
            if len(items) > SHOWN_PER_KIND:
                self.stdout.write(f"  ... and {len(items) - SHOWN_PER_KIND} more")
        if report.skipped_projects:
            self.stdout.write(
                f"Not checked: {len(report.skipped_projects)} project(s) with a task running or interrupted "
                f"({', '.join(report.skipped_projects)}); check again once it has finished."
            )
        for message in report.fix_errors:
            self.stderr.write(f"Could not repair: {message}")
        if report.problems == 0:
            self.stdout.write(self.style.SUCCESS("Media folder is consistent with the database."))
        elif report.fix:
            style = self.style.SUCCESS if report.clean else self.style.ERROR
            self.stdout.write(style(f"{report.problems} problem(s) found, {report.fixed} repaired, "
                                    f"{report.remaining} remaining."))
        else:
            self.stdout.write(self.style.ERROR(f"{report.problems} problem(s) found. "
                                               "Run `python manage.py check_media --fix` to repair them."))
