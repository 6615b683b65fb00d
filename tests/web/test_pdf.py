"""The dashboard's PDF download: the shared report rendered by WeasyPrint."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.web.conftest import submit


@pytest.mark.slow
def test_pdf_download(client: TestClient, new_person: Callable[..., int]) -> None:
    person = new_person(display_name="Zhao Lei")
    submit(
        client,
        f"/app/persons/{person}/labs/new",
        {"analyte": "magnesium", "value": "0.62", "unit": "mmol/L", "effective": "2026-11-20"},
    )
    response = client.get(f"/app/persons/{person}/report.pdf", params={"lang": "zh"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "0.62" in text
    assert client.get("/app/persons/999999/report.pdf").status_code == 404
