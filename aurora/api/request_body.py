"""Request bodies parsed and validated in one step by pydantic's (Rust) JSON parser.

The hot endpoints read the body themselves instead of declaring it as a FastAPI parameter: FastAPI
would decode the JSON with the standard library first and validate the resulting dicts afterwards,
and resolve the body before the token check. Here the token is checked first (a stranger gets 401,
never a schema hint) and ``model_validate_json`` does both steps at once. Errors become the same
422 as everywhere else (``body.<field>``); the OpenAPI document still shows the model (see
:func:`body_openapi` and :func:`aurora.api.auth.document_openapi`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise RequestValidationError(errors) from None


def body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the JSON request body (components added by the app)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


#: Models referenced by ``body_openapi`` whose schemas the app adds to the OpenAPI components.
BODY_MODELS: list[type[BaseModel]] = []


def register_body_model(model: type[M]) -> type[M]:
    if model not in BODY_MODELS:
        BODY_MODELS.append(model)
    return model
