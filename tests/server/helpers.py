"""Small helpers for the end-to-end tests: request bodies, strict SSE parsing, error checks."""

from __future__ import annotations

import json as jsonlib
import shutil
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from mlxfn.effects import run_io
from mlxfn.engine.gguf.convert import gguf_folder
from mlxfn.engine.gguf.shipped import default_model_file
from tests.schemas import validate

MODEL = "tiny"
ERROR_KEYS = {"message", "type", "param", "code"}
DONE_FRAME = b"data: [DONE]"

JSON = dict[str, Any]


def user(content: str) -> list[JSON]:
    return [{"role": "user", "content": content}]


def chat_body(content: str, **fields: Any) -> JSON:
    """A greedy chat request for the served model; ``fields`` override or add to it."""
    return {"model": MODEL, "messages": user(content), "temperature": 0, **fields}


@attrs.frozen
class Reply:
    status: int
    headers: CIMultiDictProxy[str]  # case-insensitive, like HTTP
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def fetch(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    json: object = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    data = orjson.dumps(json) if json is not None else body
    sent = {"Content-Type": "application/json"} if data is not None else {}
    sent.update(headers or {})
    async with http.request(method, url, data=data, headers=sent) as response:
        headers = CIMultiDictProxy(CIMultiDict(response.headers))
        return Reply(response.status, headers, await response.read())


def post_json(url: str, payload: object) -> Any:
    """A plain synchronous POST for the SDK tests, which need no aiohttp session."""
    request = urllib.request.Request(
        url, data=orjson.dumps(payload), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return orjson.loads(response.read())


def smol_tokenizer_llama(
    folder: Path,
    shape: dict[str, int],
    seed: int,
    weights_of: Callable[[dict[str, Any]], dict[str, Any]] = dict,
) -> Path:
    """A random Llama in ``folder`` with SmolLM2's tokenizer and chat template (so an agent
    client's long prompt stays as long as it is), 64k positions; ``shape`` sets its sizes,
    ``seed`` its weights, and ``weights_of`` may rewrite them."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models import llama

    shipped = default_model_file()
    assert shipped is not None
    source = run_io(gguf_folder(shipped)).unwrap()
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copyfile(source / name, folder / name)
    config = {
        "model_type": "llama",
        **shape,
        "rms_norm_eps": 1e-5,
        "vocab_size": 49152,
        "max_position_embeddings": 65536,
        "rope_theta": 100000.0,
        "tie_word_embeddings": False,
        "eos_token_id": [2],
    }
    mx.random.seed(seed)
    model = llama.Model(llama.ModelArgs.from_dict(config))  # type: ignore[no-untyped-call]
    weights = weights_of(dict(tree_flatten(model.parameters())))
    mx.save_safetensors(str(folder / "model.safetensors"), weights, metadata={"format": "mlx"})
    (folder / "config.json").write_text(jsonlib.dumps(config))
    return folder


def parse_sse(raw: bytes) -> list[JSON]:
    """Check the framing strictly (``data: {...}\\n\\n`` frames ending in ``[DONE]``) and decode."""
    assert raw.endswith(DONE_FRAME + b"\n\n"), raw[-200:]
    frames = raw.split(b"\n\n")
    assert frames[-1] == b"", "the body must end with a blank line"
    frames = frames[:-1]
    for frame in frames:
        assert frame.startswith(b"data: "), frame
        assert b"\n" not in frame, f"one line per event: {frame!r}"
        assert b"\r" not in frame, f"one line per event: {frame!r}"
    assert frames[-1] == DONE_FRAME
    assert DONE_FRAME not in frames[:-1], "[DONE] must come exactly once, last"
    return [orjson.loads(frame[len(b"data: ") :]) for frame in frames[:-1]]


def stream_content(chunks: list[JSON]) -> str:
    return "".join(
        choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"]
    )


def finish_reasons(chunks: list[JSON]) -> list[str]:
    return [
        choice["finish_reason"]
        for chunk in chunks
        for choice in chunk["choices"]
        if choice["finish_reason"] is not None
    ]


def validate_body(instance: JSON, schema_name: str) -> None:
    """Validate a response body strictly against OpenAI's schema."""
    validate(instance, schema_name)


def check_stream_chunks(chunks: list[JSON], n: int = 1) -> None:
    """Every chunk is schema-valid and all share one id; each of the ``n`` choices has its
    role chunk first, before any other of its chunks, and exactly one finish chunk."""
    for chunk in chunks:
        validate_body(chunk, "CreateChatCompletionStreamResponse")
    assert len({chunk["id"] for chunk in chunks}) == 1
    by_choice: dict[int, list[JSON]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            by_choice.setdefault(choice["index"], []).append(choice)
    assert sorted(by_choice) == list(range(n))
    for choices in by_choice.values():
        assert choices[0]["delta"]["role"] == "assistant"
        assert all("role" not in c["delta"] for c in choices[1:])
        assert sum(c["finish_reason"] is not None for c in choices) == 1


def assert_openai_error(
    reply: Reply,
    status: int,
    *,
    param: str | object | None = ...,
    code: str | object | None = ...,
) -> JSON:
    """The reply is OpenAI's error body, exactly four keys, schema-valid, with this status."""
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error"}
    error: JSON = body["error"]
    assert set(error) == ERROR_KEYS
    assert isinstance(error["message"], str)
    assert error["message"]
    validate(body, "ErrorResponse")
    if param is not ...:
        assert error["param"] == param, error
    if code is not ...:
        assert error["code"] == code, error
    return error
