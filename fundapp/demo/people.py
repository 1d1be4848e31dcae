"""The demo's people: one account per role (one password for all), and a made-up 50-member roster."""
from __future__ import annotations

import random

from fundapp.accounts.models import Role

DEMO_DOMAIN = "demo.example.org"
DEMO_PASSWORD = "picket-line-demo"  # nosec B105 # demo data only; seed-demo refuses production
DEMO_USERS = [
    ("treasurer@" + DEMO_DOMAIN, "Tess Treasurer", [Role.TREASURER, Role.TRUSTEE]),
    ("trustee@" + DEMO_DOMAIN, "Tom Trustee", [Role.TRUSTEE]),
    ("trustee2@" + DEMO_DOMAIN, "Tina Trustee", [Role.TRUSTEE]),
    ("applicant@" + DEMO_DOMAIN, "Ana Applicant", [Role.APPLICANT]),
    ("donor@" + DEMO_DOMAIN, "Dan Donor", [Role.DONOR]),
]

FIRST_NAMES = ["Ana", "Luis", "Maria", "James", "Keisha", "Wei", "Fatima", "Jose", "Linda", "Omar",
               "Rosa", "David", "Thu", "Carlos", "Grace", "Ahmed", "Lupe", "Sam", "Nadia", "Marcus"]
LAST_NAMES = ["Garcia", "Smith", "Nguyen", "Johnson", "Martinez", "Brown", "Lopez", "Williams", "Kim",
              "Hernandez", "Davis", "Rodriguez", "Jones", "Perez", "Chen", "Núñez", "Okafor", "Miller"]
WORKSITES = ["North Plant", "South Plant", "Distribution Centre", "Head Office"]
UNITS = ["Production", "Maintenance", "Warehouse", "Clerical"]


def demo_phone(n: int) -> str:
    """Demo member D-(1000+n)'s made-up phone (555-01xx numbers are reserved for fiction): it ends in 01nn."""
    return f"(555) 555-{100 + n:04d}"


def demo_roster_csv(count: int = 50, seed: int = 1) -> bytes:
    """A made-up roster of ``count`` members (the first one is the demo applicant)."""
    rng = random.Random(seed)  # nosec B311 # made-up demo data, not security
    lines = ["member_id,first_name,last_name,email,worksite,unit,on_strike,phone"]
    lines.append(f"D-1000,Ana,Applicant,applicant@{DEMO_DOMAIN},North Plant,Production,yes,{demo_phone(0)}")
    for n in range(1, count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"member{n}@{DEMO_DOMAIN}" if n % 3 else ""
        lines.append(f"D-{1000 + n},{first},{last},{email},{rng.choice(WORKSITES)},{rng.choice(UNITS)},"
                     f"{'no' if n % 10 == 0 else 'yes'},{demo_phone(n)}")
    return ("\n".join(lines) + "\n").encode()
