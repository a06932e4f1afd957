"""The reference files under contract: the CIPFA neighbours and the Fingertips indicators'
methods, read by the one raw reader and used whole or not at all (every fault a file fault
listing each line)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cov_pipeline.indicators import (
    FAULTS_SHOWN,
    INDICATOR_COLUMNS,
    NEIGHBOUR_COLUMNS,
    load_indicator_reference,
    load_neighbours,
)
from cov_pipeline.quality import FileFault
from cov_pipeline.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "data" / "raw" / "reference"
NEIGHBOURS = "area_code,area_name,neighbour_code,neighbour_name,neighbour_rank,source\n"
COVENTRY = "E08000026,Coventry,"
DERBY = f"{COVENTRY}E06000015,Derby,1,CIPFA"
BOLTON = f"{COVENTRY}E08000001,Bolton,2,CIPFA"
PETERBOROUGH = f"{COVENTRY}E06000031,Peterborough,3,CIPFA"
INDICATORS = ",".join(INDICATOR_COLUMNS) + "\n"
INFANT = "92196,Infant mortality,crude_rate,1000,RAG - Low is good,per 1000"
LOW_WEIGHT = "20101,Low birth weight,proportion,100,RAG - Low is good,%"
REFUSED = "CIPFA neighbours refused"


def write(folder: Path, name: str, header: str, rows: list[str]) -> Path:
    path = folder / name
    path.write_text(header + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def neighbours_fault(tmp_path: Path, rows: list[str]) -> str:
    with pytest.raises(FileFault) as caught:
        load_neighbours([write(tmp_path, "cipfa_neighbours.csv", NEIGHBOURS, rows)])
    return str(caught.value)


def indicators_fault(paths: list[Path]) -> str:
    with pytest.raises(FileFault) as caught:
        load_indicator_reference(paths)
    return str(caught.value)


def test_the_shipped_files_load_as_before():
    neighbours = load_neighbours(sorted(SHIPPED.glob("cipfa_neighbours*.csv")))
    table = neighbours.table
    assert list(table.columns) == [*NEIGHBOUR_COLUMNS, "source_file"]
    assert table["neighbour_name"].tolist() == [
        "Derby", "Bolton", "Peterborough", "Leeds", "Sheffield"
    ]  # fmt: skip
    assert table["neighbour_rank"].tolist() == [1, 2, 3, 4, 5]
    assert table["neighbour_rank"].dtype == "int64"
    assert [f.name for f in neighbours.files] == ["cipfa_neighbours.csv"]

    methods = load_indicator_reference(sorted(SHIPPED.glob("fingertips_indicators*.csv")))
    assert list(methods.table.columns) == INDICATOR_COLUMNS
    assert methods.table["indicator_id"].dtype == "int64"
    assert methods.table["multiplier"].dtype == "float64"
    assert len(methods.table) == methods.files[0].rows == 6


def test_a_valid_list_is_staged_whole(tmp_path):
    rows = [PETERBOROUGH, DERBY, f'{COVENTRY}E08000001," Bolton, Greater Manchester ",2,CIPFA']
    load = load_neighbours([write(tmp_path, "cipfa_neighbours.csv", NEIGHBOURS, ["", *rows])])
    table = load.table
    assert table["neighbour_rank"].tolist() == [1, 2, 3]  # sorted by rank
    assert table["neighbour_name"].tolist() == [
        "Derby",
        "Bolton, Greater Manchester",
        "Peterborough",
    ]
    assert load.files[0].rows == 3  # the blank line is not a record


# Each case: the rows after the header, and the faults the refusal lists (line 2 is the first row).
NEIGHBOUR_CASES = {
    "duplicated rank": (
        [DERBY, BOLTON.replace(",2,", ",1,"), PETERBOROUGH],
        [
            "lines 2-4: the ranks of E08000026 skip 2 (they must run 1 to n without gaps)",
            "line 3: rank 1 given again for E08000026 (first on line 2)",
        ],
    ),
    "fractional rank": (
        [DERBY, BOLTON.replace(",2,", ",1.5,"), PETERBOROUGH.replace(",3,", ",2,")],
        ["line 3: neighbour_rank '1.5' is not a whole number"],
    ),
    "fractional rank leaving a gap": (
        [DERBY, BOLTON.replace(",2,", ",1.5,"), PETERBOROUGH],
        [
            "line 3: neighbour_rank '1.5' is not a whole number",
            "lines 2-4: the ranks of E08000026 skip 2 (they must run 1 to n without gaps)",
        ],
    ),
    "blank rank": (
        [DERBY, BOLTON, PETERBOROUGH.replace(",3,", ",,")],
        ["line 4: neighbour_rank is blank"],
    ),
    "rank 0": (
        [DERBY.replace(",1,", ",0,"), BOLTON.replace(",2,", ",1,")],
        ["line 2: neighbour_rank '0' is below 1 (1 = nearest)"],
    ),
    "blank neighbour code": (
        [DERBY, BOLTON, PETERBOROUGH.replace("E06000031", "")],
        ["line 4: neighbour_code is blank"],
    ),
    "blank area code": (
        [DERBY, BOLTON, PETERBOROUGH.replace("E08000026", " ")],
        ["line 4: area_code is blank"],
    ),
    "malformed code (7 digits)": (
        [DERBY, BOLTON, f"{COVENTRY}E0800039,Sheffield,3,CIPFA"],
        [
            "line 4: neighbour_code 'E0800039' is not an ONS GSS code (a capital letter and "
            "eight digits)"
        ],
    ),
    "lower-case code": (
        [DERBY.replace("E06000015", "e06000015"), BOLTON],
        [
            "line 2: neighbour_code 'e06000015' is not an ONS GSS code (a capital letter and "
            "eight digits)"
        ],
    ),
    "Derby listed twice": (
        [DERBY, BOLTON, PETERBOROUGH, f"{COVENTRY}E06000015,Derby,4,CIPFA"],
        ["line 5: neighbour E06000015 (Derby) listed again for E08000026 (first on line 2)"],
    ),
    "Derby listed twice under one rank": (
        [DERBY, DERBY, BOLTON],
        [
            "line 3: neighbour E06000015 (Derby) listed again for E08000026 (first on line 2)",
            "line 3: rank 1 given again for E08000026 (first on line 2)",
        ],
    ),
    "its own neighbour": (
        [DERBY, BOLTON, f"{COVENTRY}E08000026,Coventry,3,CIPFA"],
        ["line 4: E08000026 is listed as its own neighbour"],
    ),
    "Total row": (
        [DERBY, BOLTON, PETERBOROUGH, f"{COVENTRY},Total,,CIPFA"],
        ["line 5: a total row, not a neighbour (neighbour_name 'Total')"],
    ),
    "Total row in the first column": (
        [DERBY, BOLTON, PETERBOROUGH, "Total,,,,6,"],
        ["line 5: a total row, not a neighbour (area_code 'Total')"],
    ),
    "cleared row": (
        [DERBY, BOLTON, ",,,,,", PETERBOROUGH],
        ["line 4: every field is empty (a cleared row)"],
    ),
    "extra comma (an unquoted name)": (
        [DERBY, f"{COVENTRY}E08000001,Bolton, Greater Manchester,2,CIPFA", PETERBOROUGH],
        [
            "line 3: record has 7 fields, the header 6 (extra: 'CIPFA'; a comma in a field that "
            "is not quoted?)",
            "lines 2-4: the ranks of E08000026 skip 2 (they must run 1 to n without gaps)",
        ],
    ),
    "missing field": (
        [DERBY, f"{COVENTRY}E08000001,Bolton,2"],
        ["line 3: record has 5 fields, the header 6"],
    ),
}


@pytest.mark.parametrize("rows, faults", NEIGHBOUR_CASES.values(), ids=NEIGHBOUR_CASES.keys())
def test_a_list_breaking_the_contract_is_refused_with_every_fault(tmp_path, rows, faults):
    message = neighbours_fault(tmp_path, rows)
    assert message.startswith(f"cipfa_neighbours.csv: {REFUSED} ({len(faults)} fault")
    for fault in faults:
        assert fault in message


def test_every_fault_of_a_list_is_listed_in_line_order(tmp_path):
    message = neighbours_fault(
        tmp_path,
        [DERBY, f"{COVENTRY}E0800039,Bolton,2,CIPFA", ",,,,,", f"{COVENTRY},Total,,CIPFA", BOLTON],
    )
    assert message == (
        f"cipfa_neighbours.csv: {REFUSED} (4 faults; the list is used whole or not at all): "
        "line 3: neighbour_code 'E0800039' is not an ONS GSS code (a capital letter and eight "
        "digits); line 4: every field is empty (a cleared row); line 5: a total row, not a "
        "neighbour (neighbour_name 'Total'); line 6: rank 2 given again for E08000026 (first "
        "on line 3)"
    )


def test_a_long_list_of_faults_is_cut_short_with_a_count(tmp_path):
    # every neighbour code with seven digits
    rows = [f"{COVENTRY}E{i:07d},Somewhere,{i + 1},CIPFA" for i in range(FAULTS_SHOWN + 5)]
    message = neighbours_fault(tmp_path, rows)
    assert f"({FAULTS_SHOWN + 5} faults;" in message
    assert message.endswith("; and 5 more")


def shipped_and_api_lists(folder: Path, derby_rank: int) -> list[Path]:
    """The shipped list (Derby 1, Bolton 2) and an API download (Bolton 1, Derby ``derby_rank``),
    written as the download writes it (no area_name, no source)."""
    return [
        write(folder, "cipfa_neighbours.csv", NEIGHBOURS, [DERBY, BOLTON]),
        write(
            folder,
            "cipfa_neighbours_api.csv",
            ",".join(NEIGHBOUR_COLUMNS) + "\n",
            ["E08000026,E08000001,Bolton,1", f"E08000026,E06000015,Derby,{derby_rank}"],
        ),
    ]


def test_the_api_list_replaces_the_shipped_list_of_its_area(tmp_path):
    shipped, api = shipped_and_api_lists(tmp_path, derby_rank=2)
    load = load_neighbours([api, shipped])
    assert load.table["neighbour_code"].tolist() == ["E08000001", "E06000015"]
    assert set(load.table["source_file"]) == {"cipfa_neighbours_api.csv"}
    assert load.replaced == {"cipfa_neighbours.csv": ["E08000026"]}  # said, not silent


def test_a_faulty_api_list_is_refused_even_with_a_good_shipped_list(tmp_path):
    shipped, api = shipped_and_api_lists(tmp_path, derby_rank=1)
    with pytest.raises(FileFault) as caught:
        load_neighbours([shipped, api])
    assert str(caught.value).startswith(f"cipfa_neighbours_api.csv: {REFUSED}")
    assert "line 3: rank 1 given again for E08000026 (first on line 2)" in str(caught.value)


def test_header_faults_name_the_file(tmp_path):
    path = write(tmp_path, "cipfa_neighbours.csv", "area_code,neighbour_code,rank\n", ["x,y,1"])
    with pytest.raises(FileFault, match=r"^cipfa_neighbours\.csv: wrong header: missing"):
        load_neighbours([path])
    path = write(tmp_path, "cipfa_neighbours.csv", NEIGHBOURS, [])
    with pytest.raises(FileFault, match=r"^cipfa_neighbours\.csv: has a header but no neighbours"):
        load_neighbours([path])
    with pytest.raises(FileFault, match="no reference file found"):
        load_neighbours([])


# -- indicator methods --------------------------------------------------------------------------
INDICATOR_CASES = {
    "duplicated id": (
        [INFANT, LOW_WEIGHT, INFANT.replace("Infant mortality", "Infant deaths")],
        ["line 4: indicator_id 92196 listed again (first on line 2)"],
    ),
    "unknown value_type": (
        [INFANT.replace("crude_rate", "rate"), LOW_WEIGHT],
        ["line 2: value_type 'rate' is not one of crude_rate, other, proportion"],
    ),
    "fractional id": (
        [INFANT.replace("92196", "92196.5")],
        ["line 2: indicator_id '92196.5' is not a whole number"],
    ),
    "id 0": ([INFANT.replace("92196", "0")], ["line 2: indicator_id '0' is not positive"]),
    "blank short name": ([INFANT.replace("Infant mortality", "")], ["line 2: short_name is blank"]),
    "multiplier 0": ([INFANT.replace(",1000,", ",0,")], ["line 2: multiplier '0' is not positive"]),
    "multiplier not a number": (
        [INFANT.replace(",1000,", ",per 1000,")],
        ["line 2: multiplier 'per 1000' is not a number"],
    ),
    "unknown polarity": (
        [INFANT.replace("RAG - Low is good", "Lower is better")],
        ["line 2: polarity 'Lower is better' is not a known polarity"],
    ),
    "cleared row": (
        [INFANT, ",,,,,", LOW_WEIGHT],
        ["line 3: every field is empty (a cleared row)"],
    ),
}


@pytest.mark.parametrize("rows, faults", INDICATOR_CASES.values(), ids=INDICATOR_CASES.keys())
def test_indicator_methods_breaking_the_contract_are_refused(tmp_path, rows, faults):
    message = indicators_fault([write(tmp_path, "fingertips_indicators.csv", INDICATORS, rows)])
    assert message.startswith(
        f"fingertips_indicators.csv: Fingertips indicator methods refused ({len(faults)} fault"
    )
    for fault in faults:
        assert fault in message


def test_an_indicator_in_two_files_names_both(tmp_path):
    first = write(tmp_path, "fingertips_indicators.csv", INDICATORS, [INFANT, LOW_WEIGHT])
    second = write(tmp_path, "fingertips_indicators_extra.csv", INDICATORS, [INFANT])
    message = indicators_fault([first, second])
    assert message.startswith("fingertips_indicators_extra.csv: Fingertips indicator methods")
    assert (
        "line 2: indicator_id 92196 listed again (first on fingertips_indicators.csv line 2)"
        in (message)
    )


def test_blank_polarity_and_any_case_are_accepted(tmp_path):
    rows = [INFANT.replace("RAG - Low is good", ""), LOW_WEIGHT.replace("RAG - Low", "rag -  low")]
    load = load_indicator_reference(
        [write(tmp_path, "fingertips_indicators.csv", INDICATORS, rows)]
    )
    assert load.table["polarity"].tolist() == ["", "rag -  low is good"]
    pd.testing.assert_series_equal(
        load.table["multiplier"], pd.Series([1000.0, 100.0], name="multiplier")
    )
