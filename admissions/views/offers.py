"""Staff pages: offers. Thin: parse, call one service or selector, render."""

urlpatterns: list = []
