"""The fuzzing summary: how many cases ran per operation and caller, and what they got."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.api.test_fuzz import CASES, STATUSES

    if not CASES:
        return
    per_operation: dict[str, list[str]] = {}
    for (role, label), count in sorted(CASES.items()):
        statuses = " ".join(f"{status}x{n}" for status, n in sorted(STATUSES[role, label].items()))
        per_operation.setdefault(label, []).append(f"{role} {count} ({statuses})")
    terminalreporter.write_line(
        f"fuzz: {sum(CASES.values())} cases over {len(per_operation)} operations")
    for label, roles in per_operation.items():
        terminalreporter.write_line(f"fuzz:   {label}: {', '.join(roles)}")
