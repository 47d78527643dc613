"""A request id on every request and every log line written while serving it."""

import contextvars
import logging
import uuid

_request_id = contextvars.ContextVar("request_id", default="-")


class RequestIdMiddleware:
    header = "HTTP_X_REQUEST_ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get(self.header, "")
        request_id = incoming[:64] if incoming.isprintable() and incoming else ""
        token = _request_id.set(request_id or uuid.uuid4().hex)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = _request_id.get()
            return response
        finally:
            _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = _request_id.get()
        return True
