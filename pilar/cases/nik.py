"""Structure of the Indonesian NIK and KK numbers (SPEC §3).

NIK = PPKKCCDDMMYYSSSS: province, regency, district of first issue, day of birth (+40 for
women), month, two-digit year, serial. The region is where the NIK was issued, not where the
person lives, so it is never checked against the configured regency.
"""

import calendar
from datetime import date


def nik_problems(nik: str) -> list[str]:
    """Every structural problem of a NIK; empty when it is well-formed."""
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        return ["must be exactly 16 digits"]
    problems = []
    province = int(nik[0:2])
    if not 11 <= province <= 94:
        problems.append(f"province code {nik[0:2]} is not between 11 and 94")
    if nik[2:4] == "00":
        problems.append("regency code 00 does not exist")
    if nik[4:6] == "00":
        problems.append("district code 00 does not exist")
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if day > 40:
        day -= 40
    if not 1 <= month <= 12:
        problems.append(f"month of birth {nik[8:10]} is not between 01 and 12")
    elif not 1 <= day <= _longest_month(month, yy):
        problems.append(
            f"day of birth {nik[6:8]} is not a day of month {nik[8:10]} "
            "(women add 40 to the day)"
        )
    if nik[12:16] == "0000":
        problems.append("serial 0000 does not exist; serials start at 0001")
    return problems


def _longest_month(month: int, yy: int) -> int:
    # The century is unknown, so 29 February is allowed in any year that could be a leap year.
    if month == 2:
        return 29 if yy % 4 == 0 else 28
    return calendar.monthrange(2001, month)[1]


def nik_sex(nik: str) -> str:
    return "P" if int(nik[6:8]) > 40 else "L"


def nik_birth_problems(nik: str, birth_date: date, sex: str) -> list[str]:
    """Disagreements between a well-formed NIK and the stated birth date and sex."""
    problems = []
    day = int(nik[6:8])
    encoded_sex = nik_sex(nik)
    if encoded_sex != sex:
        problems.append(
            f"encodes sex {encoded_sex} (day {nik[6:8]}) but sex is {sex}"
        )
    if day > 40:
        day -= 40
    if (day, int(nik[8:10]), int(nik[10:12])) != (
        birth_date.day,
        birth_date.month,
        birth_date.year % 100,
    ):
        problems.append(
            f"encodes birth date {day:02d}-{nik[8:10]}-..{nik[10:12]} "
            f"but birth_date is {birth_date.isoformat()}"
        )
    return problems


def kk_problems(kk: str) -> list[str]:
    if len(kk) != 16 or not kk.isascii() or not kk.isdigit():
        return ["must be exactly 16 digits"]
    if not 11 <= int(kk[0:2]) <= 94:
        return [f"province code {kk[0:2]} is not between 11 and 94"]
    return []
