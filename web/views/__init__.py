"""Server-rendered pages. Thin: each parses, calls one service or selector, renders."""
