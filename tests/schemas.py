"""OpenAI's JSON Schemas, for checking that what mlxfn renders is what clients expect.

The schemas are vendored in ``tests/reference/`` (pinned; its README names their source
and version), so a fresh clone needs nothing beside it. Their ``$ref``s point at
``#/components/schemas/...``, so each check resolves against that document. Schemas that
file lacks (the legacy completions') are taken from OpenAI's OpenAPI YAML itself, its
``nullable: true`` turned into JSON Schema's ``null`` type the same way.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import orjson
import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

REFERENCE = Path(__file__).resolve().parent / "reference"
SCHEMAS_PATH = REFERENCE / "openai-schemas.json"
OPENAPI_PATH = REFERENCE / "openai-openapi.yaml"
_URI = "urn:openai-schemas"
_YAML_URI = "urn:openai-openapi"
_MLXFN_URI = "urn:mlxfn-openapi"


@functools.cache
def _registry() -> Registry[Any]:
    document = orjson.loads(SCHEMAS_PATH.read_bytes())
    registry: Registry[Any] = Registry().with_resource(_URI, DRAFT202012.create_resource(document))
    return registry


@functools.cache
def validator(schema_name: str) -> Draft202012Validator:
    """A validator for ``components.schemas.<schema_name>``."""
    ref = {"$ref": f"{_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=_registry())


def mlxfn_validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator for the component ``name`` of mlxfn's own ``/openapi.json`` document."""
    registry: Registry[Any] = Registry().with_resource(
        _MLXFN_URI, DRAFT202012.create_resource(document)
    )
    ref = {"$ref": f"{_MLXFN_URI}#/components/schemas/{name}"}
    return Draft202012Validator(ref, registry=registry)


def validate(instance: object, schema_name: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` matches the named schema.

    >>> error = {"message": "m", "type": "t", "param": None, "code": None}
    >>> validate({"error": error}, "ErrorResponse")
    """
    validator(schema_name).validate(instance)


@functools.cache
def openapi_schemas() -> dict[str, Any]:
    """``components.schemas`` of OpenAI's OpenAPI YAML, as it is written (OpenAPI 3.0)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is 3x faster
    schemas: dict[str, Any] = yaml.load(OPENAPI_PATH.read_text(), Loader=loader)["components"][
        "schemas"
    ]
    return schemas


def without_nullable(schema: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema: the schema, or null.

    >>> without_nullable({"type": "integer", "nullable": True})
    {'anyOf': [{'type': 'integer'}, {'type': 'null'}]}
    """
    if isinstance(schema, list):
        return [without_nullable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: without_nullable(value) for key, value in schema.items()}
    if converted.pop("nullable", False) is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@functools.cache
def _yaml_registry() -> Registry[Any]:
    document = {"components": {"schemas": without_nullable(openapi_schemas())}}
    return Registry().with_resource(_YAML_URI, DRAFT202012.create_resource(document))


@functools.cache
def openapi_validator(schema_name: str) -> Draft202012Validator:
    """A validator for ``components.schemas.<schema_name>`` of OpenAI's OpenAPI YAML."""
    ref = {"$ref": f"{_YAML_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=_yaml_registry())


def validate_openapi(instance: object, schema_name: str) -> None:
    """Like ``validate``, for a schema taken from the OpenAPI YAML (e.g. the legacy
    ``CreateCompletionResponse``, which ``openai-schemas.json`` lacks)."""
    openapi_validator(schema_name).validate(instance)


STREAMED_COMPLETION = "CreateCompletionResponse (streamed)"


@functools.cache
def _streamed_completion_registry() -> Registry[Any]:
    # OpenAI streams this same object, with finish_reason null until a choice's last chunk
    # (its schema lists only the final values); everything else is checked as documented.
    schemas = without_nullable(openapi_schemas())
    streamed = copy.deepcopy(schemas["CreateCompletionResponse"])
    reason = streamed["properties"]["choices"]["items"]["properties"]["finish_reason"]
    streamed["properties"]["choices"]["items"]["properties"]["finish_reason"] = {
        "anyOf": [reason, {"type": "null"}]
    }
    schemas[STREAMED_COMPLETION] = streamed
    document = {"components": {"schemas": schemas}}
    return Registry().with_resource(_YAML_URI, DRAFT202012.create_resource(document))


def validate_completion_chunk(chunk: object) -> None:
    """A legacy completions stream chunk against CreateCompletionResponse, finish_reason
    null allowed (OpenAI's own stream sends it before a choice's last chunk)."""
    ref = {"$ref": f"{_YAML_URI}#/components/schemas/{STREAMED_COMPLETION}"}
    Draft202012Validator(ref, registry=_streamed_completion_registry()).validate(chunk)
