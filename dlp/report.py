"""The human report of ``dlp scan``: verdict, rules, persons and masked examples."""

from __future__ import annotations

from dlp.model import Decision, ScanResult


def human(name: str, scan: ScanResult, decision: Decision) -> str:
    lines = [
        f"{name}: {decision.action.upper()}",
        f"  rules:    {', '.join(decision.rules) or '-'}",
        f"  persons:  {scan.persons}",
    ]
    if scan.findings:
        lines.append("  findings:")
        for det, n in scan.findings.items():
            samples = ", ".join(scan.evidence.get(det, []))
            lines.append(f"    {det:<18} {n:>7}   e.g. {samples}")
    if scan.encrypted:
        lines.append(f"  encrypted: {', '.join(scan.encrypted_files) or 'yes'}")
    if decision.uninspectable:
        lines.append(f"  uninspectable: {', '.join(decision.uninspectable)}")
    lines.extend(f"  error: {e}" for e in scan.errors)
    return "\n".join(lines)
