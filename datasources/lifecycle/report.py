"""What a lifecycle operation did (or, in a dry run, would do): counts per kind and, per partner, what
became of its consents."""

from __future__ import annotations

from dataclasses import dataclass, field

#: What became of a partner's consent at a school.
KEPT, COPIED, ENDED = "KEPT", "COPIED", "ENDED"


@dataclass(frozen=True, slots=True)
class ConsentOutcome:
    """A partner's consent at one school after the operation: kept as it was, copied to the school (from
    a source), or ended (its receipt revoked)."""

    partner_id: int
    partner_name: str
    school_code: str
    outcome: str
    categories: tuple[str, ...]


@dataclass
class LifecycleReport:
    """The report of one operation. `counts` uses stable names (scripts read them): `groups`,
    `students`, `staff`, `licenses`, `roles` (hub roles moved or ended), `couplings` (license couplings
    ended), `consentsKept`, `consentsCopied`, `consentsEnded`, `feedEvents`, `studentLoginsRenamed`
    (moved students whose username the target used already: it got a number, print their cards again),
    and for the deletion of a closed school's data the rows deleted per table (`deleted.<table>`)."""

    operation: str
    dry_run: bool
    school_codes: tuple[str, ...]
    target_code: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    consents: list[ConsentOutcome] = field(default_factory=list)

    def add(self, kind: str, count: int = 1) -> None:
        """Count `count` more of a kind."""
        self.counts[kind] = self.counts.get(kind, 0) + count

    def consent(self, outcome: ConsentOutcome) -> None:
        """Record what became of one consent (and count it)."""
        self.consents.append(outcome)
        self.add({KEPT: "consentsKept", COPIED: "consentsCopied", ENDED: "consentsEnded"}[outcome.outcome])
