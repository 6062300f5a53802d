"""The one module that speaks openapi-core: it validates a document and builds its validators, finds the operation
and the documented response of a request, and hands the validators' complaints on in plain terms (ParameterError,
BodyError, NoOperation, NoPath, NoResponse), so that the checks know nothing of openapi-core's types.

openapi-core is imported inside the functions: without the `contracts` extra, importing the drift package still works
(its command then says which extra to install).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.errors import OpenAPIUnavailable


@dataclass(frozen=True)
class Document:
    """An OpenAPI document ready to check against: openapi-core's spec and validators, and where it came from."""

    source: str
    spec: Any  # jsonschema_path.SchemaPath
    parameters: Any
    body: Any
    response: Any  # response schemas that require nothing
    strict: Any  # ... and that describe every property (unevaluatedProperties: false)
    written: Any = None  # response schemas as the document writes them (what a provider's real answer must meet)
    headers: Any = None  # ... and its response headers (required ones, their schemas)


class NoOperation(Exception):
    """A path of the document matches the request's, but has no operation for its method."""


class NoPath(Exception):
    """No path of the document matches the request's (under the document's base path)."""


class NoResponse(Exception):
    """The operation documents no response for the status; `available`: the statuses it documents."""

    def __init__(self, available: Any) -> None:
        super().__init__(available)
        self.available = available


@dataclass(frozen=True)
class ParameterError:
    """One complaint about the request's parameters. `location` (query, header, path, cookie) and `name` say which
    parameter; None for any other complaint, which `text` then says. `missing`: a required one is absent; `cause`:
    the schema error behind an invalid value (its `schema_errors`, jsonschema's, when there are)."""

    text: str = ""
    location: str | None = None
    name: str = ""
    missing: bool = False
    cause: BaseException | None = None


@dataclass(frozen=True)
class BodyError:
    """One complaint about a request or response body: `media_types`, the content types the document has, when the
    body's is not among them; else `schema_errors` (jsonschema ValidationError each) when the schema says why; else
    `text`."""

    text: str = ""
    media_types: list[str] | None = None
    schema_errors: list[Any] | None = None


def valid_spec(data: dict[str, Any], source: str, uri: str) -> Any:
    """`data` as a jsonschema_path SchemaPath ($refs resolved against `uri`), once openapi-spec-validator accepts it.

    Raises:
        OpenAPIUnavailable: the document is not a valid OpenAPI document (openapi-spec-validator's first complaint).
    """
    from jsonschema_path import SchemaPath
    from openapi_core import OpenAPI

    spec = SchemaPath.from_dict(data, base_uri=uri)
    try:
        OpenAPI(spec)  # checks the document (openapi-spec-validator)
    except Exception as error:  # noqa: BLE001 - openapi-spec-validator's errors have no common base worth naming
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OpenAPIUnavailable(f"the OpenAPI document ({source}) is not valid: {first}") from None
    return spec


def document(source: str, spec: Any, v31: bool, uri: str, loose: dict[str, Any], strict: dict[str, Any]) -> Document:
    """The validators of `spec` (OpenAPI 3.1 when `v31`, else 3.0): request parameters and body against `spec`,
    response bodies against `loose` (nothing required) and `strict` (every property described) documents, and
    against `spec` as written (`written`: an observed answer, judged as schemathesis judges one), response headers
    against `spec` (`headers`: an observed answer's)."""
    from jsonschema_path import SchemaPath
    from openapi_core.validation.request import (
        V30RequestBodyValidator,
        V30RequestParametersValidator,
        V31RequestBodyValidator,
        V31RequestParametersValidator,
    )
    from openapi_core.validation.response import (
        V30ResponseDataValidator,
        V30ResponseHeadersValidator,
        V31ResponseDataValidator,
        V31ResponseHeadersValidator,
    )

    parameters, body, response = ((V31RequestParametersValidator, V31RequestBodyValidator, V31ResponseDataValidator)
                                  if v31 else
                                  (V30RequestParametersValidator, V30RequestBodyValidator, V30ResponseDataValidator))
    headers = V31ResponseHeadersValidator if v31 else V30ResponseHeadersValidator
    loose_spec = SchemaPath.from_dict(loose, base_uri=uri)
    strict_spec = SchemaPath.from_dict(strict, base_uri=uri)
    options = {} if v31 else {"schema_validators_factory": _oas30_with_unevaluated()}
    return Document(source, spec, parameters(spec), body(spec), response(loose_spec),
                    response(strict_spec, **options), response(spec), headers(spec))


def _oas30_with_unevaluated() -> Any:
    """OpenAPI 3.0's schema validator (draft 4 based) taught `unevaluatedProperties` from jsonschema's 2020-12 one."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend
    from openapi_core.validation.schemas.factories import SchemaValidatorsFactory
    from openapi_schema_validator import OAS30ReadValidator

    return SchemaValidatorsFactory(extend(OAS30ReadValidator, {
        "unevaluatedProperties": Draft202012Validator.VALIDATORS["unevaluatedProperties"]}))


def request_parameters(query: Any, header: Any, cookie: Any) -> Any:
    """openapi-core's RequestParameters of a request (werkzeug multi-dicts and Headers)."""
    from openapi_core.datatypes import RequestParameters

    return RequestParameters(query=query, header=header, cookie=cookie)


def find_operation(spec: Any, method: str, url: str) -> tuple[str, Any]:
    """(path template, operation) that `method` (lower case) `url` (`http://provider/api/users/1`) calls.

    Raises:
        NoOperation: a path matches, not the method; NoPath: no path matches.
    """
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathError
    from openapi_core.templating.paths.finders import APICallPathFinder

    try:
        _, operation, _, path_result, _ = APICallPathFinder(spec).find(method, url)
    except OperationNotFound:
        raise NoOperation() from None
    except PathError:
        raise NoPath() from None
    return path_result.pattern, operation


def path_template(spec: Any, url: str) -> str | None:
    """The path template a GET of `url` matches; None when it matches none (or the search fails at all)."""
    from openapi_core.templating.paths.finders import APICallPathFinder

    try:
        found = APICallPathFinder(spec).find("get", url)
    except Exception:  # noqa: BLE001 - only the template is of interest: any failure means "none"
        return None
    template: str = found[3].pattern  # (path, operation, server, path result, server result)
    return template


def parameter_errors(document: Document, request: Any) -> Iterator[ParameterError]:
    """What the document's parameter validator says of `request` (a PactRequest), one ParameterError each."""
    from openapi_core.validation.request.exceptions import MissingRequiredParameter, ParameterValidationError

    for error in document.parameters.iter_errors(request):
        if isinstance(error, ParameterValidationError):
            yield ParameterError(location=error.location, name=error.name,
                                 missing=isinstance(error, MissingRequiredParameter), cause=error.__cause__)
        else:
            yield ParameterError(text=str(error))


def body_errors(document: Document, request: Any) -> Iterator[BodyError]:
    """What the document's request body validator says of `request` (a PactRequest), one BodyError each."""
    for error in document.body.iter_errors(request):
        yield _body_error(error)


def response_errors(document: Document, request: Any, response: Any, strict: bool = False,
                    written: bool = False) -> Iterator[BodyError]:
    """What the response validator (`strict`: the one that wants every property described; `written`: the document
    as written, `required` and all) says of `response` (a PactResponse), one BodyError each. A missing body is none:
    the pact may say nothing of it."""
    from openapi_core.validation.response.exceptions import MissingData

    validator = document.written if written else document.strict if strict else document.response
    for error in validator.iter_errors(request, response):
        if not isinstance(error, MissingData):
            yield _body_error(error)


def header_errors(document: Document, request: Any, response: Any) -> Iterator[ParameterError]:
    """What openapi-core says of `response`'s headers (a PactResponse with every header the provider answered
    with): a required one missing, a value against its schema; one ParameterError (location "header") each."""
    from openapi_core.validation.response.exceptions import HeaderValidationError, MissingRequiredHeader

    for error in document.headers.iter_errors(request, response):
        if isinstance(error, HeaderValidationError):
            yield ParameterError(location="header", name=error.name, missing=isinstance(error, MissingRequiredHeader),
                                 cause=error.__cause__)


def _body_error(error: Exception) -> BodyError:
    from openapi_core.templating.media_types.exceptions import MediaTypeNotFound

    cause = error.__cause__
    found = cause if isinstance(cause, MediaTypeNotFound) else error if isinstance(error, MediaTypeNotFound) else None
    if found is not None:
        return BodyError(media_types=found.availableMimetypes)
    schema_errors = getattr(cause, "schema_errors", None)
    return BodyError(text="" if schema_errors else str(cause or error), schema_errors=schema_errors)


def documented_response(operation: Any, status: int) -> Any:
    """The response of `operation` that documents `status` (its `name`: "200", "2XX" or "default").

    Raises:
        NoResponse: the operation documents none for it.
    """
    from openapi_core.templating.responses.exceptions import ResponseNotFound
    from openapi_core.templating.responses.finders import ResponseFinder

    try:
        return ResponseFinder(operation / "responses").find(str(status))
    except ResponseNotFound as error:
        raise NoResponse(error.availableresponses) from None
