"""Agent CLIs against mlxfn: Codex (OpenAI's Responses API) and Claude Code (Anthropic's
Messages API), each completing a turn with exit status 0, and the very requests they send
(captured from them, in agent_requests/) answered in full.

The clients come from npm, pinned; they are installed once into mlxfn's cache folder when not
on PATH (``.ci/run`` installs them the same way). The model is random-weight, with SmolLM2's
tokenizer (so the clients' ~10k-20k-token prompts stay that long) and room for them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import mlx.core as mx
import pytest

from tests.conftest import ServerProcess, StartServer
from tests.server.helpers import smol_tokenizer_llama

HERE = Path(__file__).resolve().parent
REQUESTS = HERE / "agent_requests"
SERVED = "agent-tiny"
TURN_TIMEOUT_S = 240


def _pinned_clients() -> dict[str, str]:
    """Each CLI's command name and its npm package@version, from agent_clients.txt."""
    lines = (HERE / "agent_clients.txt").read_text().splitlines()
    pairs = (line.split() for line in lines if line.strip() and not line.startswith("#"))
    return dict(pairs)


def _npm_prefix() -> Path:
    return Path(os.environ.get("MLXFN_NPM_PREFIX") or Path.home() / ".cache" / "mlxfn-npm")


@pytest.fixture(scope="module")
def clients() -> dict[str, str]:
    """The two CLIs' paths: installed by .ci/run into the npm cache folder, else on PATH, else
    installed there now from npm."""
    pinned = _pinned_clients()
    installed = _npm_prefix() / "node_modules" / ".bin"

    def find(name: str) -> str | None:
        return str(installed / name) if (installed / name).exists() else shutil.which(name)

    if not all(find(name) for name in pinned):
        npm = shutil.which("npm")
        assert npm is not None, "npm is needed to install the agent CLIs"
        subprocess.run(
            [npm, "install", "--prefix", str(_npm_prefix()), "--no-fund", *pinned.values()],
            check=True,
            capture_output=True,
            timeout=600,
        )
    found = {name: find(name) for name in pinned}
    return {name: path for name, path in found.items() if path is not None}


@pytest.fixture(scope="module")
def agent_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer and chat template, 64k context."""
    shape = {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    }
    folder = tmp_path_factory.mktemp("models") / SERVED
    return smol_tokenizer_llama(folder, shape, 11, lambda w: _answers_at_once(w, eos=2))


def _answers_at_once(weights: dict[str, mx.array], eos: int) -> dict[str, mx.array]:
    """Weights whose every next token is ``eos``, whatever the prompt and the sampler.

    A random model would talk until the output cap, and the clients take a reply cut at the
    cap as a failed turn. Here every token embeds to the same vector and no layer adds to the
    residual stream, so the last hidden state is that vector, and only ``eos``'s head row
    points along it: its logit leads every other by 50, beyond any temperature's reach.
    """
    embedding = weights["model.embed_tokens.weight"]
    width = embedding.shape[1]
    writes_residual = ("o_proj.weight", "down_proj.weight")
    silenced = {
        name: mx.zeros_like(value) if name.endswith(writes_residual) else value
        for name, value in weights.items()
    }
    head = mx.zeros_like(embedding)
    head[eos] = mx.full((width,), 50.0 / width, dtype=embedding.dtype)
    return silenced | {
        "model.embed_tokens.weight": mx.ones_like(embedding),
        "model.norm.weight": mx.ones_like(weights["model.norm.weight"]),
        "lm_head.weight": head,
    }


@pytest.fixture(scope="module")
def agent_server(start_server: StartServer, agent_model_dir: Path) -> ServerProcess:
    # Agents ask for 32k output tokens; the server clamps every reply to a short one.
    return start_server(
        "--model", str(agent_model_dir), "--max-output-tokens", "12", "--model-alias", "*"
    )


def _sse_events(body: str) -> list[dict[str, object]]:
    return [
        json.loads(line.removeprefix("data: "))
        for line in body.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


def _post(server: ServerProcess, path: str, body: dict[str, object], **headers: str) -> str:
    import urllib.request

    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TURN_TIMEOUT_S) as response:
        assert response.status == 200
        return str(response.read().decode())


def test_the_request_codex_sends_is_answered(agent_server: ServerProcess) -> None:
    body = json.loads((REQUESTS / "codex.json").read_text()) | {"model": SERVED}
    events = _sse_events(_post(agent_server, "/v1/responses", body))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] in ("response.completed", "response.incomplete")
    numbers = [e["sequence_number"] for e in events]
    assert numbers == sorted(numbers)


def test_the_request_claude_code_sends_is_answered(agent_server: ServerProcess) -> None:
    body = json.loads((REQUESTS / "claude.json").read_text()) | {"model": SERVED}
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "unused"}
    text = _post(agent_server, "/v1/messages?beta=true", body, **headers)
    kinds = [event["type"] for event in _sse_events(text)]
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def test_codex_exec_completes_a_turn(
    clients: dict[str, str], agent_server: ServerProcess, workdir: Path, tmp_path: Path
) -> None:
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'model = "{SERVED}"\n'
        'model_provider = "mlxfn"\n\n'
        "[model_providers.mlxfn]\n"
        'name = "mlxfn"\n'
        f'base_url = "{agent_server.url}/v1"\n'
        'wire_api = "responses"\n'
    )
    done = subprocess.run(
        [clients["codex"], "exec", "--skip-git-repo-check", "Say hello"],
        cwd=workdir,
        env={**os.environ, "CODEX_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=TURN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_claude_code_completes_a_turn(
    clients: dict[str, str], agent_server: ServerProcess, workdir: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": agent_server.url,
        "ANTHROPIC_API_KEY": "unused",
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config"),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    done = subprocess.run(
        [clients["claude"], "-p", "Say hello", "--model", SERVED],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=TURN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
