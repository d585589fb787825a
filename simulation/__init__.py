"""The bureau's planning tools: a city's worth of data (`generate_city`), the policy simulator
(`simulate`) and the benchmarks (`bench`).

It sits above every other app (it drives the services of admissions and the HTTP stack of api), so
nothing else may import it.
"""
