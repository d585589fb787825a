"""Family portal pages (public, no account): portal. Thin: parse, call one service or selector, render."""

urlpatterns: list = []
