"""A request id on every request and every log line written while serving it, and one
access-log line per request (config/logging.py formats it)."""

import time
import uuid

from django.utils.functional import empty

from config import metrics
from config.logging import (
    RequestIdFilter,
    request_logger,
    reset_request_id,
    set_request_id,
)

__all__ = ["RequestIdFilter", "RequestIdMiddleware"]


def _user_id(request) -> int | None:
    """The user's id if something while serving the request already loaded the user;
    logging never costs a session or user query of its own."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty or not getattr(wrapped, "is_authenticated", False):
        return None
    return getattr(wrapped, "pk", None)  # API callers (tokens) are not users


class RequestIdMiddleware:
    header = "HTTP_X_REQUEST_ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get(self.header, "")
        request_id = incoming[:64] if incoming.isprintable() and incoming else ""
        request_id = request_id or uuid.uuid4().hex
        request.request_id = request_id
        token = set_request_id(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            duration_ms = round((time.monotonic() - started) * 1000, 1)
            match = getattr(request, "resolver_match", None)
            route = match.view_name if match else ""
            request_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "user_id": _user_id(request),
                },
            )
            metrics.record_response(route=route, status=response.status_code)
            return response
        finally:
            reset_request_id(token)
