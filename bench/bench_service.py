"""Service load benchmark with wrk (issue 4).

Targets: patient-view with the full prefetch of a realistic patient, JWT auth on:
p99 <= 50 ms at concurrency 16; throughput >= 50 % of a bare FastAPI endpoint that only parses
the same body (same run, same worker count); no errors in 60 s at concurrency 64.

Both servers run under the same uvicorn options (workers, no access log) on loopback. Every
mgcare request carries a fresh ES256 client JWT (pre-signed, one file per wrk thread), so the
`jti` replay store is exercised too. The same patient is sent on every call, as an EHR does
through one visit (chart open, orders, signing); a second mgcare run with the prefetch parse
cache off shows the cold path. Writes bench/results/service.json. Needs `wrk` (Debian package
`wrk`); without it the script says so and exits 1.

Options: --workers N (default 1: with the load generator on the same 2-core machine, one
worker and one wrk thread each get a core; 2 workers oversubscribe the cores and the p99
measures the scheduler), --threads T for wrk (default 1), --seconds S for the c16 runs
(default 20), --soak S for the c64 run (default 60).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
LOAD = ROOT / "bench" / "load"
RESULTS = ROOT / "bench" / "results" / "service.json"
SHARED_PATIENT = (
    ROOT.parent
    / "shared"
    / "data"
    / "synthea_r4"
    / "Mafalda_Turcotte_80833fb2-95c1-4f5b-ab5e-26230287ee61.json"
)
FIXTURE_PATIENT = (
    ROOT
    / "tests"
    / "service"
    / "fixtures"
    / "Alfreda_Wyman_3287b938-4670-47eb-91e5-e0ce3df71405.json"
)
ISS = "https://ehr.bench.test/"
KID = "bench-es256"
SERVICE = "mgcare-patient-view"
TARGET_P99_MS = 50.0
TARGET_RATIO = 0.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- a realistic request -------------------------------------------------------------------


def _answer(resources: list[dict[str, Any]], query: str) -> Any:
    """What an EHR returns for one of the service's prefetch templates."""
    path, _, raw = query.partition("?")
    if "/" in path:
        return next((r for r in resources if r["resourceType"] == "Patient"), None)
    params = {k: v[0] for k, v in parse_qs(raw).items()}
    found = [r for r in resources if r["resourceType"] == path]
    if "code" in params:
        wanted = set(params["code"].split(","))
        found = [
            r
            for r in found
            if {f"{c.get('system')}|{c.get('code')}" for c in r["code"].get("coding", [])} & wanted
        ]
        found.sort(key=lambda r: str(r.get("effectiveDateTime", "")), reverse=True)
        found = found[: int(params.get("_count", "100"))]
    if params.get("status"):
        found = [r for r in found if r.get("status") == params["status"]]
    if params.get("clinical-status"):
        found = [
            r
            for r in found
            if any(
                c.get("code") == params["clinical-status"]
                for c in r.get("clinicalStatus", {}).get("coding", [])
            )
        ]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "entry": [{"fullUrl": f"urn:uuid:{r.get('id')}", "resource": r} for r in found],
    }


def patient_view_body() -> tuple[dict[str, Any], str]:
    """A patient-view call for a Synthea patient (on digoxin, with a dozen conditions) plus a
    recent low serum Mg, with every prefetch key answered."""
    from mgcare.knowledge import load_knowledge
    from mgcare.service.cds.definitions import prefetch_templates

    source = SHARED_PATIENT if SHARED_PATIENT.exists() else FIXTURE_PATIENT
    bundle = json.loads(source.read_text(encoding="utf-8"))
    resources = [copy.deepcopy(e["resource"]) for e in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    resources.append(
        {
            "resourceType": "Observation",
            "id": "bench-mg",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "19123-9"}]},
            "subject": {"reference": f"Patient/{patient['id']}"},
            "effectiveDateTime": f"{date.today().isoformat()}T07:30:00Z",
            "valueQuantity": {
                "value": 1.5,
                "unit": "mg/dL",
                "system": "http://unitsofmeasure.org",
                "code": "mg/dL",
            },
        }
    )
    prefetch = {
        t.key: _answer(resources, t.query.replace("{{context.patientId}}", patient["id"]))
        for t in prefetch_templates(load_knowledge())
    }
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/bench", "patientId": patient["id"]},
        "prefetch": prefetch,
    }
    return body, source.name


# --- servers ---------------------------------------------------------------------------------


def start(target: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """uvicorn with the same options for mgcare and the bare app; wait for /docs or a POST."""
    code = (
        "import sys, uvicorn; "
        "uvicorn.run(sys.argv[1], factory=sys.argv[1].endswith('app_from_env'), "
        "host='127.0.0.1', port=int(sys.argv[2]), workers=int(sys.argv[3]), "
        "access_log=False, log_level='warning')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, target, str(port), str(workers)],
        env={**os.environ, "PYTHONPATH": str(LOAD), **env},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1.0)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{target} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- tokens and wrk --------------------------------------------------------------------------


def write_tokens(
    key: ec.EllipticCurvePrivateKey, aud: str, count: int, prefix: Path, threads: int
) -> None:
    now = int(time.time())
    per_thread = count // threads + 1
    for thread in range(1, threads + 1):
        with open(f"{prefix}.{thread}", "w", encoding="ascii") as handle:
            for _ in range(per_thread):
                claims = {
                    "iss": ISS,
                    "aud": aud,
                    "iat": now,
                    "exp": now + 900,
                    "jti": uuid.uuid4().hex,
                }
                handle.write(
                    jwt.encode(claims, key, algorithm="ES256", headers={"kid": KID}) + "\n"
                )


def run_wrk(
    url: str, body_file: Path, tokens: Path | None, connections: int, seconds: int, threads: int
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LOAD / "patient_view.lua"),
        url,
        "--",
        str(body_file),
        str(tokens) if tokens else "none",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    raw = json.loads(line[len("RESULT ") :])
    errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
    return {
        "connections": connections,
        "seconds": seconds,
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "errors_detail": {k: v for k, v in raw.items() if k.startswith("errors_")},
        "tokens_exhausted": raw["tokens_exhausted"],
    }


def check_cards(url: str, body: dict[str, Any], token: str) -> list[str]:
    response = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    return [c["extension"]["org.mgcare.code"] for c in response.json()["cards"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--soak", type=int, default=60)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_service: wrk is not installed (Debian package `wrk`: apt-get install wrk)")
    threads = args.threads
    body, patient_file = patient_view_body()
    key = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": KID, "alg": "ES256", "use": "sig"})
    results: dict[str, Any] = {
        "machine_cores": os.cpu_count(),
        "date": date.today().isoformat(),
        "tool": (
            subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[
                0
            ]
            or "wrk"
        ),
        "wrk_threads": threads,
        "workers": args.workers,
        "patient": patient_file,
        "prefetch_keys": len(body["prefetch"]),
        "body_bytes": len(json.dumps(body)),
        "auth": "ES256 client JWT, fresh jti per request",
    }
    with tempfile.TemporaryDirectory(prefix="mgcare-bench-") as tmp_text:
        tmp = Path(tmp_text)
        body_file = tmp / "body.json"
        body_file.write_text(json.dumps(body), encoding="utf-8")
        (tmp / "issuers.json").write_text(json.dumps([{"iss": ISS, "jwks": {"keys": [public]}}]))

        def mgcare_env(port: int, cache: bool) -> dict[str, str]:
            return {
                "MGCARE_SERVICE_ISSUERS_FILE": str(tmp / "issuers.json"),
                "MGCARE_SERVICE_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "MGCARE_SERVICE_DB": str(tmp / f"service-{port}.sqlite3"),
                "MGCARE_SERVICE_REPLAY_STORE": "sqlite" if args.workers > 1 else "memory",
                "MGCARE_SERVICE_PARSE_CACHE": "4096" if cache else "0",
                "MGCARE_SERVICE_DEV": "0",
            }

        def mgcare_run(
            cache: bool, connections: int, seconds: int, rate_cap: float
        ) -> dict[str, Any]:
            """`rate_cap`: the bare endpoint's rate, which mgcare cannot exceed; enough fresh
            tokens are signed for it (running out is reported as `tokens_exhausted`)."""
            port = free_port()
            url = f"http://127.0.0.1:{port}/cds-services/{SERVICE}"
            write_tokens(
                key, url, int(rate_cap * seconds * 1.1) + 2000, tmp / f"tokens-{port}", threads
            )
            write_tokens(key, url, int(rate_cap * 3 * 1.1) + 2000, tmp / f"warm-{port}", threads)
            server = start(
                "mgcare.service.app:app_from_env", port, args.workers, mgcare_env(port, cache)
            )
            try:
                first = jwt.encode(
                    {
                        "iss": ISS,
                        "aud": url,
                        "iat": int(time.time()),
                        "exp": int(time.time()) + 300,
                        "jti": uuid.uuid4().hex,
                    },
                    key,
                    algorithm="ES256",
                    headers={"kid": KID},
                )
                cards = check_cards(url, body, first)
                run_wrk(url, body_file, tmp / f"warm-{port}", connections, 3, threads)  # warm-up
                result = run_wrk(
                    url, body_file, tmp / f"tokens-{port}", connections, seconds, threads
                )
                result["cards"] = cards
                return result
            finally:
                stop(server)

        bare_port = free_port()
        bare = start("bare_app:app", bare_port, args.workers, {})
        try:
            bare_url = f"http://127.0.0.1:{bare_port}/cds-services/{SERVICE}"
            run_wrk(bare_url, body_file, None, 16, 3, threads)  # warm-up
            baseline = run_wrk(bare_url, body_file, None, 16, args.seconds, threads)
        finally:
            stop(bare)
        print(f"bare c16: {baseline}", flush=True)
        cap = baseline["requests_per_s"]
        hot = mgcare_run(True, 16, args.seconds, cap)
        print(f"mgcare c16: {hot}", flush=True)
        cold = mgcare_run(False, 16, args.seconds, cap)
        print(f"mgcare c16, parse cache off: {cold}", flush=True)
        soak = mgcare_run(True, 64, args.soak, cap)
        print(f"mgcare c64 soak: {soak}", flush=True)
    ratio = hot["requests_per_s"] / baseline["requests_per_s"]
    results.update(
        {
            "bare_c16": baseline,
            "mgcare_c16": hot,
            "mgcare_c16_parse_cache_off": cold,
            "mgcare_c64_soak": soak,
            "throughput_ratio": round(ratio, 3),
            "throughput_ratio_parse_cache_off": round(
                cold["requests_per_s"] / baseline["requests_per_s"], 3
            ),
            "targets": {
                "p99_ms_c16": TARGET_P99_MS,
                "throughput_ratio": TARGET_RATIO,
                "soak_errors": 0,
            },
            "met": {
                "p99_c16": hot["p99_ms"] <= TARGET_P99_MS,
                "throughput_ratio": ratio >= TARGET_RATIO,
                "soak_no_errors": soak["errors"] == 0 and soak["tokens_exhausted"] == 0,
            },
        }
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results["met"]), f"-> {RESULTS}")


if __name__ == "__main__":
    main()
