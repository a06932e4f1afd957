"""The synthetic sample-data generator: deterministic, in the real Fingertips layout, and
reproducing the business plan's infant mortality table."""

from __future__ import annotations

import csv
import io
import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from scipy import stats

from assets.registry import project_sources
from cov_pipeline.sample_data import DEFAULT_SEED, REFERENCE, generate_all, sample_generators
from cov_pipeline.sample_data.__main__ import main

REPO_RAW = Path(__file__).resolve().parents[2] / "data" / "raw"

HEADER = [
    "Indicator ID",
    "Indicator Name",
    "Parent Code",
    "Parent Name",
    "Area Code",
    "Area Name",
    "Area Type",
    "Sex",
    "Age",
    "Category Type",
    "Category",
    "Time period",
    "Value",
    "Lower CI 95.0 limit",
    "Upper CI 95.0 limit",
    "Lower CI 99.8 limit",
    "Upper CI 99.8 limit",
    "Count",
    "Denominator",
    "Value note",
    "Recent Trend",
    "Compared to England value or percentiles",
    "Compared to Region value or percentiles",
    "Time period Sortable",
    "New data",
    "Compared to goal",
]

# Infant mortality 2020-22 per 1,000 live births, Coventry public health business plan 2025-28
# (the plan's infant mortality table): value, lower and upper 95% limits, compared with England.
BUSINESS_PLAN = {
    "E92000001": ("3.9", "3.8", "4.0", "Not compared"),
    "E08000026": ("5.9", "4.6", "7.4", "Worse"),
    "E06000015": ("5.9", "4.4", "7.7", "Worse"),
    "E08000001": ("5.2", "3.9", "6.8", "Similar"),
    "E06000031": ("4.6", "3.3", "6.4", "Similar"),
    "E08000035": ("4.9", "4.1", "5.9", "Worse"),
    "E08000039": ("4.2", "3.3", "5.3", "Similar"),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("raw")
    return out, generate_all(out)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def one_decimal(x: float) -> str:
    return str(Decimal(repr(x)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def test_the_sources_written_are_the_registered_ones():
    # each source declares its generator with itself (Source.sample): no list kept here
    names = [*REFERENCE, *(source.name for source in project_sources())]
    assert list(sample_generators()) == names
    assert all(callable(generate) for generate in sample_generators().values())


def test_same_seed_gives_byte_identical_files(generated, tmp_path):
    first_dir, first = generated
    second = generate_all(tmp_path)
    assert [p.relative_to(first_dir) for p in first] == [p.relative_to(tmp_path) for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_another_seed_changes_the_simulated_rows_but_not_the_benchmark_table(generated, tmp_path):
    out, _ = generated
    generate_all(tmp_path, seed=DEFAULT_SEED + 1)
    name = "fingertips/low_birth_weight_2024-export.csv"
    assert (tmp_path / name).read_bytes() != (out / name).read_bytes()
    rows = read_rows(tmp_path / "fingertips/child_maternal_2024-export.csv")
    table = {
        r["Area Code"]: (one_decimal(float(r["Value"])), r["Count"], r["Denominator"])
        for r in rows
        if r["Indicator ID"] == "92196" and r["Time period"] == "2020 - 22" and not r["Category"]
    }
    for code, (value, *_) in BUSINESS_PLAN.items():
        assert table[code][0] == value


def test_committed_sample_matches_a_fresh_generation(generated):
    out, paths = generated
    for folder in ("fingertips", "household_survey"):
        committed = sorted(p.name for p in (REPO_RAW / folder).glob("*.csv"))
        fresh = sorted(p.name for p in (out / folder).glob("*.csv"))
        assert committed == fresh, (
            f"data/raw/{folder} differs: run python -m cov_pipeline.sample_data"
        )
    for path in paths:
        relative = path.relative_to(out)
        assert (REPO_RAW / relative).read_bytes() == path.read_bytes(), (
            f"data/raw/{relative} drifted from the generator: run python -m cov_pipeline.sample_data"
        )


def test_sample_is_small_and_listed_in_the_readme(generated):
    _, paths = generated
    by_source: dict[str, int] = {}
    for path in paths:
        by_source[path.parent.name] = by_source.get(path.parent.name, 0) + path.stat().st_size
    # a budget per source folder, so that adding a source does not squeeze the others; the
    # record-level maternity extracts (4,500 births a year for seven years, issue 3) get a few MB
    budget = {"maternity": 5_000_000}
    assert all(size < budget.get(folder, 500_000) for folder, size in by_source.items()), by_source
    readme = (REPO_RAW / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme
    for path in paths:
        assert f"`{path.name}`" in readme


def test_exports_are_utf8_crlf_with_the_fingertips_header(generated):
    out, _ = generated
    files = sorted((out / "fingertips").glob("*.csv"))
    assert len(files) >= 4
    line_break_fields = 0
    for path in files:
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        text = raw.decode("utf-8")
        records = list(csv.reader(io.StringIO(text, newline="")))
        # Every record ends in CRLF; the only other line breaks are inside quoted fields.
        assert text.endswith("\r\n")
        assert text.count("\r\n") == len(records), path.name
        line_break_fields += sum("\n" in field for record in records for field in record)
        header = records[0]
        if path.name == "infant_mortality_2023-export.csv":
            assert header == HEADER
        elif path.name == "smoking_at_delivery_2025-export.csv":
            assert header == [*HEADER[:22], "Compared to percentiles", *HEADER[23:]] + [
                "Time period range"
            ]
        else:
            assert header == [*HEADER, "Time period range"]
        assert all(len(record) == len(header) for record in records)
    assert line_break_fields >= 1


def test_quoted_commas_and_line_breaks_are_present(generated):
    out, _ = generated
    text = (out / "fingertips/child_maternal_2024-export.csv").read_text(encoding="utf-8")
    assert '"Premature births, less than 37 weeks gestation"' in text
    rows = read_rows(out / "fingertips/smoking_at_delivery_2025-export.csv")
    notes = {r["Value note"] for r in rows}
    assert any("," in note for note in notes)
    assert any("\n" in note for note in notes)


def test_infant_mortality_2020_22_reproduces_the_business_plan(generated):
    out, _ = generated
    rows = [
        r
        for r in read_rows(out / "fingertips/child_maternal_2024-export.csv")
        if r["Indicator ID"] == "92196" and r["Time period"] == "2020 - 22" and not r["Category"]
    ]
    by_code = {r["Area Code"]: r for r in rows}
    z = 1.959964
    england_value = float(by_code["E92000001"]["Value"])
    for code, (value, lower, upper, compared) in BUSINESS_PLAN.items():
        row = by_code[code]
        o, d = int(row["Count"]), int(row["Denominator"])
        assert o >= 10
        # Byars' approximation (PHE technical guide), written out.
        byars_lower = o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3
        byars_upper = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * math.sqrt(o + 1))) ** 3
        rate = o / d * 1000
        assert one_decimal(rate) == value, code
        assert one_decimal(byars_lower / d * 1000) == lower, code
        assert one_decimal(byars_upper / d * 1000) == upper, code
        # The file's own figures agree with the count and denominator.
        assert float(row["Value"]) == pytest.approx(rate, abs=1e-6)
        assert float(row["Lower CI 95.0 limit"]) == pytest.approx(byars_lower / d * 1000, abs=1e-6)
        assert float(row["Upper CI 95.0 limit"]) == pytest.approx(byars_upper / d * 1000, abs=1e-6)
        assert row["Compared to England value or percentiles"] == compared, code
        if code != "E92000001":
            inside = float(row["Lower CI 95.0 limit"]) <= england_value
            inside &= england_value <= float(row["Upper CI 95.0 limit"])
            assert (compared == "Similar") == inside
    # Plausible three-year live births.
    assert 1_700_000 <= int(by_code["E92000001"]["Denominator"]) <= 1_900_000
    assert 13_000 <= int(by_code["E08000026"]["Denominator"]) <= 14_500


def test_small_counts_use_exact_poisson_and_proportions_wilson(generated):
    out, _ = generated
    rows = read_rows(out / "fingertips/child_maternal_2024-export.csv")
    small = [r for r in rows if r["Value"] and r["Count"] and int(r["Count"]) < 10]
    assert small
    for r in small:
        o, d = int(r["Count"]), int(r["Denominator"])
        lower = stats.chi2.ppf(0.025, 2 * o) / 2 if o else 0.0
        upper = stats.chi2.ppf(0.975, 2 * o + 2) / 2
        assert float(r["Lower CI 95.0 limit"]) == pytest.approx(lower / d * 1000, abs=2e-6)
        assert float(r["Upper CI 95.0 limit"]) == pytest.approx(upper / d * 1000, abs=2e-6)
    z = 1.959964
    for r in read_rows(out / "fingertips/low_birth_weight_2024-export.csv"):
        if not r["Value"]:
            continue
        o, n = int(r["Count"]), int(r["Denominator"])
        p = o / n
        centre, spread = 2 * o + z * z, z * math.sqrt(z * z + 4 * o * (1 - p))
        assert float(r["Value"]) == pytest.approx(100 * p, abs=1e-6)
        assert float(r["Lower CI 95.0 limit"]) == pytest.approx(
            100 * (centre - spread) / (2 * (n + z * z)), abs=1e-6
        )
        assert float(r["Upper CI 95.0 limit"]) == pytest.approx(
            100 * (centre + spread) / (2 * (n + z * z)), abs=1e-6
        )


def test_periods_notes_and_categories(generated):
    out, _ = generated
    rows = [r for p in sorted((out / "fingertips").glob("*.csv")) for r in read_rows(p)]
    periods = {r["Indicator ID"]: set() for r in rows}
    for r in rows:
        periods[r["Indicator ID"]].add((r["Time period"], r["Time period Sortable"]))
    assert ("2018 - 20", "20180000") in periods["92196"]
    assert ("2020 - 22", "20200000") in periods["91743"]
    assert {p for p, _ in periods["20101"]} == {str(y) for y in range(2016, 2023)}
    assert ("2016/17", "20160000") in periods["93085"]
    assert ("2023/24", "20230000") in periods["93085"]
    pooled = [r for r in rows if " - " in r["Time period"]]
    assert {r["Recent Trend"] for r in pooled} == {"Cannot be calculated"}
    blank = [r for r in rows if not r["Value"]]
    assert blank and all(r["Value note"] for r in blank)
    notes = {r["Value note"] for r in blank}
    assert "Value suppressed for disclosure control due to small count" in notes
    assert (
        "Value cannot be calculated as number of events, or the denominator, is too small" in notes
    )
    category_types = {r["Category Type"] for r in rows}
    assert "County & UA deprivation deciles in England (IMD2019, 4/21 geography)" in category_types
    assert "Ethnic groups" in category_types
    assert "Most deprived decile (IMD2019)" in {r["Category"] for r in rows}
    headline = [r for r in rows if not r["Category Type"]]
    assert all(not r["Category"] for r in headline)
    coventry = {r["Area Type"] for r in rows if r["Area Code"] == "E08000026"}
    assert coventry == {"Counties & UAs (from Apr 2023)", "Counties & UAs (from Apr 2021)"}
    england = [r for r in rows if r["Area Code"] == "E92000001"]
    assert {(r["Parent Code"], r["Area Type"]) for r in england} == {("", "England")}


def test_re_exports_overlap(generated):
    out, _ = generated
    a = (out / "fingertips/child_maternal_2024-export.csv").read_bytes().split(b"\r\n")
    b = (out / "fingertips/infant_mortality_2024-export.csv").read_bytes().split(b"\r\n")
    shared = (set(a[1:]) & set(b[1:])) - {b""}
    assert len(shared) >= 50
    # The 2023 export carries the same figures for the periods both hold.
    key = ("Indicator ID", "Area Code", "Category", "Time period")
    figures = ("Value", "Lower CI 95.0 limit", "Count", "Denominator", "Value note")
    old = read_rows(out / "fingertips/infant_mortality_2023-export.csv")
    new = {
        tuple(r[k] for k in key): r
        for r in read_rows(out / "fingertips/child_maternal_2024-export.csv")
    }
    for r in old:
        assert tuple(r[f] for f in figures) == tuple(
            new[tuple(r[k] for k in key)][f] for f in figures
        )


def test_reference_files(generated):
    out, _ = generated
    neighbours = read_rows(out / "reference/cipfa_neighbours.csv")
    assert [(n["neighbour_name"], n["neighbour_rank"]) for n in neighbours] == [
        ("Derby", "1"),
        ("Bolton", "2"),
        ("Peterborough", "3"),
        ("Leeds", "4"),
        ("Sheffield", "5"),
    ]
    assert {n["area_code"] for n in neighbours} == {"E08000026"}
    assert all("business plan 2025-28" in n["source"] for n in neighbours)
    areas = {a["area_code"]: a for a in read_rows(out / "reference/areas.csv")}
    assert areas["E08000026"]["parent_code"] == "E12000005"
    exported = {r["Area Code"] for p in (out / "fingertips").glob("*.csv") for r in read_rows(p)}
    assert exported == set(areas)


def test_benchmark_profile_adds_synthetic_volume_only(generated, tmp_path):
    out, sample_paths = generated
    sample_files = {p.relative_to(out) for p in sample_paths}
    paths = generate_all(tmp_path, scale=0.002, profile="benchmark")
    for path in paths:
        relative = path.relative_to(tmp_path)
        # files only the benchmark writes are each source's own volume (tested with the source)
        if relative in sample_files and path.name != "areas.csv":
            assert path.read_bytes() == (out / relative).read_bytes()
    rows = read_rows(tmp_path / "fingertips/synthetic_benchmark-export.csv")
    assert 1_900 <= len(rows) <= 2_100
    assert all(r["Area Code"].startswith("E069") for r in rows)
    assert all(r["Area Name"].startswith("Synthetic area") for r in rows)
    with pytest.raises(ValueError, match="benchmark profile only"):
        generate_all(tmp_path, scale=2.0)


def test_command_line_prints_what_it_wrote(tmp_path, capsys):
    assert main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "child_maternal_2024-export.csv" in printed
    assert "cipfa_neighbours.csv" in printed
