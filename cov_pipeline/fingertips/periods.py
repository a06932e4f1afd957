"""Fingertips, the time periods: each period label of an export ('2022', '2020 - 22',
'2022/23', '2020/21 - 22/23', '2022 Q1', '2022/23 Q1', 'Jan 2022') as its type, first and last
day and the years it pools (:func:`parse_time_periods`); a label not recognised gives nulls (the
parsers make it a row fault). Each distinct label is parsed once, however many rows hold it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
# The years a period may start in (the first and last): public health data of the last century
# and this one.
PERIOD_YEARS = (1900, 2099)

# Digits are ASCII digits: ``\d`` would also take other scripts' digits ('２０２２'), which
# no number parser reads; such a label is not recognised (a row fault), never an error.
_PERIOD_PATTERNS = {
    # 2022
    "calendar_year": r"^(?P<y1>[0-9]{4})$",
    # 2020 - 22 (pooled calendar years)
    "calendar_pooled": r"^(?P<y1>[0-9]{4})\s*-\s*(?P<y2>[0-9]{2}|[0-9]{4})$",
    # 2022/23
    "financial_year": r"^(?P<y1>[0-9]{4})/(?P<y1b>[0-9]{2})$",
    # 2020/21 - 22/23 (pooled financial years)
    "financial_pooled": (
        r"^(?P<y1>[0-9]{4})/(?P<y1b>[0-9]{2})\s*-\s*(?P<y2>[0-9]{2})/(?P<y2b>[0-9]{2})$"
    ),
    # 2022 Q1
    "calendar_quarter": r"^(?P<y1>[0-9]{4})\s+Q(?P<q>[1-4])$",
    # 2022/23 Q1
    "financial_quarter": r"^(?P<y1>[0-9]{4})/(?P<y1b>[0-9]{2})\s+Q(?P<q>[1-4])$",
    # Jan 2022
    "month": r"^(?P<mon>[A-Za-z]{3})[A-Za-z]*\s+(?P<y1>[0-9]{4})$",
}


def _full_year(start_year: pd.Series, two_digits: pd.Series) -> pd.Series:
    """'22' after 2020 is 2022; '01' after 1999 is 2001."""
    yy = pd.to_numeric(two_digits, errors="coerce")
    candidate = (start_year // 100) * 100 + yy
    return candidate.where(candidate >= start_year, candidate + 100).where(yy < 100, yy)


def parse_time_periods(periods: pd.Series) -> pd.DataFrame:
    """Type, first day, last day and years pooled of each Fingertips period label (null if unknown).

    Financial years run 1 April to 31 March; '2020/21 - 22/23' pools three financial years. An
    export holds a few dozen distinct labels however many rows it has: each is parsed once.
    """
    codes, parsed = _parse_distinct_periods(periods)
    return pd.DataFrame(_take_periods(parsed, codes, periods.index), copy=False)


def _parse_distinct_periods(periods: pd.Series) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's label code and the parsed distinct labels, with one more row of nulls last:
    the code -1 of a missing label picks it as it stands."""
    codes, labels = pd.factorize(periods, use_na_sentinel=True)
    parsed = _parse_period_labels(pd.Series(labels, dtype=object))
    nulls = pd.DataFrame({name: pd.Series([None], dtype=parsed[name].dtype) for name in parsed})
    return codes, pd.concat([parsed, nulls], ignore_index=True)


def _take_periods(parsed: pd.DataFrame, codes: np.ndarray, index: pd.Index) -> dict[str, pd.Series]:
    """The parsed columns at ``codes``, one take per column (no frame-wide indexing), in their
    own dtypes."""
    return {
        name: pd.Series(parsed[name].array.take(codes), index=index, copy=False)
        for name in parsed.columns
    }


def _parse_period_labels(periods: pd.Series) -> pd.DataFrame:
    text = periods.fillna("").astype(str).str.strip()
    out = pd.DataFrame(
        {
            "period_type": pd.Series(None, index=periods.index, dtype=object),
            "period_start": pd.Series(pd.NaT, index=periods.index, dtype="datetime64[ns]"),
            "period_end": pd.Series(pd.NaT, index=periods.index, dtype="datetime64[ns]"),
            "period_years": pd.Series(pd.NA, index=periods.index, dtype="Int64"),
        }
    )
    for kind, pattern in _PERIOD_PATTERNS.items():
        parts = text.str.extract(pattern)
        hit = parts["y1"].notna() & out["period_type"].isna()
        if not hit.any():
            continue
        parts = parts.loc[hit]
        y1 = pd.to_numeric(parts["y1"], errors="coerce")
        # a year outside PERIOD_YEARS is no period of these data (and pandas' timestamps end
        # in 2262; a second year is at most 99 after the first): the label is not recognised
        known = y1.between(*PERIOD_YEARS)
        hit.loc[hit] = known.to_numpy()
        parts, y1 = parts.loc[known], y1.loc[known].astype("int64")
        if "y1b" in parts:
            # the second half of '2022/23' must be the following year
            follows = _full_year(y1, parts["y1b"]) == y1 + 1
            hit.loc[hit] = follows.to_numpy()
            parts, y1 = parts.loc[follows], y1.loc[follows]
        if kind == "calendar_year":
            start, end, years, label = _dates(y1, 1, 1), _dates(y1, 12, 31), 1, "calendar_year"
        elif kind == "calendar_pooled":
            y2 = _full_year(y1, parts["y2"].str[-2:])
            valid = y2 > y1
            start, end = _dates(y1, 1, 1), _dates(y2, 12, 31)
            years, label = (y2 - y1 + 1), "calendar_year"
            hit.loc[hit] = valid.to_numpy()
            start, end, years = start[valid], end[valid], years[valid]
        elif kind == "financial_year":
            start, end, years, label = _dates(y1, 4, 1), _dates(y1 + 1, 3, 31), 1, "financial_year"
        elif kind == "financial_pooled":
            y2 = _full_year(y1, parts["y2"])
            valid = (y2 > y1) & (_full_year(y2, parts["y2b"]) == y2 + 1)
            start, end = _dates(y1, 4, 1), _dates(y2 + 1, 3, 31)
            years, label = (y2 - y1 + 1), "financial_year"
            hit.loc[hit] = valid.to_numpy()
            start, end, years = start[valid], end[valid], years[valid]
        elif kind in ("calendar_quarter", "financial_quarter"):
            q = pd.to_numeric(parts["q"]).astype("int64")
            first_month = (
                (q - 1) * 3 + 1 if kind == "calendar_quarter" else ((q - 1) * 3 + 3) % 12 + 1
            )
            year = y1 if kind == "calendar_quarter" else y1 + (q == 4).astype("int64")
            start = pd.to_datetime(pd.DataFrame({"year": year, "month": first_month, "day": 1}))
            end = start + pd.offsets.QuarterEnd(0)
            years, label = 1, kind
        else:  # month
            month = parts["mon"].str.lower().map(_MONTHS)
            valid = month.notna()
            hit.loc[hit] = valid.to_numpy()
            start = pd.to_datetime(
                pd.DataFrame({"year": y1[valid], "month": month[valid].astype("int64"), "day": 1})
            )
            end = start + pd.offsets.MonthEnd(0)
            years, label = 1, "month"
        out.loc[hit, "period_type"] = label
        out.loc[hit, "period_start"] = np.asarray(start, dtype="datetime64[ns]")
        out.loc[hit, "period_end"] = np.asarray(end, dtype="datetime64[ns]")
        out.loc[hit, "period_years"] = years if np.isscalar(years) else np.asarray(years)
    return out


def _dates(years: pd.Series, month: int, day: int) -> pd.Series:
    return pd.to_datetime(pd.DataFrame({"year": years, "month": month, "day": day}))
