"""The fixed facts of the demo university: its services, network plan, devices and names.

Everything here is data, kept apart from the drawing code so that a new service or a new user
agent is one line. Shares are calibrated on the figures of the Agimus-NG talk (ESUP-Days #21):
311 of 2,898 teachers used the helpdesk, 1,090 Moodle and 2,689 the ENT; 90 % of the students
used the ENT, 78 % the webmail, 75 % the timetable; the helpdesk is used from inside in 93 % of
accesses and the webmail half from outside; Moodle is rarely opened on a smartphone.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DOMAIN",
    "GIVEN_NAMES",
    "MOBILE_PREFIXES",
    "NETWORK",
    "OUTSIDE_PREFIXES",
    "ROLES",
    "SERVICES",
    "STRUCTURES",
    "SURNAMES",
    "UAI",
    "UA_BOTS",
    "UA_DESKTOP",
    "UA_LAB",
    "UA_PHONE",
    "UA_TABLET",
    "ServiceProfile",
    "Structure",
]

DOMAIN = "univ-demo.fr"
#: A UAI (national school code) that no real institution has.
UAI = "0999999Z"

#: Behaviour roles; index = role code in the population arrays.
ROLES = ("student", "teacher", "staff", "researcher")
STUDENT, TEACHER, STAFF, RESEARCHER = range(4)

#: Campus zones (name -> CIDRs), written as the config's `[network]` table.
NETWORK: dict[str, list[str]] = {
    "wired": ["10.10.0.0/16"],
    "wifi": ["10.20.0.0/16", "2001:db8:20::/48"],
    "eduroam": ["10.30.0.0/16", "2001:db8:30::/48"],
    "vpn": ["10.40.0.0/16"],
}

#: First octets (or /16, /24 prefixes) of non-campus IPv4 addresses: home ISPs and the
#: documentation ranges. Values are (prefix octets, weight).
OUTSIDE_PREFIXES: tuple[tuple[tuple[int, ...], float], ...] = (
    ((203, 0, 113), 3.0),
    ((198, 51, 100), 3.0),
    ((192, 0, 2), 2.0),
    ((2,), 4.0),
    ((31,), 3.0),
    ((37,), 3.0),
    ((46,), 2.0),
    ((77,), 3.0),
    ((78,), 4.0),
    ((79,), 3.0),
    ((80,), 2.0),
    ((81,), 3.0),
    ((82,), 3.0),
    ((83,), 3.0),
    ((84,), 3.0),
    ((86,), 4.0),
    ((88,), 3.0),
    ((90,), 5.0),
    ((91,), 2.0),
    ((92,), 4.0),
    ((109,), 3.0),
    ((176,), 3.0),
    ((185,), 1.0),
    ((212,), 1.0),
)

#: Mobile carriers' /16 blocks (smartphones outside the campus, on 4G/5G).
MOBILE_PREFIXES: tuple[tuple[int, int], ...] = (
    (37, 170),
    (37, 171),
    (80, 214),
    (92, 184),
    (176, 142),
    (176, 143),
    (77, 205),
    (89, 82),
)


@dataclass(frozen=True)
class Structure:
    """One supannEntite."""

    code: str
    label: str
    parent: str | None
    kind: str  # "etab", "ufr", "lab", "service"


STRUCTURES: tuple[Structure, ...] = (
    Structure("UDEMO", "Université de Démo", None, "etab"),
    Structure("UFRST", "UFR Sciences et Technologies", "UDEMO", "ufr"),
    Structure("UFRLLSH", "UFR Lettres, Langues et Sciences Humaines", "UDEMO", "ufr"),
    Structure("UFRDEG", "UFR Droit, Économie et Gestion", "UDEMO", "ufr"),
    Structure("UFRSAN", "UFR Santé", "UDEMO", "ufr"),
    Structure("IUT", "IUT de Démo", "UDEMO", "ufr"),
    Structure("INSPE", "INSPE de Démo", "UDEMO", "ufr"),
    Structure("LIDEMO", "Laboratoire d'Informatique de Démo (UMR 9999)", "UFRST", "lab"),
    Structure("DNUM", "Direction du Numérique", "UDEMO", "service"),
    Structure("DRH", "Direction des Ressources Humaines", "UDEMO", "service"),
    Structure("DFVE", "Direction de la Formation et de la Vie Étudiante", "UDEMO", "service"),
    Structure("SCD", "Service Commun de la Documentation", "UDEMO", "service"),
)

#: Étapes offered by each teaching structure: (code, cursus year, SISE diploma code).
ETAPES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "UFRST": (
        ("SCL1INF", "L1", "2500201"),
        ("SCL2INF", "L2", "2500201"),
        ("SCL3INF", "L3", "2500201"),
        ("SCL1MAT", "L1", "2500202"),
        ("SCL2PHY", "L2", "2500203"),
        ("SCM1INF", "M1", "4500201"),
        ("SCM2INF", "M2", "4500201"),
    ),
    "UFRLLSH": (
        ("LLL1LEA", "L1", "2500301"),
        ("LLL2LEA", "L2", "2500301"),
        ("LLL1HIS", "L1", "2500302"),
        ("LLL3PSY", "L3", "2500303"),
        ("LLM1LIT", "M1", "4500301"),
    ),
    "UFRDEG": (
        ("DEL1DRT", "L1", "2500401"),
        ("DEL2DRT", "L2", "2500401"),
        ("DEL3ECO", "L3", "2500402"),
        ("DEM1GES", "M1", "4500401"),
        ("DEM2DAF", "M2", "4500402"),
    ),
    "UFRSAN": (
        ("SAL1PAS", "L1", "2500501"),
        ("SAL2MED", "L2", "2500502"),
        ("SAL3MED", "L3", "2500502"),
    ),
    "IUT": (
        ("IUB1INF", "L1", "2500601"),
        ("IUB2GEA", "L2", "2500602"),
        ("IUB3RT", "L3", "2500603"),
    ),
    "INSPE": (("INM1MEF", "M1", "4500701"), ("INM2MEF", "M2", "4500701")),
}

#: Share of the students enrolled in each teaching structure.
STUDENT_STRUCTURES: dict[str, float] = {
    "UFRST": 0.27,
    "UFRLLSH": 0.22,
    "UFRDEG": 0.22,
    "UFRSAN": 0.14,
    "IUT": 0.10,
    "INSPE": 0.05,
}

#: Where teachers, staff and researchers are assigned.
TEACHER_STRUCTURES: dict[str, float] = {
    "UFRST": 0.28,
    "UFRLLSH": 0.22,
    "UFRDEG": 0.18,
    "UFRSAN": 0.14,
    "IUT": 0.12,
    "INSPE": 0.06,
}
STAFF_STRUCTURES: dict[str, float] = {
    "DNUM": 0.15,
    "DRH": 0.10,
    "DFVE": 0.20,
    "SCD": 0.12,
    "UFRST": 0.12,
    "UFRLLSH": 0.09,
    "UFRDEG": 0.09,
    "UFRSAN": 0.07,
    "IUT": 0.06,
}
RESEARCHER_STRUCTURES: dict[str, float] = {"LIDEMO": 0.6, "UFRST": 0.2, "UFRSAN": 0.2}


@dataclass(frozen=True)
class ServiceProfile:
    """How one CAS-protected service is used.

    `volume` is the number of CAS service tickets at the default size (6,000 people, 120
    days); `adoption` is the share of each role that uses the service at all, `intensity` how
    much an adopter of that role uses it compared with others; `weekday` (Monday first) and
    `evening` (hours 18-22 boost, Monday first) shape the week.
    """

    name: str
    host: str
    urls: tuple[str, ...]
    volume: int
    adoption: tuple[float, float, float, float]
    intensity: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    smartphone: float = 0.2
    tablet: float = 0.03
    outside: float = 0.45
    weekday: tuple[float, ...] = (1.1, 1.05, 1.0, 1.05, 0.9, 0.3, 0.3)
    evening: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    holiday_factor: float = 0.45


SERVICES: tuple[ServiceProfile, ...] = (
    ServiceProfile(
        name="ent",
        host=f"ent.{DOMAIN}",
        urls=(
            f"https://ent.{DOMAIN}/uPortal/Login",
            f"https://ent.{DOMAIN}/uPortal/Login?refUrl=%2FuPortal%2Ff%2Fwelcome%2Fnormal%2Frender.uP",
            f"https://ent.{DOMAIN}/uPortal/Login?refUrl=%2FuPortal%2Ff%2Fscolarite%2Fnormal%2Frender.uP",
        ),
        volume=380_000,
        adoption=(0.899, 0.928, 0.95, 0.62),
        intensity=(1.0, 0.8, 1.3, 0.5),
        smartphone=0.34,
        tablet=0.04,
        outside=0.45,
    ),
    ServiceProfile(
        name="moodle",
        host=f"moodle.{DOMAIN}",
        urls=(
            f"https://moodle.{DOMAIN}/login/index.php",
            f"https://moodle.{DOMAIN}/login/index.php?authCAS=CAS",
        ),
        volume=200_000,
        adoption=(0.704, 0.376, 0.06, 0.10),
        intensity=(1.0, 1.4, 0.5, 0.5),
        smartphone=0.035,
        tablet=0.02,
        outside=0.55,
        weekday=(1.0, 1.0, 0.95, 1.0, 0.85, 0.45, 0.95),
        evening=(1.0, 1.0, 1.0, 1.0, 0.8, 0.9, 2.2),
        holiday_factor=0.6,
    ),
    ServiceProfile(
        name="webmail",
        host=f"webmail.{DOMAIN}",
        urls=(f"https://webmail.{DOMAIN}/", f"https://webmail.{DOMAIN}/?_task=mail&_mbox=INBOX"),
        volume=150_000,
        adoption=(0.778, 0.86, 0.92, 0.75),
        intensity=(0.7, 1.2, 1.3, 1.0),
        smartphone=0.36,
        tablet=0.05,
        outside=0.48,
        weekday=(1.1, 1.05, 1.0, 1.05, 0.95, 0.4, 0.45),
        holiday_factor=0.6,
    ),
    ServiceProfile(
        name="ade",
        host=f"edt.{DOMAIN}",
        urls=(
            f"https://edt.{DOMAIN}/direct/myplanning.jsp",
            f"https://edt.{DOMAIN}/direct/index.jsp?showTree=false",
        ),
        volume=120_000,
        adoption=(0.754, 0.62, 0.15, 0.05),
        intensity=(1.0, 0.7, 0.5, 0.3),
        smartphone=0.5,
        tablet=0.03,
        outside=0.55,
        weekday=(1.75, 1.1, 1.0, 1.0, 0.85, 0.2, 0.65),
        evening=(1.0, 1.0, 1.0, 1.0, 0.8, 0.8, 2.6),
        holiday_factor=0.2,
    ),
    ServiceProfile(
        name="nextcloud",
        host=f"cloud.{DOMAIN}",
        urls=(f"https://cloud.{DOMAIN}/apps/user_cas/login",),
        volume=50_000,
        adoption=(0.15, 0.45, 0.55, 0.6),
        intensity=(0.6, 1.0, 1.2, 1.2),
        smartphone=0.12,
        tablet=0.03,
        outside=0.5,
    ),
    ServiceProfile(
        name="helpdesk",
        host=f"helpdesk.{DOMAIN}",
        urls=(
            f"https://helpdesk.{DOMAIN}/front/central.php",
            f"https://helpdesk.{DOMAIN}/front/helpdesk.public.php",
        ),
        volume=25_000,
        adoption=(0.06, 0.107, 0.62, 0.08),
        intensity=(0.4, 0.5, 2.5, 0.5),
        smartphone=0.03,
        tablet=0.01,
        outside=0.07,
        weekday=(1.15, 1.1, 1.05, 1.05, 0.95, 0.05, 0.03),
        holiday_factor=0.5,
    ),
    ServiceProfile(
        name="pod",
        host=f"pod.{DOMAIN}",
        urls=(f"https://pod.{DOMAIN}/authentication_login/?next=/",),
        volume=30_000,
        adoption=(0.40, 0.30, 0.08, 0.1),
        intensity=(1.0, 0.8, 0.4, 0.4),
        smartphone=0.22,
        tablet=0.06,
        outside=0.62,
        weekday=(1.0, 1.0, 1.0, 1.0, 0.9, 0.6, 0.9),
        evening=(1.5, 1.5, 1.5, 1.5, 1.3, 1.2, 1.8),
    ),
)

# ---------------------------------------------------------------------------------------------
# User agents: real strings, grouped by device class.

UA_DESKTOP: tuple[tuple[str, float], ...] = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        14.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36",
        8.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        7.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
        3.0,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 7.0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", 4.0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0", 1.0),
    (
        "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/109.0.0.0 Safari/537.36",
        0.5,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
        1.0,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        6.0,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Safari/605.1.15",
        3.0,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        5.0,
    ),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0", 2.0),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 2.0),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", 1.5),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        1.5,
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        0.5,
    ),
)

#: What the computer rooms' managed Windows machines run (students on wired campus network).
UA_LAB: tuple[tuple[str, float], ...] = (UA_DESKTOP[0], UA_DESKTOP[5])

UA_PHONE: tuple[tuple[str, float], ...] = (
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1.1 Mobile/15E148 Safari/604.1",
        10.0,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        6.0,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_7_10 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        2.0,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
        1.5,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        12.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        4.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.6723.107 Mobile Safari/537.36",
        3.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.6778.81 Mobile Safari/537.36",
        1.5,
    ),
    (
        "Mozilla/5.0 (Linux; Android 12; M2101K6G) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.6723.107 Mobile Safari/537.36",
        2.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-G991B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        2.0,
    ),
    ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", 1.0),
    (
        "Mozilla/5.0 (Linux; Android 11; Redmi Note 8 Pro) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/129.0.6668.100 Mobile Safari/537.36",
        1.5,
    ),
)

UA_TABLET: tuple[tuple[str, float], ...] = (
    (
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Mobile/15E148 Safari/604.1",
        4.0,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        3.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        2.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 12; Lenovo TB-X606F) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/130.0.6723.107 Safari/537.36",
        1.0,
    ),
)

UA_BOTS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "check_http/v2.3.3 (monitoring-plugins 2.3.3)",
)

# ---------------------------------------------------------------------------------------------
# Names (common French given names and surnames).

GIVEN_NAMES: tuple[str, ...] = (
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Jade", "Louise", "Zoé",
    "Lucie", "Clara", "Juliette", "Anaïs", "Mathilde", "Pauline", "Marie", "Océane", "Laura",
    "Élise", "Nathalie", "Isabelle", "Sophie", "Catherine", "Sylvie", "Hélène", "Valérie",
    "Lucas", "Hugo", "Thomas", "Théo", "Louis", "Nathan", "Maxime", "Antoine", "Clément",
    "Alexandre", "Quentin", "Enzo", "Mathis", "Paul", "Arthur", "Julien", "Nicolas", "Romain",
    "Yanis", "Mehdi", "Karim", "Pierre", "Philippe", "François", "Laurent", "Olivier", "Éric",
    "Jérôme", "Stéphane", "Christophe", "Bruno", "Gaël", "Noé",
)  # fmt: skip

SURNAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert",
    "Bonnet", "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc",
    "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin", "Morin", "Mathieu", "Clément",
    "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Masson", "Sanchez",
    "Gérard", "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gautier", "Roger",
    "Roche", "Roy", "Noël", "Meyer", "Lucas", "Meunier", "Jean", "Pérez", "Marchand", "Dufour",
    "Blanchard", "Marie", "Barbier", "Brun", "Dumas", "Brunet", "Schmitt", "Leroux", "Colin",
    "Fernandez", "Pierre", "Renard", "Arnaud", "Rolland", "Caron", "Aubert", "Giraud", "Leclerc",
    "Vidal", "Bourgeois", "Renaud", "Lemoine", "Picard", "Gaillard", "Philippe", "Leclercq",
    "Lacroix", "Fabre", "Dupuis", "Olivier", "Rodriguez", "Da Silva", "Hubert", "Louis",
    "Charles", "Guillot", "Rivière", "Le Gall", "Guillaume", "Adam", "Rey", "Moulin", "Gonzalez",
    "Berger", "Lecomte", "Ménard", "Fleury", "Deschamps", "Carpentier", "Julien", "Benoît",
    "Paris", "Maillard", "Marchal", "Aubry", "Vasseur", "Le Roux", "Renault", "Jacquet",
    "Collet", "Prévost", "Poirier", "Charpentier", "Royer", "Huet", "Baron", "Dupuy", "Pons",
    "Paul", "Laine", "Carré", "Breton", "Rémy", "Schneider", "Perrot", "Guyot", "Barre",
    "Marty", "Cousin", "Haddad", "Benali", "Diallo", "Traoré", "Kone", "Mendes", "Ferreira",
)  # fmt: skip

#: Services reached through the Shibboleth IdP (SAML), routed on the SP's entityID host.
SAML_SERVICES: tuple[ServiceProfile, ...] = (
    ServiceProfile(
        name="partage",
        host="partage.renater.fr",
        urls=("https://partage.renater.fr/shibboleth",),
        volume=26_000,
        adoption=(0.02, 0.35, 0.45, 0.5),
        intensity=(0.5, 1.0, 1.2, 1.2),
        smartphone=0.15,
        outside=0.45,
    ),
    ServiceProfile(
        name="renater-filesender",
        host="filesender.renater.fr",
        urls=("https://filesender.renater.fr/shibboleth",),
        volume=14_000,
        adoption=(0.05, 0.4, 0.35, 0.6),
        intensity=(0.4, 1.0, 1.0, 1.3),
        smartphone=0.05,
        outside=0.4,
    ),
    ServiceProfile(
        name="evento",
        host="evento.renater.fr",
        urls=("https://evento.renater.fr/shibboleth",),
        volume=6_000,
        adoption=(0.01, 0.3, 0.3, 0.3),
        smartphone=0.2,
        outside=0.35,
    ),
    ServiceProfile(
        name="fun-mooc",
        host="www.fun-mooc.fr",
        urls=("https://www.fun-mooc.fr/shibboleth",),
        volume=8_000,
        adoption=(0.08, 0.05, 0.05, 0.05),
        smartphone=0.25,
        outside=0.8,
        weekday=(1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.9),
    ),
)

#: Mail clients (IMAP/POP) logging in to Dovecot: phones and desktop clients, polling often.
MAIL_CLIENTS = ServiceProfile(
    name="mail",
    host=f"imap.{DOMAIN}",
    urls=(),
    volume=300_000,
    adoption=(0.22, 0.75, 0.85, 0.7),
    intensity=(0.5, 1.2, 1.4, 1.0),
    smartphone=0.45,
    tablet=0.03,
    outside=0.5,
    weekday=(1.05, 1.0, 1.0, 1.0, 0.95, 0.55, 0.55),
    holiday_factor=0.7,
)

#: Nextcloud's own sync clients (desktop and mobile), seen in its audit log.
NEXTCLOUD_CLIENTS = ServiceProfile(
    name="nextcloud",
    host=f"cloud.{DOMAIN}",
    urls=(),
    volume=45_000,
    adoption=(0.08, 0.35, 0.45, 0.5),
    intensity=(0.6, 1.0, 1.3, 1.2),
    smartphone=0.3,
    outside=0.5,
    weekday=(1.0, 1.0, 1.0, 1.0, 0.95, 0.5, 0.5),
)

UA_NEXTCLOUD_CLIENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows) mirall/3.14.3stable-Win64 (build 20241107) (Nextcloud, "
    "windows-10.0.22631 ClientArchitecture: x86_64 OsArchitecture: x86_64)",
    "Mozilla/5.0 (Macintosh) mirall/3.14.3stable-macOS (build 20241107) (Nextcloud, "
    "osx-23.6.0 ClientArchitecture: arm64 OsArchitecture: arm64)",
    "Mozilla/5.0 (Linux) mirall/3.13.4 (Nextcloud, ubuntu-6.8.0-49-generic "
    "ClientArchitecture: x86_64 OsArchitecture: x86_64)",
    "Mozilla/5.0 (Android) Nextcloud-android/3.30.5",
    "Mozilla/5.0 (iOS) Nextcloud-iOS/5.5.4",
)
