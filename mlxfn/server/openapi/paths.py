"""The paths of ``/openapi.json``: every route but the Messages API's, its operations and
the errors each can answer with."""

from __future__ import annotations

from typing import Final

from mlxfn.server.openapi import responses_api
from mlxfn.server.openapi.schemas import JSON, REF

ERROR_WHY: Final[dict[int, str]] = {
    400: "invalid request, or prompt plus completion longer than the context",
    401: "a missing or wrong API key",
    403: "a Host the server does not answer (without API keys: the bound address, a loopback "
    "name or --allowed-hosts), or an Origin other than its own and --cors-origins",
    404: "the model is not served here, or no stored response has the id",
    413: "the body is larger than the server's limit",
    415: "the body is not sent as Content-Type: application/json",
    429: "the queue is full; retry after Retry-After seconds",
    500: "an internal error; details go to the server's log only",
    503: "the engine has stopped, the server is draining for shutdown, or a deadline passed",
}


# Every protected route takes a key either way (server/auth.py).
SECURITY: Final[list[JSON]] = [{"bearer": []}, {"apiKey": []}]
SECURITY_SCHEMES: Final[JSON] = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
}


def without_auth(paths: JSON) -> JSON:
    """The paths of a server without API keys: no operation needs a key or answers 401."""
    return {
        path: {
            method: (
                operation
                if method == "parameters"
                else {
                    **{k: v for k, v in operation.items() if k != "security"},
                    "responses": {
                        status: answer
                        for status, answer in operation["responses"].items()
                        if status != "401"
                    },
                }
            )
            for method, operation in item.items()
        }
        for path, item in paths.items()
    }


def _json(ref: str) -> JSON:
    return {"application/json": {"schema": {"$ref": REF + ref}}}


def _errors(*statuses: int) -> JSON:
    return {
        str(status): {"description": ERROR_WHY[status], "content": _json("ErrorResponse")}
        for status in statuses
    }


def _operation(
    summary: str, responses: JSON, *, request: str | None = None, protected: bool = False
) -> JSON:
    operation: JSON = {"summary": summary, "operationId": summary.lower().replace(" ", "_")}
    if request is not None:
        operation["requestBody"] = {"required": True, "content": _json(request)}
    operation["responses"] = responses
    if protected:  # dropped, with the 401, from the document of a server without API keys
        operation["security"] = SECURITY
    return operation


def paths() -> JSON:
    chat_ok = {
        "description": "a completion, or ChatCompletionChunk server-sent events if stream is true",
        "content": {
            **_json("ChatCompletion"),
            "text/event-stream": {"schema": {"$ref": REF + "ChatCompletionEvent"}},
        },
    }
    text_ok = {
        "description": "a text completion, or TextCompletionChunk server-sent events if "
        "stream is true",
        "content": {
            **_json("TextCompletion"),
            "text/event-stream": {"schema": {"$ref": REF + "TextCompletionEvent"}},
        },
    }
    stored = {"response_id": "$response.body#/id"}
    responses_ok = {
        "description": "a Response, or its stream's typed server-sent events if stream is true",
        "content": {
            **_json("Response"),
            "text/event-stream": {"schema": {"$ref": REF + "ResponseEvent"}},
        },
        "links": {
            "RetrieveResponse": {"operationId": "retrieve_response", "parameters": stored},
            "DeleteResponse": {"operationId": "delete_response", "parameters": stored},
        },
    }
    return {
        "/v1/chat/completions": {
            "post": _operation(
                "Create chat completion",
                {"200": chat_ok, **_errors(400, 401, 403, 404, 413, 415, 429, 500, 503)},
                request="ChatBody",
                protected=True,
            )
        },
        "/v1/completions": {
            "post": _operation(
                "Create completion",
                {"200": text_ok, **_errors(400, 401, 403, 404, 413, 415, 429, 500, 503)},
                request="CompletionBody",
                protected=True,
            )
        },
        "/v1/responses": {
            "post": _operation(
                "Create response",
                {"200": responses_ok, **_errors(400, 401, 403, 404, 413, 415, 429, 500, 503)},
                request="ResponsesBody",
                protected=True,
            )
        },
        "/v1/responses/{response_id}": {
            "parameters": [
                {
                    "name": "response_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": responses_api.RESPONSE_ID},
                }
            ],
            "get": _operation(
                "Retrieve response",
                {"200": {"description": "the stored response", "content": _json("Response")}}
                | _errors(401, 403, 404, 503),
                protected=True,
            ),
            "delete": _operation(
                "Delete response",
                {"200": {"description": "it was deleted", "content": _json("ResponseDeleted")}}
                | _errors(401, 403, 404, 503),
                protected=True,
            ),
        },
        "/v1/models": {
            "get": _operation(
                "List models",
                {
                    "200": {
                        "description": "every served model, loaded or not",
                        "content": _json("ModelList"),
                    }
                }
                | _errors(401, 403, 503),
                protected=True,
            )
        },
        "/v1/models/{model_id}": {
            "parameters": [
                {"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": _operation(
                "Retrieve model",
                {
                    "200": {
                        "description": "the model an id or alias names",
                        "content": _json("Model"),
                    }
                }
                | _errors(401, 403, 404, 503),
                protected=True,
            ),
        },
        "/v1/tokenize": {
            "post": _operation(
                "Tokenize",
                {"200": {"description": "the token ids", "content": _json("TokenCount")}}
                | _errors(400, 401, 403, 404, 413, 415, 500, 503),
                request="TokenizeBody",
                protected=True,
            )
        },
        "/v1/embeddings": {
            "post": _operation(
                "Create embeddings",
                {"200": {"description": "one vector per input", "content": _json("EmbeddingList")}}
                | _errors(400, 401, 403, 404, 413, 415, 500, 503),
                request="EmbeddingsBody",
                protected=True,
            )
        },
        "/tokenize": {
            "post": _operation(
                "Tokenize (vLLM's route)",
                {"200": {"description": "the token ids", "content": _json("TokenCount")}}
                | _errors(400, 401, 403, 404, 413, 415, 500, 503),
                request="TokenizeBody",
                protected=True,
            )
        },
        "/detokenize": {
            "post": _operation(
                "Detokenize (vLLM's route)",
                {"200": {"description": "the text", "content": _json("Detokenized")}}
                | _errors(400, 401, 403, 404, 413, 415, 500, 503),
                request="DetokenizeBody",
                protected=True,
            )
        },
        "/health": {
            "get": _operation(
                "Health",
                {
                    "200": {"description": "serving", "content": _json("Health")},
                    "503": {
                        "description": "the engine has stopped, or the server is draining",
                        "content": _json("Health"),
                    },
                }
                | _errors(403),
            )
        },
        "/metrics": {
            "get": _operation(
                "Metrics",
                {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                }
                | _errors(403),
            )
        },
        "/": {
            "get": _operation(
                "Chat page",
                {
                    "200": {
                        "description": "the chat page (404 when the server runs with --no-ui)",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                }
                | _errors(403, 404),
            )
        },
        "/ui/{filename}": {
            "get": _operation(
                "Chat page files",
                {
                    "200": {
                        "description": "the chat page's script or style sheet",
                        "content": {
                            "text/javascript": {"schema": {"type": "string"}},
                            "text/css": {"schema": {"type": "string"}},
                        },
                    }
                }
                | _errors(403, 404),
            ),
            "parameters": [
                {
                    "name": "filename",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": ["chat.js", "chat.css"]},
                }
            ],
        },
        "/openapi.json": {
            "get": _operation(
                "OpenAPI document",
                {"200": {"description": "this document", "content": {"application/json": {}}}}
                | _errors(403),
            )
        },
    }
