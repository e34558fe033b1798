"""OpenAI's JSON Schemas, for checking that what mlxfn renders is what clients expect.

The schemas live in ``../shared/openai-schemas.json`` next to the repository root. Their
``$ref``s point at ``#/components/schemas/...``, so each check resolves against that document.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SCHEMAS_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "openai-schemas.json"
_URI = "urn:openai-schemas"


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


def validate(instance: object, schema_name: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` matches the named schema.

    >>> error = {"message": "m", "type": "t", "param": None, "code": None}
    >>> validate({"error": error}, "ErrorResponse")
    """
    validator(schema_name).validate(instance)
