"""API errors as the metav1 ``Status`` objects the real API server answers with."""

from __future__ import annotations

from .resources import Resource


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def headers(self) -> dict[str, str]:
        """``Retry-After`` on a throttled answer, as the API server's priority and fairness sends it."""
        retry = (self.details or {}).get("retryAfterSeconds")
        return {"Retry-After": str(retry)} if retry else {}

    def status(self) -> dict:
        out = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            out["details"] = self.details
        return out


def _details(res: Resource, name: str) -> dict:
    out = {"name": name, "kind": res.plural}
    if res.group:
        out["group"] = res.group
    return out


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{res.qualified} "{name}" not found', _details(res, name))


def no_such_resource() -> ApiError:
    """A URL the server does not serve."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists', _details(res, name))


def conflict(res: Resource, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has '
        "been modified; please apply your changes to the latest version and try again",
        _details(res, name),
    )


def invalid(res: Resource, name: str, field: str, message: str) -> ApiError:
    kind = res.kind
    details = {
        "name": name,
        "kind": kind,
        "causes": [{"reason": "FieldValueInvalid", "message": f"Invalid value: {message}", "field": field}],
    }
    if res.group:
        details["group"] = res.group
    return ApiError(
        422,
        "Invalid",
        f'{kind}.{res.group or "core"} "{name}" is invalid: {field}: Invalid value: {message}',
        details,
    )


def patch_rejected(message: str) -> ApiError:
    """What the server answers when a JSON patch cannot be applied (e.g. a failed ``test`` op)."""
    return ApiError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        {"causes": [{"reason": "UnexpectedServerResponse", "message": message}]},
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unsupported_media(accepted: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {accepted}",
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(
    res: Resource, name: str | None, verb: str, namespace: str | None, sub: str | None, user: str
) -> ApiError:
    """The RBAC denial, word for word as the API server's authorizer writes it."""
    who = f'{res.qualified} "{name}"' if name else res.qualified
    resource = f"{res.plural}/{sub}" if sub else res.plural
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    details = {"name": name, "kind": res.plural} if name else {"kind": res.plural}
    if res.group:
        details["group"] = res.group
    return ApiError(
        403,
        "Forbidden",
        f'{who} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group "{res.group}"{where}',
        details,
    )


def too_many_requests(retry_after: int = 1) -> ApiError:
    return ApiError(
        429, "TooManyRequests", "Too many requests, please try again later.", {"retryAfterSeconds": retry_after}
    )


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]})


def unavailable() -> ApiError:
    return ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request", {})


def timeout() -> ApiError:
    return ApiError(
        504, "Timeout", "Timeout: request did not complete within requested timeout - context deadline exceeded", {}
    )
