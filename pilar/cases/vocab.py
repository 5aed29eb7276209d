"""The fixed vocabularies of SPEC §2–§3, one source for the domain, the API and the docs."""

PILLARS = (
    "tagana",
    "karang_taruna",
    "pkh",
    "tksk",
    "psm",
    "pendamping_sosial",
    "pelopor_perdamaian",
    "fk_lksa",
)

PPKS_CATEGORIES = (
    "anak_balita_terlantar",
    "anak_terlantar",
    "anak_berhadapan_hukum",
    "anak_jalanan",
    "anak_disabilitas",
    "anak_korban_kekerasan",
    "anak_perlindungan_khusus",
    "lansia_terlantar",
    "penyandang_disabilitas",
    "tuna_susila",
    "gelandangan",
    "pengemis",
    "pemulung",
    "kelompok_minoritas",
    "bekas_warga_binaan",
    "orang_dengan_hiv",
    "korban_napza",
    "korban_trafficking",
    "korban_kekerasan",
    "pekerja_migran_bermasalah",
    "korban_bencana_alam",
    "korban_bencana_sosial",
    "perempuan_rawan_sosial_ekonomi",
    "fakir_miskin",
    "keluarga_bermasalah_psikologis",
    "komunitas_adat_terpencil",
    "odgj",
)

PRIORITIES = ("low", "normal", "high", "urgent")
REFERRAL_SOURCES = (
    "musdes",
    "hotline",
    "walk_in",
    "outreach",
    "puskesmas",
    "school",
    *PILLARS,
    "other",
)
RISKS = ("low", "medium", "high", "critical")
CLOSURE_OUTCOMES = (
    "graduated",
    "moved_away",
    "deceased",
    "lost_contact",
    "duplicate",
    "declined_service",
    "other",
)
AID_COMPONENTS = (
    "basic_needs",
    "care",
    "family_support",
    "therapy",
    "vocational",
    "social_assistance",
    "accessibility",
)
FUNDING_SOURCES = ("apbd", "apbn", "csr", "other")
FOLLOW_UP_OUTCOMES = ("improved", "stable", "worse", "not_met")
SEXES = ("L", "P")
ROLES = ("worker", "supervisor", "auditor", "admin")
CASE_STATUSES = ("referred", "assessed", "aided", "closed")
CONSENT_METHODS = ("written", "oral_witnessed", "thumbprint", "electronic")

# UU PDP 27/2022 Pasal 20 ayat (2): the grounds on which personal data may be processed, in its order.
LAWFUL_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interest",
    "public_task",
    "legitimate_interest",
)
PRIVACY_REQUEST_KINDS = ("consent_withdrawn", "erasure_requested")
PRIVACY_REQUEST_STATUSES = ("open", "erased", "consent_renewed")
