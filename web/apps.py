from django.apps import AppConfig


class WebConfig(AppConfig):
    """The pages: staff (`/staff/`, namespace `staff`) and the families' portal (namespace `portal`).
    Beside the domain apps as healthchecks keeps hc/front beside hc/api: it parses, calls one service
    or selector, renders; no rule lives here. Nothing below it imports it."""

    name = "web"
