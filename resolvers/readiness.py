"""The start-of-year readiness check of a school (the seed's list that a coordinator runs through every
summer), as checks with a status and a Dutch message for the people who read them on /beheer.

The facts come from the store in two statements per batch of schools (datasources.graph.readiness); what
they mean is decided here, in plain code with no I/O (`checks`), so every check is table-tested on its own.
Only the school's coordinators, its board coordinator and the operator get the check; anyone else (a
partner, a teacher) an empty list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from datasources.graph.readiness import (
    GROUP_WITHOUT_TEACHER,
    LICENSE_UNCOUPLED,
    TEACHER_INVITED,
    TEACHER_NOT_INVITED,
    TEACHER_SHARED_EMAIL,
    TEACHER_WITHOUT_EMAIL,
    ReadinessFacts,
)
from datasources.store.calendar import first_day

if TYPE_CHECKING:
    from collections.abc import Callable

    from datasources.store.records import SchoolRecord
    from resolvers.context import Context

OK: Final = "OK"
WARNING: Final = "WARNING"
PROBLEM: Final = "PROBLEM"
#: From this day of the year (two months before the school year turns) a school without next year's file
#: is warned: the summer holiday leaves little time after it.
NEXT_YEAR_WINDOW: Final = (6, 1)
#: A consent request that waited this long holds up a partner's lessons: a problem, not a reminder.
REQUEST_WAITS_TOO_LONG: Final = dt.timedelta(days=14)
#: How many names a message lists before it says how many more there are.
NAMES_SHOWN: Final = 5

_MONTHS: Final = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)


@dataclass(frozen=True, slots=True)
class ReadinessCheck:
    """One check of the readiness list: its stable code, status (OK, WARNING, PROBLEM), a Dutch title and
    a Dutch message that says what is wrong and where to fix it."""

    code: str
    status: str
    title: str
    message: str


def dutch_date(day: dt.date) -> str:
    """A date as people in the Netherlands write it: 1 augustus 2027."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} en nog {more}" if more > 0 else shown


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _groups_next_year(facts: ReadinessFacts) -> ReadinessCheck:
    title = "Groepen van het nieuwe schooljaar"
    calendar, shown, coming = facts.calendar_year, facts.shown_year, facts.next_year
    if shown is None:
        message = (
            "Er is nog geen bestand uit de leerlingadministratie (LAS) ontvangen: de school heeft nog geen"
            " groepen. Importeer het bestand via Gegevens."
        )
        return ReadinessCheck("GROUPS_NEXT_YEAR", PROBLEM, title, message)
    if shown < calendar:
        message = (
            f"Schooljaar {calendar} is begonnen, maar het bestand ervoor is nog niet binnen: de groepen van"
            f" {shown} gelden nog, ook voor partners. Importeer het bestand van {calendar} via Gegevens."
        )
        return ReadinessCheck("GROUPS_NEXT_YEAR", PROBLEM, title, message)
    if facts.next_year_groups or facts.next_year_file:
        effective = facts.next_year_effective or first_day(coming)
        message = f"De groepen van {coming} staan klaar en gaan in op {dutch_date(effective)}."
        return ReadinessCheck("GROUPS_NEXT_YEAR", OK, title, message)
    window = dt.date(first_day(coming).year, *NEXT_YEAR_WINDOW)
    if window <= facts.today < first_day(coming):
        message = (
            f"De groepen van {coming} zijn nog niet geïmporteerd. Doe dat vóór de eerste schooldag"
            f" ({dutch_date(first_day(coming))}), dan staan de nieuwe groepen op tijd klaar."
        )
        return ReadinessCheck("GROUPS_NEXT_YEAR", WARNING, title, message)
    message = f"De groepen van {calendar} zijn geïmporteerd."
    return ReadinessCheck("GROUPS_NEXT_YEAR", OK, title, message)


def _students_moved(facts: ReadinessFacts) -> ReadinessCheck:
    title = "Leerlingen doorgeschoven, vertrokken leerlingen weg"
    if facts.shown_year is None or facts.current_students == 0:
        message = "Er zijn nog geen leerlingen geïmporteerd."
        return ReadinessCheck("STUDENTS_MOVED", WARNING, title, message)
    if facts.shown_year < facts.calendar_year:
        message = (
            f"De leerlingen staan nog in de groepen van {facts.shown_year}: niemand is doorgeschoven en"
            " de leerlingen die in de zomer vertrokken (groep 8), staan er nog."
        )
        return ReadinessCheck("STUDENTS_MOVED", PROBLEM, title, message)
    if facts.students_without_group:
        count = _plural(facts.students_without_group, "leerling zit", "leerlingen zitten")
        message = f"{count} in geen enkele groep van dit schooljaar. Controleer de groepen in de LAS."
        return ReadinessCheck("STUDENTS_MOVED", PROBLEM, title, message)
    everyone = _plural(facts.current_students, "leerling zit", "leerlingen zitten")
    message = f"{everyone} in een groep van {facts.shown_year}; vertrokken leerlingen zijn weg."
    return ReadinessCheck("STUDENTS_MOVED", OK, title, message)


def _group_teachers(facts: ReadinessFacts) -> ReadinessCheck:
    title = "Elke groep heeft een leerkracht"
    missing = facts.items.get(GROUP_WITHOUT_TEACHER, [])
    if missing:
        message = (
            f"Zonder leerkracht: {_names(missing)}. Koppel een leerkracht in de LAS, of geef een"
            " invalkracht de groep tot een einddatum via Medewerkers."
        )
        return ReadinessCheck("GROUP_TEACHERS", PROBLEM, title, message)
    return ReadinessCheck("GROUP_TEACHERS", OK, title, "Elke groep van dit schooljaar heeft een leerkracht.")


def _teacher_emails(facts: ReadinessFacts) -> ReadinessCheck:
    title = "Elke leerkracht heeft een eigen schoolmailadres"
    without = facts.items.get(TEACHER_WITHOUT_EMAIL, [])
    shared = facts.items.get(TEACHER_SHARED_EMAIL, [])
    if without or shared:
        parts = []
        if without:
            parts.append(f"Zonder e-mailadres: {_names(without)}.")
        if shared:
            parts.append(f"Hetzelfde e-mailadres als een collega: {_names(shared)}.")
        parts.append("Pas de adressen aan in de LAS; zonder eigen adres kan niemand zich aanmelden.")
        return ReadinessCheck("TEACHER_EMAILS", PROBLEM, title, " ".join(parts))
    message = "Elke leerkracht heeft een eigen e-mailadres van de school."
    return ReadinessCheck("TEACHER_EMAILS", OK, title, message)


def _teachers_activated(facts: ReadinessFacts) -> ReadinessCheck:
    title = "Elke leerkracht heeft het account geactiveerd"
    not_invited = facts.items.get(TEACHER_NOT_INVITED, [])
    invited = facts.items.get(TEACHER_INVITED, [])
    if not_invited:
        message = (
            f"Niet geactiveerd en geen activatiemail onderweg: {_names(not_invited)}. Stuur de"
            " activatiemails via Medewerkers."
        )
        return ReadinessCheck("TEACHERS_ACTIVATED", PROBLEM, title, message)
    if invited:
        message = (
            f"Activatiemail verstuurd, nog niet geactiveerd: {_names(invited)}. Vraag hen de mail te"
            " openen (en in de map met ongewenste mail te kijken)."
        )
        return ReadinessCheck("TEACHERS_ACTIVATED", WARNING, title, message)
    message = "Alle leerkrachten hebben hun account geactiveerd."
    return ReadinessCheck("TEACHERS_ACTIVATED", OK, title, message)


def _location_official(facts: ReadinessFacts) -> ReadinessCheck:
    title = "BRIN en vestiging zijn officieel"
    if facts.merged:
        message = "Deze vestiging is opgegaan in een andere (fusie): werk de gegevens daar bij."
        return ReadinessCheck("LOCATION_OFFICIAL", PROBLEM, title, message)
    if not facts.active:
        message = (
            "Deze vestiging is opgeheven of beëindigd: ze deelt niets meer en neemt geen import aan."
            " Neem contact op met de helpdesk als dat niet klopt."
        )
        return ReadinessCheck("LOCATION_OFFICIAL", PROBLEM, title, message)
    if facts.source == "duo":
        message = "BRIN en vestigingsnummer staan in het register van DUO."
    else:
        message = "Een beheerde vestiging: DUO kent haar (nog) niet, de helpdesk heeft haar vastgelegd."
    return ReadinessCheck("LOCATION_OFFICIAL", OK, title, message)


def _active_coordinator(facts: ReadinessFacts) -> ReadinessCheck:
    title = "Er is een actieve ICT-coördinator"
    if facts.active_coordinators == 0:
        message = (
            "De school heeft geen actieve ICT-coördinator. Maak een collega coördinator via Medewerkers,"
            " of vraag de helpdesk."
        )
        return ReadinessCheck("ACTIVE_COORDINATOR", PROBLEM, title, message)
    count = _plural(facts.active_coordinators, "actieve ICT-coördinator", "actieve ICT-coördinatoren")
    return ReadinessCheck("ACTIVE_COORDINATOR", OK, title, f"De school heeft {count}.")


def _licenses_coupled(facts: ReadinessFacts) -> ReadinessCheck:
    title = "Elke licentie is aan een groep van dit jaar gekoppeld"
    uncoupled = facts.items.get(LICENSE_UNCOUPLED, [])
    if uncoupled:
        message = (
            f"Aan geen groep van dit schooljaar gekoppeld: {_names(uncoupled)}. Koppel ze via Licenties,"
            " anders ziet niemand het product."
        )
        return ReadinessCheck("LICENSES_COUPLED", PROBLEM, title, message)
    message = "Elke geldige licentie is aan een groep van dit schooljaar gekoppeld."
    return ReadinessCheck("LICENSES_COUPLED", OK, title, message)


def _consent_requests(facts: ReadinessFacts) -> ReadinessCheck:
    title = "Toestemmingsverzoeken afgehandeld"
    if facts.pending_requests == 0:
        return ReadinessCheck("CONSENT_REQUESTS", OK, title, "Er wachten geen toestemmingsverzoeken.")
    waiting = _plural(facts.pending_requests, "toestemmingsverzoek wacht", "toestemmingsverzoeken wachten")
    oldest = facts.oldest_pending
    today = dt.datetime.combine(facts.today, dt.time(), tzinfo=dt.UTC)
    if oldest is not None and today - oldest >= REQUEST_WAITS_TOO_LONG:
        message = (
            f"{waiting} op uw besluit, het oudste al sinds {dutch_date(oldest.date())}. Beslis erover via"
            " Toestemming."
        )
        return ReadinessCheck("CONSENT_REQUESTS", PROBLEM, title, message)
    message = f"{waiting} op uw besluit. Beslis erover via Toestemming."
    return ReadinessCheck("CONSENT_REQUESTS", WARNING, title, message)


def _dpa_signed(facts: ReadinessFacts) -> ReadinessCheck:
    title = "Verwerkersovereenkomst van het bestuur getekend"
    if not facts.dpa_signed:
        message = (
            "Het bestuur heeft de verwerkersovereenkomst niet getekend: de school deelt niets met partners."
            " Vraag de directeur van het bestuur de overeenkomst te tekenen."
        )
        return ReadinessCheck("DPA_SIGNED", PROBLEM, title, message)
    message = "Het bestuur heeft de verwerkersovereenkomst getekend."
    return ReadinessCheck("DPA_SIGNED", OK, title, message)


def _las_coupling(facts: ReadinessFacts) -> ReadinessCheck:
    title = "Koppeling met de leerlingadministratie (LAS)"
    if facts.las_coupling_suspended:
        message = (
            "De koppeling met de LAS staat uit: wijzigingen uit de LAS komen niet binnen. Zet haar weer aan"
            " via Gegevens."
        )
        return ReadinessCheck("LAS_COUPLING", PROBLEM, title, message)
    message = "De koppeling met de LAS staat aan."
    return ReadinessCheck("LAS_COUPLING", OK, title, message)


#: The checks in the order the dashboard shows them (the order of the seed's start-of-year list).
CHECKS: Final[tuple[Callable[[ReadinessFacts], ReadinessCheck], ...]] = (
    _groups_next_year,
    _students_moved,
    _group_teachers,
    _teacher_emails,
    _teachers_activated,
    _location_official,
    _active_coordinator,
    _licenses_coupled,
    _consent_requests,
    _dpa_signed,
    _las_coupling,
)


def checks(facts: ReadinessFacts) -> list[ReadinessCheck]:
    """Every check of the list for a school's facts."""
    return [check(facts) for check in CHECKS]


async def readiness_of(ctx: Context, school: SchoolRecord) -> list[ReadinessCheck]:
    """The school's readiness check for its administrators; an empty list for anyone else."""
    if not ctx.scope.manages(school.id):
        return []
    facts = await ctx.loaders.readiness_by_school.get(school.id)
    return [] if facts is None else checks(facts)
