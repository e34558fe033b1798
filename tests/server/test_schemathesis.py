"""schemathesis against ``/openapi.json`` on a live ``python -m mlxfn`` server on the tiny model.

schemathesis reads the served document and sends what it derives from it: schema-valid and
schema-violating bodies, edge values ("coverage"), random ones ("fuzzing") and chains of calls
("stateful"). The checks: no 5xx, every status and content type documented, every JSON body
and every server-sent event valid against its documented schema. The CI profile here is a few
examples per operation (~20 s); ``MLXFN_SCHEMATHESIS_EXAMPLES=200`` runs this test longer.

The longer local run, by hand (any model works; a small default completion cap keeps it quick):

    python -m mlxfn.tiny_model ./tiny
    python -m mlxfn --model ./tiny --max-tokens-default 8 --port 8000 &
    schemathesis run http://127.0.0.1:8000/openapi.json --workers 2 --request-timeout 60 \\
        --max-examples 500 --checks not_a_server_error,status_code_conformance,\\
    content_type_conformance,response_schema_conformance

With ``--checks all`` two kinds of reports are expected and not bugs: a schema-valid chat body
rejected with ``context_length_exceeded`` (the limit depends on the prompt's token count, which
no schema can state), and an out-of-range ``max_tokens`` accepted next to a valid
``max_completion_tokens`` (which supersedes it, as OpenAI documents).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import StartServer

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
RUN_TIMEOUT_S = 600
# A response id (in the path, or as previous_response_id) names a stored response, which no
# schema can generate: most requests generated for /v1/responses name one that is not stored
# (a 404), so their share of 4xx says nothing about the schema; schemathesis' warnings about
# that share are off there.
RESPONSES_CONFIG = """
[[operations]]
include-path-regex = "^/v1/responses"
warnings = false
"""


def test_schemathesis_finds_nothing_on_the_live_server(
    start_server: StartServer, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # warning: an access line per request would fill the output pipe the fixture reads at exit.
    server = start_server(
        "--model", str(tiny_model_dir), "--max-tokens-default", "8", "--log-level", "warning"
    )
    examples = os.environ.get("MLXFN_SCHEMATHESIS_EXAMPLES", "5")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        examples,
        "--workers",
        "1",
        "--seed",
        "0",  # the same requests every run, so that CI is reproducible
        "--request-timeout",
        "30",  # far beyond any answer on the tiny model: reaching it is a hang
    ]
    # A folder of its own: schemathesis keeps its Hypothesis database and reports in the cwd,
    # and reads its config file there.
    (tmp_path / "schemathesis.toml").write_text(RESPONSES_CONFIG)
    result = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "No issues found" in output, output
