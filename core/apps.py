from django.apps import AppConfig


class CoreConfig(AppConfig):
    """No models: the errors every service raises, who acts (the actor), and the form base that puts a
    service's refusal on a form. Every other app may import it; it imports none of them."""

    name = "core"
