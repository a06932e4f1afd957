"""Great Expectations suites on the marts: good marts pass, each broken rule fails by name."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from cov_pipeline.expectations import SUITES, validate_mart
from cov_pipeline.settings import PROJECT_ROOT

VALUES = "marts.indicator_values"
BENCHMARK = "marts.infant_mortality_benchmark"
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"

AREAS = [
    ("E92000001", "england", 6856.0),
    ("E12000005", "region", 900.0),
    ("E08000026", "home", 77.0),
    ("E06000015", "cipfa_neighbour", 53.0),
    ("E08000001", "cipfa_neighbour", 4.0),  # suppressed below: count 1-7
]


def indicator_values() -> pd.DataFrame:
    """A small valid mart: two indicators (a rate and a %), two periods, five areas."""
    rows = []
    for indicator_id, unit, scale in ((92196, "per 1,000 live births", 1000), (20101, "%", 100)):
        for period in ("2021 - 23", "2022 - 24"):
            for code, role, count in AREAS:
                denominator = count * 180
                value = count / denominator * scale
                rows.append(
                    {
                        "indicator_id": indicator_id,
                        "unit": unit,
                        "area_code": code,
                        "area_role": role,
                        "sex": "Persons",
                        "age": "All ages",
                        "time_period": period,
                        "value": value,
                        "ci95_lower": value * 0.8,
                        "ci95_upper": value * 1.25,
                        "count": count,
                        "denominator": denominator,
                        "recomputed_value": value,
                        "recomputed_ci95_lower": value * 0.79,
                        "recomputed_ci95_upper": value * 1.26,
                    }
                )
    return pd.DataFrame(rows)


def benchmark() -> pd.DataFrame:
    """The business plan's table: England, Coventry and five neighbours."""
    value = [3.9, 5.9, 5.9, 5.2, 4.6, 4.9, 4.2]
    return pd.DataFrame(
        {
            "display_order": range(1, 8),
            "area_code": [f"E0800000{i}" for i in range(7)],
            "area_name": ["England", "Coventry", "Derby", "Bolton", "Peterborough", "Leeds", "Sheffield"],
            "area_role": ["england", "home", *["cipfa_neighbour"] * 5],
            "cipfa_neighbour_rank": pd.array([None, None, 1, 2, 3, 4, 5], dtype="Int64"),
            "time_period": "2020 - 22",
            "value": value,
            "ci95_lower": [v - 1 for v in value],
            "ci95_upper": [v + 1 for v in value],
            "count": [6856.0, 77, 53, 53, 38, 131, 75],
        }
    )  # fmt: skip


def failed(result) -> dict[tuple[str, str | None], object]:
    return {(r.expectation_type, r.column): r for r in result.failures}


def test_suites_are_registered_for_both_fingertips_marts():
    assert {VALUES, BENCHMARK} <= set(SUITES)
    with pytest.raises(KeyError, match="no Great Expectations suite"):
        validate_mart("marts.unknown", pd.DataFrame({"a": [1]}))


def test_a_good_indicator_values_mart_passes():
    frame = indicator_values()
    result = validate_mart(VALUES, frame)
    assert result.success, result.failures_frame().to_string()
    assert result.evaluated == len(SUITES[VALUES]())
    assert all(r.success for r in result.results)


def test_a_good_benchmark_passes():
    result = validate_mart(BENCHMARK, benchmark())
    assert result.success, result.failures_frame().to_string()


def test_a_recomputed_value_above_its_upper_ci_fails():
    frame = indicator_values()
    frame.loc[2, "recomputed_value"] = frame.loc[2, "recomputed_ci95_upper"] + 0.5

    result = validate_mart(VALUES, frame)

    assert not result.success
    failures = failed(result)
    key = (PAIR, "recomputed_ci95_upper, recomputed_value")
    assert list(failures) == [key]
    assert failures[key].unexpected_count == 1
    assert failures[key].unexpected_values == [
        [frame.loc[2, "recomputed_ci95_upper"], frame.loc[2, "recomputed_value"]]
    ]


def test_published_cis_are_pandera_s_rule_not_repeated_here():
    # The published value within its CI is an input contract (FingertipsRow); the
    # mart suite does not check it again.
    frame = indicator_values()
    frame.loc[2, "value"] = frame.loc[2, "ci95_upper"] + 0.5
    assert validate_mart(VALUES, frame).success


def test_a_recomputed_ci_not_around_the_recomputed_value_fails():
    frame = indicator_values()
    frame.loc[3, "recomputed_ci95_lower"] = frame.loc[3, "recomputed_value"] + 0.1
    result = validate_mart(VALUES, frame)
    assert list(failed(result)) == [(PAIR, "recomputed_value, recomputed_ci95_lower")]


def published_late_bookings(late: int = 12) -> pd.DataFrame:
    start = pd.Timestamp("2024-01-01")
    return pd.DataFrame(
        {
            "period_type": ["year", "year"],
            "period_start": [start, start],
            "breakdown": ["all", "nrpf"],
            "breakdown_value": ["All", "No recourse to public funds"],
            "bookings": pd.array([4500, 90], dtype="Int64"),
            "booked_by_10_weeks": pd.array([2600, 40], dtype="Int64"),
            "late_bookings": pd.array([540, late], dtype="Int64"),
            "very_late_bookings": pd.array([160, None], dtype="Int64"),
            "is_suppressed": [False, True],
        }
    )


def test_a_small_count_shown_in_a_published_table_fails():
    assert validate_mart("published.late_bookings", published_late_bookings()).success

    result = validate_mart("published.late_bookings", published_late_bookings(late=3))

    assert not result.success
    failures = failed(result)
    assert list(failures) == [("expect_column_values_to_not_be_in_set", "late_bookings")]
    assert failures[
        ("expect_column_values_to_not_be_in_set", "late_bookings")
    ].unexpected_values == [3]


def test_the_teams_marts_and_public_inputs_keep_their_small_counts():
    frame = indicator_values()
    neighbour = frame.index[frame["area_role"] == "cipfa_neighbour"][0]
    frame.loc[neighbour, "count"] = 3  # Fingertips publishes it: passed through, full detail
    assert validate_mart(VALUES, frame).success


def test_a_duplicated_key_fails():
    frame = indicator_values()
    frame = pd.concat([frame, frame.iloc[[1]]], ignore_index=True)

    result = validate_mart(VALUES, frame)

    assert not result.success
    key = "indicator_id, area_code, sex, age, time_period"
    failures = failed(result)
    assert list(failures) == [("expect_compound_columns_to_be_unique", key)]
    assert failures[("expect_compound_columns_to_be_unique", key)].unexpected_count == 2


def test_a_percentage_above_100_and_an_unknown_role_fail():
    frame = indicator_values()
    percent = frame.index[(frame["unit"] == "%") & frame["value"].notna()][0]
    frame.loc[percent, ["value", "ci95_upper", "recomputed_value", "recomputed_ci95_upper"]] = 120
    frame.loc[0, "area_role"] = "ward"

    failures = failed(validate_mart(VALUES, frame))

    assert set(failures) == {
        ("expect_column_values_to_be_between", "value"),
        ("expect_column_values_to_be_in_set", "area_role"),
    }


def test_a_benchmark_with_two_home_rows_fails():
    frame = benchmark()
    frame.loc[2, "area_role"] = "home"

    result = validate_mart(BENCHMARK, frame)

    assert not result.success
    failures = failed(result)
    assert list(failures) == [("expect_column_values_to_be_unique", "area_role")]
    assert failures[("expect_column_values_to_be_unique", "area_role")].unexpected_values == [
        "home",
        "home",
    ]


def test_a_benchmark_mixing_periods_fails():
    frame = benchmark()
    frame.loc[6, "time_period"] = "2019 - 21"
    failures = failed(validate_mart(BENCHMARK, frame))
    assert list(failures) == [("expect_column_unique_value_count_to_be_between", "time_period")]
    assert (
        failures[("expect_column_unique_value_count_to_be_between", "time_period")].observed_value
        == 2
    )


def test_a_missing_column_fails_with_the_error():
    frame = benchmark().drop(columns=["display_order"])
    failures = failed(validate_mart(BENCHMARK, frame))
    outcome = failures[("expect_column_values_to_not_be_null", "display_order")]
    assert "display_order" in outcome.exception


def test_data_docs_are_built_into_the_given_folder(tmp_path):
    docs = tmp_path / "docs"
    result = validate_mart(VALUES, indicator_values(), docs, run_name="unit-test")
    validate_mart(BENCHMARK, benchmark(), docs)

    assert result.data_docs == (docs / "index.html").resolve()
    assert result.data_docs.is_file()
    assert (docs / "expectations" / "marts" / "indicator_values.html").is_file()
    assert (docs / "expectations" / "marts" / "infant_mortality_benchmark.html").is_file()
    pages = list(
        (docs / "validations" / "marts" / "indicator_values" / "unit-test").rglob("*.html")
    )
    assert len(pages) == 1
    index = result.data_docs.read_text(encoding="utf-8")
    assert "indicator_values" in index and "infant_mortality_benchmark" in index


def test_data_docs_templates_compile_once_per_process(tmp_path, monkeypatch):
    import jinja2

    from cov_pipeline.gx_docs import TEMPLATES

    validate_mart(VALUES, indicator_values(), tmp_path / "first")
    assert TEMPLATES._compiled, "the first build compiled its templates into the shared cache"
    compiled = []
    original = jinja2.Environment.compile

    def counting(self, *args, **kwargs):
        compiled.append(args[1] if len(args) > 1 else kwargs.get("name"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    docs = tmp_path / "second"
    result = validate_mart(BENCHMARK, benchmark(), docs, run_name="cached")
    assert compiled == []  # every template came compiled from the cache
    assert (docs / "expectations" / "marts" / "infant_mortality_benchmark.html").is_file()
    assert "infant_mortality_benchmark" in result.data_docs.read_text(encoding="utf-8")


def test_no_data_docs_without_a_folder():
    assert validate_mart(BENCHMARK, benchmark()).data_docs is None


def test_importing_the_suites_and_checks_does_not_import_great_expectations():
    code = (
        "import sys, cov_pipeline.expectations, assets.expectations; "
        "assert 'great_expectations' not in sys.modules, 'GX imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT_ROOT, timeout=120)
