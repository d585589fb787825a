"""Staff pages: homes and beds. Thin: parse, call one service or selector, render."""

urlpatterns: list = []
