"""The words of the web pages in French (the default) and English, and English number formats.

Why a dictionary rather than gettext: a few dozen strings in two languages, reviewed together;
the indicators carry their own titles and labels in both languages. Dimension values stored in
the lake (`student`, `wifi`, `smartphone`) get readable labels here; unknown values show as is.
"""

from __future__ import annotations

from typing import Literal

from vigie.indicators.privacy import format_fr

__all__ = ["LANGS", "VALUE_LABELS", "Lang", "format_cell", "format_en", "lang_of", "text",
           "value_label"]

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")

_TEXT: dict[str, tuple[str, str]] = {
    "app": ("vigie — tableaux de bord", "vigie — dashboards"),
    "login": ("Connexion", "Sign in"),
    "user": ("Identifiant", "User name"),
    "password": ("Mot de passe", "Password"),
    "sign_in": ("Se connecter", "Sign in"),
    "bad_login": ("Identifiant ou mot de passe incorrect.", "Wrong user name or password."),
    "logout": ("Se déconnecter", "Sign out"),
    "period": ("Période", "Period"),
    "week": ("Cette semaine", "This week"),
    "month": ("Ce mois-ci", "This month"),
    "year": ("Cette année universitaire", "This academic year"),
    "all": ("Tout", "Everything"),
    "custom": ("Personnalisée", "Custom"),
    "from": ("Du", "From"),
    "to": ("au", "to"),
    "service": ("Service", "Service"),
    "population": ("Population", "Population"),
    "structure": ("Structure", "Structure"),
    "etape": ("Étape", "Study step"),
    "zone": ("Zone réseau", "Network zone"),
    "device": ("Terminal", "Device"),
    "source": ("Source", "Source"),
    "any": ("Tous", "All"),
    "apply": ("Appliquer", "Apply"),
    "csv": ("Export CSV", "CSV export"),
    "png": ("Image PNG", "PNG image"),
    "data": ("Données", "Data"),
    "loading": ("Chargement…", "Loading…"),
    "no_data": ("Aucune donnée pour ces filtres.", "No data for these filters."),
    "error": ("Erreur de chargement", "Loading error"),
    "fixed_service": ("Service fixé par le tableau de bord", "Service fixed by the dashboard"),
    "fixed_sign_on": ("Sources d’authentification unique (CAS, Shibboleth), fixées par le "
                      "tableau de bord", "Single sign-on sources (CAS, Shibboleth), fixed by "
                      "the dashboard"),
    "ignored": ("Filtre sans effet sur cet indicateur", "Filter not applicable to this indicator"),
    "suppressed_note": ("« < {k} » : moins de {k} personnes, valeur masquée.",
                        "“< {k}”: fewer than {k} people, value withheld."),
    "scope_note": ("Chiffres limités à vos structures et à leurs sous-structures",
                   "Figures limited to your structures and their sub-structures"),
    "switch": ("English", "Français"),
    "forbidden": ("Accès refusé", "Forbidden"),
    "forbidden_text": ("Votre rôle ne permet pas d’ouvrir cette page.",
                       "Your role does not allow this page."),
    "role": ("rôle", "role"),
}

#: Labels of dimension values found in the lake, French then English.
VALUE_LABELS: dict[str, tuple[str, str]] = {
    "student": ("Étudiants", "Students"),
    "teacher": ("Enseignants", "Teachers"),
    "faculty": ("Enseignants-chercheurs", "Faculty"),
    "researcher": ("Chercheurs", "Researchers"),
    "staff": ("Personnels", "Staff"),
    "employee": ("Employés", "Employees"),
    "affiliate": ("Affiliés", "Affiliates"),
    "alum": ("Anciens", "Alumni"),
    "unknown": ("Inconnus", "Unknown"),
    "anonymous": ("Anonymes", "Anonymous"),
    "inside": ("Intérieur", "Inside"),
    "outside": ("Extérieur", "Outside"),
    "wired": ("Filaire", "Wired"),
    "wifi": ("Wi-Fi", "Wi-Fi"),
    "eduroam": ("eduroam", "eduroam"),
    "vpn": ("VPN", "VPN"),
    "desktop": ("Ordinateur", "Desktop"),
    "smartphone": ("Smartphone", "Smartphone"),
    "tablet": ("Tablette", "Tablet"),
    "bot": ("Robot", "Bot"),
    "other": ("Autre", "Other"),
    # Status of a source in `ingestion_health`.
    "ok": ("ok", "ok"),
    "late": ("en retard", "late"),
    "failures_rising": ("échecs en hausse", "failures rising"),
    "late_failures_rising": ("en retard, échecs en hausse", "late, failures rising"),
}


def lang_of(value: str | None) -> Lang:
    """`en` when asked for, French otherwise."""
    return "en" if value == "en" else "fr"


def text(key: str, lang: Lang) -> str:
    """One interface string."""
    fr, en = _TEXT[key]
    return en if lang == "en" else fr


def value_label(value: str, lang: Lang) -> str:
    """The readable label of a dimension value (`student` → `Étudiants`), or the value."""
    labels = VALUE_LABELS.get(value)
    return value if labels is None else labels[1 if lang == "en" else 0]


def format_en(value: float | None, kind: str, *, suppressed: bool = False, k: int = 5) -> str:
    """A published cell for an English reader: `< 5`, `2,898`, `10.7%`, `–` for no data."""
    if suppressed:
        return f"< {k}"
    if value is None:
        return "–"
    if kind == "ratio":
        return f"{value * 100:.1f}%"
    if kind in ("people", "count") or float(value).is_integer():
        return f"{round(value):,}"
    return f"{value:,.2f}"


def format_cell(value: float | None, kind: str, lang: Lang, *, suppressed: bool, k: int) -> str:
    """`format_fr` (the privacy module's French rendering) or `format_en`."""
    if lang == "en":
        return format_en(value, kind, suppressed=suppressed, k=k)
    return format_fr(value, kind, suppressed=suppressed, k=k)
