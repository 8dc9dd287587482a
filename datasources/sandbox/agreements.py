"""The agreements of one sandbox school: its consents to partners and its licenses coupled to groups.

The first school of a world is the sandbox's showcase: it consents to every partner with every declared
category and licenses the first publisher's products for all its groups, so the demo publisher the
sandbox prints a token for sees data at once. The other schools get a realistic mix: most consent to a
few partners with part of their categories, some consents are revoked, some schools license nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datasources.sandbox.names import CONSENT_POLICY_VERSION, GRANTED_BY, DemoPartner

if TYPE_CHECKING:
    from datasources.sandbox.population import SchoolGroups, SchoolSetting

_CONSENTING_SCHOOLS = 0.85
_CATEGORY_GRANTED = 0.75
_REVOKED = 0.1
_PRODUCT_LICENSED = 0.7
_SITE_LICENSE = 0.2
#: Granted with every consent (DOMAIN.md: `school.basic` is always granted with any consent).
_ALWAYS_GRANTED = "SCHOOL_BASIC"


@dataclass(frozen=True, slots=True)
class SeededPartner:
    """A partner of the world with the ids its row and its products' rows were given."""

    partner_id: int
    partner: DemoPartner
    product_ids: tuple[int, ...]


def agree_school(
    setting: SchoolSetting,
    partners: tuple[SeededPartner, ...],
    *,
    school_id: int,
    groups: SchoolGroups,
    students: int,
    today: dt.date,
    showcase: bool,
) -> None:
    """Queue one school's consents and, for the partners it consented to, licenses coupled to groups."""
    rng = setting.rng
    if showcase:
        chosen = list(partners)
    elif rng.random() < _CONSENTING_SCHOOLS:
        publishers = [entry for entry in partners if entry.partner.kind == "PUBLISHER"]
        networks = [entry for entry in partners if entry.partner.kind == "NETWORK_PROVIDER"]
        # A school may select several network providers at once, or none.
        chosen = rng.sample(publishers, rng.randint(1, len(publishers))) + rng.sample(
            networks, rng.randint(0, len(networks))
        )
    else:
        return
    for entry in chosen:
        revoked = not showcase and rng.random() < _REVOKED
        _consent(setting, entry, school_id=school_id, today=today, everything=showcase, revoked=revoked)
        if not revoked:
            _licenses(
                setting, entry, school_id=school_id, groups=groups, students=students, showcase=showcase
            )


def _consent(
    setting: SchoolSetting,
    entry: SeededPartner,
    *,
    school_id: int,
    today: dt.date,
    everything: bool,
    revoked: bool,
) -> None:
    rng = setting.rng
    declared = entry.partner.declared_categories
    categories = [
        category
        for category in declared
        if everything or category == _ALWAYS_GRANTED or rng.random() < _CATEGORY_GRANTED
    ]
    if _ALWAYS_GRANTED not in categories:
        categories.insert(0, _ALWAYS_GRANTED)
    morning = dt.datetime.combine(today, dt.time(8, 30), tzinfo=dt.UTC)
    days_ago = rng.randint(2, 300)
    granted_at = morning - dt.timedelta(days=days_ago, minutes=rng.randrange(8 * 60))
    revoked_at = granted_at + dt.timedelta(days=rng.randint(1, days_ago - 1)) if revoked else None
    setting.rows.extend(
        "consents",
        [
            {
                "id": setting.ids.take("consents"),
                "school_id": school_id,
                "partner_id": entry.partner_id,
                "categories": categories,
                "granted_by": GRANTED_BY,
                "granted_at": granted_at,
                "revoked_at": revoked_at,
                "revoked_by": GRANTED_BY if revoked else None,
                "policy_version": CONSENT_POLICY_VERSION,
            }
        ],
    )


def _licenses(
    setting: SchoolSetting,
    entry: SeededPartner,
    *,
    school_id: int,
    groups: SchoolGroups,
    students: int,
    showcase: bool,
) -> None:
    rng = setting.rng
    everything = showcase and entry.partner.kind == "PUBLISHER"
    group_ids = [*groups.main.values(), *groups.composite]
    licenses, couplings = [], []
    for product_id in entry.product_ids:
        if not everything and rng.random() >= _PRODUCT_LICENSED:
            continue
        license_id = setting.ids.take("licenses")
        licenses.append(
            {
                "id": license_id,
                "school_id": school_id,
                "product_id": product_id,
                "seats": None if rng.random() < _SITE_LICENSE else students,
                "valid_from": setting.year.starts_on,
                "valid_until": setting.year.ends_on,
            }
        )
        coupled = group_ids if everything else sorted(rng.sample(group_ids, rng.randint(1, len(group_ids))))
        couplings += [{"license_id": license_id, "group_id": group_id} for group_id in coupled]
    setting.rows.extend("licenses", licenses)
    setting.rows.extend("license_groups", couplings)
