"""What kind of answer a request asks for: one rule for every view and error page."""


def wants_json(request):
    """The request comes from the plugin's own scripts (``thread.js`` sends
    ``Accept: application/json`` and ``X-Requested-With``): answer JSON, not a page."""
    return "application/json" in request.headers.get("Accept", "") or bool(
        request.headers.get("X-Requested-With")
    )
