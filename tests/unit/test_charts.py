"""The XmR chart renders to a PNG of the requested size and embeds as Markdown."""

from __future__ import annotations

import base64
import io

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from cov_pipeline.charts import png_markdown, spc_chart_png
from cov_pipeline.spc import spc_series

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def chart_rows() -> pd.DataFrame:
    values = [52.0, 48.0] * 6 + [53.0, 55.0] * 4 + [np.nan, 75.0, 50.0, 49.0]
    frame = pd.DataFrame(
        {"period": pd.date_range("2021-01-01", periods=len(values), freq="MS"), "value": values}
    )
    return spc_series(frame, "value", "period", target=45, rebases=[("2022-06-01", "New pathway")])


def test_png_has_signature_and_requested_size(chart_rows):
    png = spc_chart_png(chart_rows, "Late bookings", "% of bookings", target=45)
    assert png.startswith(PNG_SIGNATURE)
    image = mpimg.imread(io.BytesIO(png), format="png")
    assert image.shape[:2] == (350, 800)  # 3.5 × 100 by 8 × 100 pixels


def test_size_follows_arguments_and_text_periods(chart_rows):
    rows = chart_rows.assign(period=chart_rows["period"].dt.strftime("%Y-%m"))
    png = spc_chart_png(rows, "Referrals", "Referrals", width_inches=4, height_inches=2, dpi=50)
    image = mpimg.imread(io.BytesIO(png), format="png")
    assert image.shape[:2] == (100, 200)


def test_missing_columns_are_reported(chart_rows):
    with pytest.raises(KeyError, match="spc_centre"):
        spc_chart_png(chart_rows.drop(columns="spc_centre"), "t", "v")


def test_markdown_embeds_the_png():
    png = PNG_SIGNATURE + b"rest"
    md = png_markdown(png, "Late bookings [Coventry]")
    assert md.startswith("![Late bookings \\[Coventry\\]](data:image/png;base64,")
    assert "data:image/png;base64," in md
    encoded = md.split("base64,", 1)[1].rstrip(")")
    assert base64.b64decode(encoded) == png


def test_estimates_chart_is_a_png_of_the_requested_size():
    import io

    import matplotlib.image as mpimg
    import pandas as pd

    from cov_pipeline.charts import estimates_chart_png

    frame = pd.DataFrame(
        {
            "wave_year": [2018, 2021, 2024, 2018, 2021, 2024],
            "indicator_name": ["Good health"] * 3 + ["Smoking"] * 3,
            "value": [78.0, 73.0, 74.0, 16.5, 13.8, 12.0],
            "ci95_lower": [76.0, 71.0, 72.0, 15.0, 12.0, 10.5],
            "ci95_upper": [80.0, 75.0, 76.0, 18.0, 15.5, 13.6],
        }
    )
    png = estimates_chart_png(frame, "wave_year", "indicator_name", width=6, height=3, dpi=50)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert mpimg.imread(io.BytesIO(png)).shape[:2] == (150, 300)
