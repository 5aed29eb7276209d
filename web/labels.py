"""Vocabulary codes (cases/vocab.py) as people read them: each code's English label is the
message id, its Indonesian label the catalogue's translation (web/translations/). Pillars keep
their proper names in both languages (SPEC §2)."""

from flask_babel import lazy_gettext as _l

from cases import vocab

PILLARS = {
    "tagana": "Tagana (Taruna Siaga Bencana)",
    "karang_taruna": "Karang Taruna",
    "pkh": "SDM Pendamping PKH",
    "tksk": "TKSK (Tenaga Kesejahteraan Sosial Kecamatan)",
    "psm": "PSM (Pekerja Sosial Masyarakat)",
    "pendamping_sosial": "Pendamping Sosial",
    "pelopor_perdamaian": "Pelopor Perdamaian",
    "fk_lksa": "FK-LKSA (Forum Lembaga Kesejahteraan Sosial Anak)",
}

LABELS = {
    "pillar": PILLARS,
    "ppks": {
        "anak_balita_terlantar": _l("Neglected toddler"),
        "anak_terlantar": _l("Neglected child"),
        "anak_berhadapan_hukum": _l("Child in conflict with the law"),
        "anak_jalanan": _l("Street child"),
        "anak_disabilitas": _l("Child with a disability"),
        "anak_korban_kekerasan": _l("Child victim of violence"),
        "anak_perlindungan_khusus": _l("Child needing special protection"),
        "lansia_terlantar": _l("Neglected elderly person"),
        "penyandang_disabilitas": _l("Person with a disability"),
        "tuna_susila": _l("Sex worker"),
        "gelandangan": _l("Homeless person"),
        "pengemis": _l("Beggar"),
        "pemulung": _l("Scavenger"),
        "kelompok_minoritas": _l("Minority group"),
        "bekas_warga_binaan": _l("Former prison inmate"),
        "orang_dengan_hiv": _l("Person living with HIV"),
        "korban_napza": _l("Victim of drug abuse"),
        "korban_trafficking": _l("Victim of trafficking"),
        "korban_kekerasan": _l("Victim of violence"),
        "pekerja_migran_bermasalah": _l("Troubled migrant worker"),
        "korban_bencana_alam": _l("Victim of a natural disaster"),
        "korban_bencana_sosial": _l("Victim of a social disaster"),
        "perempuan_rawan_sosial_ekonomi": _l("Socio-economically vulnerable woman"),
        "fakir_miskin": _l("Destitute poor"),
        "keluarga_bermasalah_psikologis": _l("Family with psychological problems"),
        "komunitas_adat_terpencil": _l("Remote indigenous community"),
        "odgj": _l("Person with a mental disorder (ODGJ)"),
    },
    "atensi": {
        "basic_needs": _l("Basic needs"),
        "care": _l("Care"),
        "family_support": _l("Family support"),
        "therapy": _l("Therapy"),
        "vocational": _l("Vocational training"),
        "social_assistance": _l("Social assistance"),
        "accessibility": _l("Accessibility aid"),
    },
    "status": {"referred": _l("Referred"), "assessed": _l("Assessed"), "aided": _l("Aided"), "closed": _l("Closed")},
    "priority": {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")},
    "risk": {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High"), "critical": _l("Critical")},
    "source": {
        "musdes": _l("Village meeting (musdes)"), "hotline": _l("Hotline"), "walk_in": _l("Came in person"),
        "outreach": _l("Outreach"), "puskesmas": _l("Puskesmas"), "school": _l("School"), **PILLARS,
        "other": _l("Other"),
    },
    "closure": {
        "graduated": _l("Graduated (self-reliant)"), "moved_away": _l("Moved away"), "deceased": _l("Deceased"),
        "lost_contact": _l("Lost contact"), "duplicate": _l("Duplicate"), "declined_service": _l("Declined service"),
        "other": _l("Other"),
    },
    "funding": {"apbd": "APBD", "apbn": "APBN", "csr": "CSR", "other": _l("Other")},
    "follow_up_outcome": {"improved": _l("Improved"), "stable": _l("Stable"), "worse": _l("Worse"),
                          "not_met": _l("Not met")},
    "sex": {"L": _l("Male"), "P": _l("Female")},
    "event": {
        "CaseOpened": _l("Case opened"), "CaseAssigned": _l("Assigned"), "NeedsAssessed": _l("Needs assessed"),
        "AidGiven": _l("Aid given"), "FollowUpScheduled": _l("Follow-up scheduled"),
        "FollowUpCompleted": _l("Follow-up completed"), "ReferralSent": _l("Referred to another pillar"),
        "ReferralAccepted": _l("Referral accepted"), "ReferralDeclined": _l("Referral declined"),
        "CaseClosed": _l("Case closed"), "CaseReopened": _l("Case reopened"),
        "LawfulBasisChanged": _l("Lawful basis changed"),
    },
}
VOCABULARIES = {
    "pillar": vocab.PILLARS, "ppks": vocab.PPKS_CATEGORIES, "atensi": vocab.AID_COMPONENTS,
    "status": vocab.CASE_STATUSES, "priority": vocab.PRIORITIES, "risk": vocab.RISKS,
    "source": vocab.REFERRAL_SOURCES, "closure": vocab.CLOSURE_OUTCOMES, "funding": vocab.FUNDING_SOURCES,
    "follow_up_outcome": vocab.FOLLOW_UP_OUTCOMES, "sex": vocab.SEXES,
}


def label(kind: str, code: str | None) -> str:
    """A code's label in the reader's language; an unknown code as itself."""
    if code is None:
        return "–"
    return str(LABELS[kind].get(code, code))


def options(kind: str) -> list[tuple[str, str]]:
    """(code, label) for every code of a vocabulary, in the vocabulary's order."""
    return [(code, label(kind, code)) for code in VOCABULARIES[kind]]
