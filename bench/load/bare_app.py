"""The benchmark's baseline: a bare FastAPI endpoint that only parses the same CDS Hooks
request body (same pydantic model as mgcare) and answers an empty card list."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response

from mgcare.service.cds.models import CdsRequest

app = FastAPI()


@app.post("/cds-services/{service_id}")
async def parse_only(service_id: str, body: CdsRequest) -> Response:
    return Response(b'{"cards":[]}', media_type="application/json")
