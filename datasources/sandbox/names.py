"""Building blocks of the sandbox world: common Dutch name parts and a fictional partner catalogue.

Students and staff are random combinations of common first names, prefixes (voorvoegsels) and surnames,
so no record describes a real person. Partner, product, board and school names are invented.
"""

from __future__ import annotations

from dataclasses import dataclass

STUDENT_FIRST_NAMES: tuple[str, ...] = (
    "Emma", "Julia", "Mila", "Sophie", "Tess", "Zoë", "Sara", "Nora", "Yara", "Eva", "Liv", "Lotte", "Evi",
    "Noor", "Anna", "Saar", "Fenna", "Lieke", "Fleur", "Isa", "Roos", "Jasmijn", "Sanne", "Femke", "Maud",
    "Lisa", "Fien", "Esmee", "Hanna", "Olivia", "Nina", "Elin", "Lina", "Amira", "Ilse", "Chloë", "Wietske",
    "Sietske", "Jet", "Puck", "Noah", "Sem", "Liam", "Lucas", "Daan", "Finn", "Levi", "Luuk", "Mees", "James",
    "Milan", "Sam", "Bram", "Jesse", "Thomas", "Lars", "Thijs", "Ruben", "Stijn", "Jayden", "Max", "Siem",
    "Julian", "Gijs", "Tim", "Teun", "Hugo", "Boaz", "Adam", "Mohammed", "Ryan", "Niels", "Koen", "Jens",
    "Rens", "Joep", "Tygo", "Hidde", "Wout", "Floris", "Jelle", "Sietse", "Hylke", "Douwe", "Ids", "Noë",
)  # fmt: skip

STAFF_FIRST_NAMES: tuple[str, ...] = (
    "Anneke", "Marieke", "Ingrid", "Petra", "Monique", "Esther", "Linda", "Miranda", "Karin", "Wendy",
    "Sandra", "Ellen", "Judith", "Marloes", "Ilona", "Hanneke", "Jolanda", "Astrid", "Carla", "Mirjam",
    "Geertje", "Aukje", "Daniëlle", "Renée", "Jan", "Peter", "Mark", "Erik", "Bas", "Martijn", "Jeroen",
    "Dennis", "Ronald", "Arjan", "Wouter", "Frank", "Hans", "Gert", "Sjoerd", "Harm", "Rik", "Pieter",
    "Jurjen", "Albert", "René",
)  # fmt: skip

#: Surname prefixes (voorvoegsels), each with its weight among all surnames (the rest have none).
PREFIXES: tuple[tuple[str, int], ...] = (
    ("de", 10), ("van", 6), ("van der", 4), ("van den", 4), ("van de", 3), ("ter", 1), ("te", 1),
    ("van 't", 1), ("in 't", 1), ("den", 1),
)  # fmt: skip
NO_PREFIX_WEIGHT = 68

SURNAMES: tuple[str, ...] = (
    "Jong", "Jansen", "Vries", "Berg", "Dijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer", "Boer",
    "Mulder", "Groot", "Bos", "Vos", "Peters", "Hendriks", "Leeuwen", "Dekker", "Brouwer", "Wit", "Dijkstra",
    "Smits", "Graaf", "Meer", "Linden", "Kok", "Jacobs", "Haan", "Vermeulen", "Heuvel", "Veen", "Broek",
    "Bruijn", "Heijden", "Schouten", "Beek", "Willems", "Vliet", "Ven", "Hoekstra", "Maas", "Verhoeven",
    "Koster", "Dam", "Wal", "Prins", "Blom", "Huisman", "Postma", "Kuipers", "Bosma", "Wiersma", "Veenstra",
    "Kramer", "Zijlstra", "Boersma", "Nijboer", "Hofstra", "Vink", "Schaap", "Timmermans", "Groen", "Koning",
    "Scholten", "Evers", "Brink", "Wolters", "Jonker", "Bouma", "Sikkema", "Kuiper", "Kooistra", "Hoek",
    "Çelik", "Aydin", "El Amrani", "Nguyen", "Haverkamp", "Oosterhuis", "Mensink", "Zuidema", "Tuinstra",
)  # fmt: skip

#: Parts of invented school names ("CBS De Wilgenhoek") for locations beyond the registry.
SCHOOL_KINDS: tuple[str, ...] = ("OBS", "CBS", "RKBS", "IKC", "Basisschool", "Daltonschool", "Jenaplanschool")
SCHOOL_NAMES: tuple[str, ...] = (
    "De Regenboog", "Het Kompas", "De Wilgenhoek", "De Zeester", "Het Palet", "De Vlinder", "De Klimop",
    "De Windroos", "Het Baken", "De Sterrenwachter", "De Zonnewijzer", "Het Wad", "De Hunebed", "De Terp",
    "Het Veenpluis", "De Meidoorn", "De Kiekendief", "Het Lichtschip", "De Dijkwachter", "De Egelantier",
    "De Vuurtoren", "Het Zandpad", "De Kwikstaart", "De Wierde", "Het Esdal", "De Pionier", "De Polderstee",
)  # fmt: skip
#: Parts of invented board names for boards beyond the registry.
BOARD_NAMES: tuple[str, ...] = (
    "Stichting Noorderbasis", "Stichting Wadkust Onderwijs", "Stichting Esdorp Scholen",
    "Vereniging Veenkoloniën", "Stichting Polderland Primair", "Stichting De Lange Dijk",
    "Stichting Terpenland", "Stichting Hondsrug Basis",
)  # fmt: skip

DPA_VERSION = "4.0"
CONSENT_POLICY_VERSION = "2026-1"
GRANTED_BY = "seed"


@dataclass(frozen=True, slots=True)
class DemoProduct:
    """A product in the fictional catalogue."""

    name: str
    allowed_at_home: bool


@dataclass(frozen=True, slots=True)
class DemoPartner:
    """A fictional partner of the sandbox; `client_id` is "demo-" + `slug` and stable across seeds."""

    slug: str
    name: str
    kind: str
    declared_categories: tuple[str, ...]
    eck_chain: bool
    products: tuple[DemoProduct, ...]

    @property
    def client_id(self) -> str:
        """The OAuth client id the sandbox prints for this partner."""
        return f"demo-{self.slug}"


_PUBLISHER_CATEGORIES = (
    "SCHOOL_BASIC", "GROUP_BASIC", "STUDENT_BASIC", "STUDENT_NAME", "STAFF_BASIC", "STAFF_NAME", "LICENSE",
)  # fmt: skip
_NETWORK_CATEGORIES = (
    "SCHOOL_BASIC", "GROUP_BASIC", "STUDENT_BASIC", "STUDENT_NAME", "STAFF_BASIC", "STAFF_NAME",
    "STAFF_COMMUNICATION",
)  # fmt: skip

#: The sandbox's partners; the first publisher is the demo publisher whose token the sandbox prints.
DEMO_PARTNERS: tuple[DemoPartner, ...] = (
    DemoPartner(
        "noorderlicht", "Uitgeverij Noorderlicht", "PUBLISHER", _PUBLISHER_CATEGORIES, True,
        (DemoProduct("Taalreis", True), DemoProduct("Rekenroute", True), DemoProduct("Wereldwijs", False)),
    ),
    DemoPartner(
        "wadwijzer", "Uitgeverij Wadwijzer", "PUBLISHER", (*_PUBLISHER_CATEGORIES, "STUDENT_DEMOGRAPHICS"),
        False,
        (DemoProduct("Leesleeuw", True), DemoProduct("Spellingspoor", False)),
    ),
    DemoPartner(
        "hunebed", "Hunebed Educatief", "PUBLISHER",
        ("SCHOOL_BASIC", "GROUP_BASIC", "STUDENT_BASIC", "LICENSE"), True,
        (DemoProduct("Topo Noord", False), DemoProduct("Klokkijken", True)),
    ),
    DemoPartner(
        "wadden", "Netwerk Wadden", "NETWORK_PROVIDER", _NETWORK_CATEGORIES, True,
        (DemoProduct("Wadden Werkplek", True),),
    ),
    DemoPartner(
        "klaswolk", "Klaswolk Netwerkdiensten", "NETWORK_PROVIDER", _NETWORK_CATEGORIES[:-1], False,
        (DemoProduct("Klaswolk Portaal", False),),
    ),
)  # fmt: skip
