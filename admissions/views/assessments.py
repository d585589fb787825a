"""Staff pages: assessments. Thin: parse, call one service or selector, render."""

urlpatterns: list = []
