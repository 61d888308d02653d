"""Print one closing line for scripts/test from the JUnit XML files of pytest, Vitest and Playwright.

Usage: ``python scripts/test_summary.py REPORT.xml [...]``. Missing files are
skipped (a stage that did not run). Prints a line per report, then
``all: N passed, N failed, N skipped``.
"""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(path: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) of a JUnit XML report; errors count as failed."""
    root = ET.parse(path).getroot()
    cases = root.iter("testcase")
    passed = failed = skipped = 0
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main(paths: list[str]) -> None:
    total = [0, 0, 0]
    for name in paths:
        path = Path(name)
        if not path.is_file():
            continue
        try:
            numbers = count(path)
        except ET.ParseError as exc:
            print(f"{path.name}: unreadable report ({exc})")
            continue
        total = [a + b for a, b in zip(total, numbers)]
        print(f"{path.stem}: {numbers[0]} passed, {numbers[1]} failed, {numbers[2]} skipped")
    print(f"all: {total[0]} passed, {total[1]} failed, {total[2]} skipped")


if __name__ == "__main__":
    main(sys.argv[1:])
