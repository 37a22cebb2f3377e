"""A seeded generator of a UK-like population with known truth, for `hub bench match` and tests.

A reference extract (the customer index: one record per person, hub id as local id) and a
service extract (the same people under the service's own ids, as services really hold them:
typos, nicknames, changed and hyphenated surnames, an old address after a move, day and month
swapped, missing fields) plus people the reference has never heard of.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, replace
from datetime import date, timedelta

from hub.identity.normalise import PersonFields, nickname_table

GIVEN = [
    "william",
    "james",
    "john",
    "thomas",
    "robert",
    "richard",
    "michael",
    "david",
    "christopher",
    "daniel",
    "matthew",
    "andrew",
    "anthony",
    "joseph",
    "edward",
    "stephen",
    "peter",
    "samuel",
    "benjamin",
    "alexander",
    "jonathan",
    "nicholas",
    "timothy",
    "charles",
    "frederick",
    "henry",
    "patrick",
    "philip",
    "raymond",
    "kenneth",
    "george",
    "oliver",
    "harry",
    "jack",
    "jacob",
    "noah",
    "leo",
    "oscar",
    "archie",
    "arthur",
    "muhammad",
    "ethan",
    "lucas",
    "mason",
    "logan",
    "adam",
    "ryan",
    "liam",
    "owen",
    "margaret",
    "elizabeth",
    "catherine",
    "jennifer",
    "susan",
    "patricia",
    "deborah",
    "rebecca",
    "victoria",
    "christine",
    "helen",
    "dorothy",
    "mary",
    "sarah",
    "ann",
    "jacqueline",
    "josephine",
    "samantha",
    "amanda",
    "abigail",
    "eleanor",
    "emily",
    "florence",
    "frances",
    "gillian",
    "jessica",
    "joanne",
    "louise",
    "natalie",
    "nicola",
    "pamela",
    "penelope",
    "rosemary",
    "theresa",
    "valerie",
    "olivia",
    "amelia",
    "isla",
    "ava",
    "mia",
    "grace",
    "sophia",
    "lily",
    "freya",
    "charlotte",
    "evie",
    "poppy",
    "ruby",
    "chloe",
    "megan",
    "hannah",
    "lucy",
    "zara",
    "aisha",
    "fatima",
    "priya",
]
FAMILY = [
    "smith",
    "jones",
    "williams",
    "taylor",
    "brown",
    "davies",
    "evans",
    "wilson",
    "thomas",
    "johnson",
    "roberts",
    "robinson",
    "thompson",
    "wright",
    "walker",
    "white",
    "edwards",
    "hughes",
    "green",
    "hall",
    "lewis",
    "harris",
    "clarke",
    "patel",
    "jackson",
    "wood",
    "turner",
    "martin",
    "cooper",
    "hill",
    "ward",
    "morris",
    "moore",
    "clark",
    "lee",
    "king",
    "baker",
    "harrison",
    "morgan",
    "allen",
    "james",
    "scott",
    "phillips",
    "watson",
    "davis",
    "parker",
    "price",
    "bennett",
    "young",
    "griffiths",
    "mitchell",
    "kelly",
    "cook",
    "carter",
    "richardson",
    "bailey",
    "collins",
    "bell",
    "shaw",
    "murphy",
    "miller",
    "cox",
    "richards",
    "khan",
    "marshall",
    "anderson",
    "simpson",
    "ellis",
    "adams",
    "singh",
    "begum",
    "wilkinson",
    "foster",
    "chapman",
    "powell",
    "webb",
    "rogers",
    "gray",
    "mason",
    "ali",
    "hunt",
    "hussain",
    "campbell",
    "matthews",
    "owen",
    "palmer",
    "holmes",
    "mills",
    "barnes",
    "knight",
    "lloyd",
    "butler",
    "russell",
    "barker",
    "fisher",
    "stevens",
    "jenkins",
    "murray",
    "dixon",
    "harvey",
    "graham",
    "pearson",
    "ahmed",
    "fletcher",
    "walsh",
    "kaur",
    "gibson",
    "howard",
    "andrews",
    "stewart",
    "ford",
    "reynolds",
]
STREETS = [
    "high",
    "church",
    "station",
    "mill",
    "park",
    "victoria",
    "green",
    "manor",
    "kings",
    "queens",
    "new",
    "school",
]
KINDS = ["street", "road", "lane", "avenue", "close", "drive", "way", "gardens"]
DISTRICTS = tuple(f"{a}{n}" for a in ("EX", "PL", "TQ", "TR", "BS") for n in range(1, 21))


@dataclass(frozen=True)
class Population:
    reference: list[PersonFields]  # the customer index: local_id is the hub person id
    service: list[PersonFields]  # the service's own records and ids
    truth: dict[str, str]  # service local id -> reference local id (absent: not in reference)


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.4:
        return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1 :]
    if kind < 0.7:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _nickname(rng: random.Random, given: str) -> str:
    variants = [v for v, c in nickname_table().items() if c == given and v != given]
    return rng.choice(variants) if variants else given


def _date_typo(rng: random.Random, d: date) -> date:
    for _ in range(5):
        text = list(d.isoformat())
        pos = rng.choice((3, 6, 8, 9))
        text[pos] = rng.choice(string.digits)
        try:
            return date.fromisoformat("".join(text))
        except ValueError:
            continue
    return d


def _nhs(rng: random.Random) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def _postcode(rng: random.Random) -> str:
    return f"{rng.choice(DISTRICTS)} {rng.randrange(10)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"


def _household(rng: random.Random, n: int) -> tuple[str, str, str]:
    return (
        str(100_000_000_000 + n),
        f"{rng.randrange(1, 200)} {rng.choice(STREETS).title()} {rng.choice(KINDS).title()}",
        _postcode(rng),
    )


def generate(people: int, seed: int = 16, not_in_reference: float = 0.05) -> Population:
    """`people` people in the reference; the service holds ~95% of them and some of its own."""
    rng = random.Random(seed)
    households: list[tuple[str, str, str]] = []
    reference: list[PersonFields] = []
    old_address: dict[str, tuple[str, str, str]] = {}
    while len(reference) < people:
        home = _household(rng, len(households))
        households.append(home)
        family = rng.choice(FAMILY)
        for _ in range(min(rng.choice((1, 1, 2, 2, 3, 4)), people - len(reference))):
            pid = f"P-{len(reference) + 1:07d}"
            dob = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 85))
            given = rng.choice(GIVEN)
            reference.append(
                PersonFields(
                    local_id=pid,
                    given_names=given.title()
                    + (f" {rng.choice(GIVEN).title()}" if rng.random() < 0.3 else ""),
                    family_name=family.title() if rng.random() > 0.15 else rng.choice(FAMILY),
                    date_of_birth=dob,
                    uprn=home[0],
                    address=home[1],
                    postcode=home[2],
                    email=f"{given}.{family}{rng.randrange(100)}@example.org"
                    if rng.random() < 0.5
                    else None,
                    phone=f"07{rng.randrange(10**9):09d}" if rng.random() < 0.4 else None,
                    nhs_number=_nhs(rng) if rng.random() < 0.2 else None,
                )
            )
    # moves: the reference knows the new address (and sometimes the previous one);
    # the service still holds the old one
    for i, p in enumerate(reference):
        if rng.random() < 0.10:
            new = _household(rng, len(households))
            households.append(new)
            old_address[p.local_id] = (p.uprn or "", p.address or "", p.postcode or "")
            keep_previous = rng.random() < 0.6
            reference[i] = replace(
                p,
                uprn=new[0],
                address=new[1],
                postcode=new[2],
                previous_uprn=p.uprn if keep_previous else None,
                previous_postcode=p.postcode if keep_previous else None,
            )
    service: list[PersonFields] = []
    truth: dict[str, str] = {}
    for p in reference:
        if rng.random() > 0.95:
            continue
        sid = f"S-{rng.randrange(10**9):09d}"
        while sid in truth:
            sid = f"S-{rng.randrange(10**9):09d}"
        truth[sid] = p.local_id
        service.append(_as_held(rng, p, sid, old_address.get(p.local_id)))
    for _ in range(int(people * not_in_reference)):  # people only the service knows
        home = _household(rng, len(households))
        households.append(home)
        sid = f"S-{rng.randrange(10**9):09d}"
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        service.append(
            PersonFields(
                local_id=sid,
                given_names=given.title(),
                family_name=family.title(),
                date_of_birth=date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 85)),
                uprn=home[0],
                address=home[1],
                postcode=home[2],
            )
        )
    rng.shuffle(service)
    return Population(reference, service, truth)


def _as_held(
    rng: random.Random, p: PersonFields, sid: str, old: tuple[str, str, str] | None
) -> PersonFields:
    given = (p.given_names or "").split(" ")[0].lower()
    family = (p.family_name or "").lower()
    r = rng.random()
    if r < 0.10:
        given = _nickname(rng, given)
    elif r < 0.15:
        given = _typo(rng, given)
    r = rng.random()
    if r < 0.04:
        family = rng.choice(FAMILY)  # changed surname (marriage, divorce, deed poll)
    elif r < 0.06:
        family = f"{family}-{rng.choice(FAMILY)}"  # hyphenated
    elif r < 0.10:
        family = _typo(rng, family)
    dob: date | None = p.date_of_birth
    r = rng.random()
    if dob is not None and r < 0.02 and dob.day <= 12:
        dob = date(dob.year, dob.day, dob.month)
    elif dob is not None and r < 0.04:
        dob = _date_typo(rng, dob)
    elif r < 0.07:
        dob = None
    uprn, address, postcode = (p.uprn, p.address, p.postcode) if old is None else old
    r = rng.random()
    if r < 0.05:
        uprn = None  # the service never recorded the UPRN
    elif r < 0.07:
        uprn, postcode = None, None
    return PersonFields(
        local_id=sid,
        given_names=given.title() if rng.random() > 0.01 else None,
        family_name=family.title(),
        date_of_birth=dob,
        uprn=uprn,
        address=address,
        postcode=postcode.lower() if postcode and rng.random() < 0.1 else postcode,
        email=p.email if rng.random() < 0.5 else None,
        phone=p.phone if rng.random() < 0.5 else None,
        nhs_number=p.nhs_number if rng.random() < 0.3 else None,
    )
