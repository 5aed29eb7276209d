"""pilar/cases/nik.py: the structure of NIK and KK numbers (SPEC §3), as plain functions."""

from datetime import date

import pytest

from pilar.cases.nik import kk_problems, nik_birth_problems, nik_problems, nik_sex

# 35 Jawa Timur, 01 Pacitan, 04 Pacitan kecamatan; 14-03-1950; serial 0001.
MALE = "3501041403500001"
FEMALE = "3501045403500001"  # the same birth date: day 14 + 40


def nik(*, province="35", regency="01", district="04", day="14", month="03", yy="50", serial="0001") -> str:
    value = f"{province}{regency}{district}{day}{month}{yy}{serial}"
    assert len(value) == 16
    return value


# ---------------------------------------------------------------- well-formed NIKs
@pytest.mark.parametrize(
    "value",
    [
        MALE,
        FEMALE,
        nik(province="11"),  # lowest province code (Aceh)
        nik(province="94"),  # highest province code (Papua)
        nik(day="01"),
        nik(day="31", month="01"),
        nik(day="41"),  # a woman born on the 1st
        nik(day="71", month="01"),  # a woman born on 31 January
        nik(day="30", month="04"),
        nik(day="70", month="04"),
        nik(day="28", month="02", yy="01"),
        nik(serial="0001"),
        nik(serial="9999"),
    ],
)
def test_well_formed_nik_has_no_problems(value):
    assert nik_problems(value) == []


def test_sex_is_encoded_in_the_day():
    assert nik_sex(MALE) == "L"
    assert nik_sex(FEMALE) == "P"
    assert nik_sex(nik(day="31", month="01")) == "L"
    assert nik_sex(nik(day="41")) == "P"


# ---------------------------------------------------------------- region and serial
@pytest.mark.parametrize("province", ["00", "10", "95", "99"])
def test_province_outside_11_to_94(province):
    problems = nik_problems(nik(province=province))
    assert len(problems) == 1
    assert "province" in problems[0] and province in problems[0]


def test_regency_and_district_00_do_not_exist():
    assert any("regency" in p for p in nik_problems(nik(regency="00")))
    assert any("district" in p for p in nik_problems(nik(district="00")))


def test_serial_0000_does_not_exist():
    problems = nik_problems(nik(serial="0000"))
    assert len(problems) == 1 and "serial" in problems[0]


def test_every_problem_is_reported_at_once():
    problems = nik_problems(nik(province="10", month="13", serial="0000"))
    assert len(problems) == 3


# ---------------------------------------------------------------- date of birth
@pytest.mark.parametrize("month", ["00", "13", "99"])
def test_month_outside_01_to_12(month):
    problems = nik_problems(nik(month=month))
    assert len(problems) == 1 and "month" in problems[0]


@pytest.mark.parametrize(
    "day, month",
    [
        ("00", "03"),  # no day 0
        ("32", "01"),  # no 32nd
        ("72", "01"),  # a woman's 32nd
        ("40", "03"),  # 40 is neither a man's day nor a woman's (41–71)
        ("80", "03"),
        ("31", "04"),  # April has 30 days
        ("71", "04"),
        ("31", "06"),
        ("31", "09"),
        ("31", "11"),
        ("30", "02"),
        ("70", "02"),
    ],
)
def test_day_that_is_not_a_day_of_the_month(day, month):
    problems = nik_problems(nik(day=day, month=month))
    assert len(problems) == 1 and "day" in problems[0]


@pytest.mark.parametrize("yy", ["00", "04", "48", "96"])
@pytest.mark.parametrize("day", ["29", "69"])
def test_29_february_allowed_when_the_year_could_be_a_leap_year(yy, day):
    assert nik_problems(nik(day=day, month="02", yy=yy)) == []


@pytest.mark.parametrize("yy", ["01", "50", "99"])
@pytest.mark.parametrize("day", ["29", "69"])
def test_29_february_refused_when_the_year_cannot_be_a_leap_year(yy, day):
    problems = nik_problems(nik(day=day, month="02", yy=yy))
    assert len(problems) == 1 and "day" in problems[0]


# ---------------------------------------------------------------- shape
@pytest.mark.parametrize(
    "value",
    [
        "",
        MALE[:15],
        MALE + "1",
        MALE[:8],
        " " + MALE[:15],
        MALE[:15] + " ",
        MALE[:15] + "a",
        "3501-04-14035000",
        "+350104140350001",
        "-350104140350001",
        "35010414035000.1",
        MALE[:15] + "\n",
        MALE[:15] + "３",  # FULLWIDTH DIGIT THREE
        MALE[:15] + "\u0663",  # ARABIC-INDIC DIGIT THREE
        MALE[:15] + "\u06f3",  # EXTENDED ARABIC-INDIC DIGIT THREE
        MALE[:15] + "\u0969",  # DEVANAGARI DIGIT THREE
        MALE[:15] + "³",  # SUPERSCRIPT THREE (str.isdigit() is true for it)
        "３５０１０４１４０３５０００１",  # sixteen fullwidth digits
        "\u0663" * 16,
    ],
)
def test_not_exactly_sixteen_ascii_digits(value):
    assert nik_problems(value) == ["must be exactly 16 digits"]


# ---------------------------------------------------------------- NIK against stated birth date and sex
def test_birth_problems_none_when_nik_agrees():
    assert nik_birth_problems(MALE, date(1950, 3, 14), "L") == []
    assert nik_birth_problems(FEMALE, date(1950, 3, 14), "P") == []


def test_birth_problems_century_is_not_encoded():
    assert nik_birth_problems(MALE, date(2050, 3, 14), "L") == []
    assert nik_birth_problems(nik(yy="04"), date(1904, 3, 14), "L") == []


def test_birth_problems_sex_mismatch():
    problems = nik_birth_problems(FEMALE, date(1950, 3, 14), "L")
    assert len(problems) == 1 and "sex" in problems[0]
    problems = nik_birth_problems(MALE, date(1950, 3, 14), "P")
    assert len(problems) == 1 and "sex" in problems[0]


@pytest.mark.parametrize(
    "stated",
    [date(1950, 3, 15), date(1950, 4, 14), date(1951, 3, 14), date(1960, 3, 14), date(1950, 3, 4)],
)
def test_birth_problems_date_mismatch(stated):
    problems = nik_birth_problems(MALE, stated, "L")
    assert len(problems) == 1
    assert "birth" in problems[0] and stated.isoformat() in problems[0]


def test_birth_problems_woman_compared_on_day_minus_40():
    # Day 54 is the 14th for a woman, never the 54th nor the 14th for a man.
    assert nik_birth_problems(FEMALE, date(1950, 3, 14), "P") == []
    assert len(nik_birth_problems(FEMALE, date(1950, 3, 15), "P")) == 1


def test_birth_problems_sex_and_date_both_reported():
    problems = nik_birth_problems(FEMALE, date(1951, 3, 14), "L")
    assert len(problems) == 2
    assert any("sex" in p for p in problems) and any("birth" in p for p in problems)


# ---------------------------------------------------------------- KK
@pytest.mark.parametrize("value", ["3501041203040005", "1100000000000000", "9499999999999999"])
def test_well_formed_kk(value):
    assert kk_problems(value) == []


@pytest.mark.parametrize(
    "value",
    ["", "350104120304000", "35010412030400051", "350104120304000x", "3501-41203040005",
     "350104120304000３", "350104120304000\u0663", "350104120304000³"],
)
def test_kk_not_sixteen_ascii_digits(value):
    assert kk_problems(value) == ["must be exactly 16 digits"]


@pytest.mark.parametrize("province", ["00", "10", "95", "99"])
def test_kk_province_outside_11_to_94(province):
    problems = kk_problems(province + "01041203040005")
    assert len(problems) == 1 and "province" in problems[0]
