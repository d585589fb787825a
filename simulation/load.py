"""`manage.py loadtest` (issue 18): publication day through gunicorn, driven by a real load generator.

`bench` times one request at a time through Django's test client. This starts gunicorn with the
production settings (DEBUG off, the configured database and cache; `simulation.load_settings` only
adds the bench's constant view to the URLs) on the city already in the database, and drives it on
loopback with Debian's `wrk`, each mix for a bounded time:

- (a) `lookups`: public lookups with valid codes (issued by the real `lookup_code_issue`), each from
  its own `X-Forwarded-For` (gunicorn runs with `TRUSTED_PROXIES=127.0.0.1`, R-SEC-4);
- (b) `wrong_codes`: lookups of real references with wrong codes, each from its own address: every
  answer must be 404 or 429 (R-PUB-2's limits hold);
- (c) `staff_queue`: the largest home's staff queue page and queue API page as an administrator, at a
  fixed rate (`--staff-rate`, 20 staff clicking once a second);
- (d) `all`: (a) at a fixed rate (`--lookup-rate`), (b) and (c) at once; each part reported apart.

Next to each mix, the constant view (`/bench/constant/`, simulation/bench_urls.py) is driven by the
same server and generator with the same connections in the same run: `constant_rps` and the ratio.
wrk is closed-loop: a fixed rate is approximated by each connection waiting between requests
(`delay()`), so the rate reported is the one achieved.
"""

from __future__ import annotations

import json
import os
import random
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections
from django.db.models import Count, Q
from django.test import Client

from admissions.models import Application
from admissions.services.applications import lookup_code_issue
from core.actor import Actor
from facilities.models import Facility

# Issue 18's targets (2 cores, 100,000 applications, PostgreSQL, the generator on the same machine).
TARGETS = {
    "lookups": "≥ 300 successful a second, p95 ≤ 50 ms, zero 5xx, ≥ 25 % of the constant view's rate",
    "wrong_codes": "every answer 404 or 429, ≥ 300 a second",
    "staff_queue": "p95 ≤ 100 ms at 20 a second (while lookups run at 150 a second: see `all`)",
    "all": "staff queue p95 ≤ 100 ms at 20 a second while lookups run at 150 a second",
}
CODES = 500  # applications whose codes (a) uses
WRONG_RATE_BESIDE = 30  # mistyped codes a second in (d): one connection each, once a second
PACED_CONNECTIONS_MAX = 300  # wrk's connections for the fixed-rate lookups of (d)
WRONG_REFERENCES = 200  # references (b) guesses codes for: few enough that their locks (429) are met


class LoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class Drive:
    """One wrk run: a Lua script against the server for `seconds` with `connections`."""

    name: str
    script: str
    connections: int
    seconds: float
    path: str = "/"


# --- the Lua scripts ------------------------------------------------------------------------------
# Counts answers by status in each thread and prints one JSON line at the end: wrk's own summary
# counts any non-2xx as an error, and (b) expects 404 and 429.
_REPORT = """
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local by_status = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      by_status[tostring(status)] = (by_status[tostring(status)] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(by_status) do table.insert(parts, string.format('"%s": %d', status, n)) end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
      .. '"socket_errors": %d, "statuses": {%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, table.concat(parts, ", ")))
end
"""

_INIT = """
function init(args)
  statuses = {}
  math.randomseed(%(seed)d + 7919 * id)
  counter = 0
end
"""

_DELAY = """
function delay()
  return %(delay_ms)d
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII is a valid Lua string literal


# The 24 bits of 10.0.0.0/8 the simulated families' addresses are drawn from: the mistyped codes
# from the upper half, so their failures never lock an address a right code then comes from (R-PUB-2).
WRONG_ADDRESSES_FROM = 1 << 23


def lookup_script(pairs: list[tuple[str, str]], *, seed: int, delay_ms: int = 0, first_address: int = 0) -> str:
    """(a) and (b): POST the public lookup with one of `pairs`, from a new address each time, the
    addresses counted from `first_address` (within 10.0.0.0/8)."""
    table = ",\n".join(f"{{{_lua_string(r)}, {_lua_string(c)}}}" for r, c in pairs)
    return (
        f"pairs_ = {{\n{table}\n}}\nFIRST_ADDRESS = {first_address}\n"
        + _INIT % {"seed": seed}
        + """
function request()
  counter = counter + 1
  local pair = pairs_[math.random(#pairs_)]
  local n = FIRST_ADDRESS + id * 1000003 + counter
  local address = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("POST", "/api/v1/public/lookup/", {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = address,
  }, string.format('{"reference": "%s", "code": "%s"}', pair[1], pair[2]))
end
"""
        + (_DELAY % {"delay_ms": delay_ms} if delay_ms else "")
        + _REPORT
    )


def get_script(paths: list[str], *, seed: int, cookie: str = "", delay_ms: int = 0) -> str:
    """(c) and the constant view: GET one of `paths` in turn."""
    table = ", ".join(_lua_string(p) for p in paths)
    headers = f'["Cookie"] = {_lua_string(cookie)}, ["HX-Request"] = "true"' if cookie else ""
    return (
        f"paths_ = {{{table}}}\n"
        + _INIT % {"seed": seed}
        + f"""
function request()
  counter = counter + 1
  return wrk.format("GET", paths_[(counter % #paths_) + 1], {{{headers}}})
end
"""
        + (_DELAY % {"delay_ms": delay_ms} if delay_ms else "")
        + _REPORT
    )


def parse_wrk(output: str) -> dict:
    """The JSON line our `done()` prints, as the figures of `load`."""
    for line in output.splitlines():
        if line.startswith("WRK-JSON "):
            raw = json.loads(line[len("WRK-JSON ") :])
            seconds = max(raw["duration_us"] / 1e6, 1e-9)
            statuses = {int(k): v for k, v in raw["statuses"].items()}
            return {
                "requests": raw["requests"],
                "seconds": round(seconds, 2),
                "rps": round(raw["requests"] / seconds, 1),
                "p50_ms": round(raw["p50_us"] / 1000, 2),
                "p95_ms": round(raw["p95_us"] / 1000, 2),
                "p99_ms": round(raw["p99_us"] / 1000, 2),
                "statuses": dict(sorted(statuses.items())),
                "socket_errors": raw["socket_errors"],
            }
    raise LoadError(f"wrk printed no result:\n{output[-2000:]}")


# --- the server -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn on loopback with the production settings, plus the constant view's URL."""

    def __init__(self, *, workers: int, env: dict[str, str] | None = None):
        self.port = _free_port()
        self.workers = workers
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "simulation.load_settings",
            "DEBUG": "0",
            "TRUSTED_PROXIES": "127.0.0.1",
            "LOG_LEVEL": "WARNING",  # a line per lookup would cost more than the lookup
            # This process issued the lookup codes: the server must hash them with the same key, and
            # with DEBUG off it refuses to start without one (R-SEC-1, R-SEC-8).
            "SECRET_KEY": os.environ.get("SECRET_KEY") or settings.SECRET_KEY,
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [str(gunicorn), "config.wsgi", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)]
        command += ["--error-logfile", "-", "--log-level", "warning"]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LoadError(f"gunicorn stopped: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise LoadError("gunicorn did not start within 60 s")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def settle(self) -> None:
        """Wait until the requests a finished wrk left queued in gunicorn's backlog are served, so the
        next run does not pay for them: a request through every worker, one after another."""
        for _ in range(self.workers):
            try:
                urllib.request.urlopen(self.url + "/bench/constant/", timeout=60).read()
            except OSError as exc:
                raise LoadError(f"the server did not answer after a run: {exc}") from exc

    def log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def gunicorn_config() -> dict:
    """The worker class and threads gunicorn.conf.py gives the server (the production settings)."""
    config = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    return {"worker_class": config.get("worker_class", "sync"), "threads": config.get("threads", 1)}


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise LoadError("wrk is not installed: apt-get install -y wrk (Debian's package).")
    return found


def _start(drive: Drive, url: str, folder: Path) -> subprocess.Popen:
    script = folder / f"{drive.name}.lua"
    script.write_text(drive.script)
    threads = max(1, min(drive.connections, 2))
    command = [_wrk(), "-t", str(threads), "-c", str(drive.connections), "-d", f"{max(1, round(drive.seconds))}s"]
    command += ["--timeout", "10s", "-s", str(script), url + drive.path]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> dict:
    output, _ = process.communicate()
    if process.returncode != 0:
        raise LoadError(f"wrk failed:\n{output[-2000:]}")
    return parse_wrk(output)


def drive_together(drives: list[Drive], server: Server, folder: Path) -> dict[str, dict]:
    processes = {d.name: _start(d, server.url, folder) for d in drives}
    figures = {name: _finish(p) for name, p in processes.items()}
    server.settle()
    return figures


# --- the run ----------------------------------------------------------------------------------------
class LoadTest:
    def __init__(
        self,
        *,
        seconds: float,
        connections: int,
        workers: int,
        lookup_rate: int,
        staff_rate: int,
        seed: int,
        warmup: float = 10,
        codes: int = CODES,
        out=print,
    ):
        self.seconds, self.connections, self.workers = seconds, connections, workers
        self.warmup, self.codes = warmup, codes
        self.lookup_rate, self.staff_rate = lookup_rate, staff_rate
        self.seed = seed
        self.rng = random.Random(seed)
        self.out = out

    def run(self) -> dict:
        _wrk()
        material = self._material()
        connections.close_all()  # gunicorn's workers open their own
        results: dict = {
            "server": {
                "workers": self.workers,
                **gunicorn_config(),
                "settings": "simulation.load_settings (production, DEBUG off)",
            },
            "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
            "generator": "wrk",
            "seconds_per_mix": self.seconds,
            "warmup_seconds": self.warmup,
            "codes": len(material["pairs"]),
            "connections": self.connections,
            "facility": material["facility"],
            "load_average_before": list(os.getloadavg()),
            "mixes": {},
        }
        with Server(workers=self.workers) as server, tempfile.TemporaryDirectory() as folder:
            mixes = self._mixes(material)
            # Not measured: every worker opens its connections and imports what the first request
            # needs (the constant view, the pages), as a server that has been up a while has.
            warm = [replace(d, seconds=self.warmup) for d in (*mixes["all"], self._constant())]
            try:
                self._drive(mixes, warm, server, Path(folder), results)
            except LoadError as exc:
                raise LoadError(f"{exc}\ngunicorn said:\n{server.log_tail()}") from exc
        results["load_average_after"] = list(os.getloadavg())
        return results

    def _drive(self, mixes: dict, warm: list[Drive], server: Server, folder: Path, results: dict) -> None:
        for drive in warm if self.warmup > 0 else []:
            drive_together([drive], server, folder)
        for name, drives in mixes.items():
            self.out(f"Mix {name}: {', '.join(d.name for d in drives)} for {self.seconds} s…")
            figures = drive_together(drives, server, folder)
            constant = drive_together([self._constant()], server, folder)["constant"]
            for part, figure in figures.items():
                results["mixes"][part if name == part else f"{name}.{part}"] = self._figure(
                    part, figure, constant, name
                )

    def _material(self) -> dict:
        """Codes for (a), references for (b), a session and the largest home for (c)."""
        waiting = list(Application.objects.filter(state="waiting").values_list("pk", flat=True))
        if not waiting:
            raise LoadError("No waiting application: build a city first (python manage.py generate_city …).")
        officer = Actor(kind="system", name="loadtest")
        pairs = []
        for pk in self.rng.sample(waiting, min(self.codes, len(waiting))):
            application = Application.objects.get(pk=pk)
            pairs.append((application.reference, lookup_code_issue(application=application, actor=officer)))
        # Never a reference whose right code (a) asks with: its failures would lock it (R-PUB-2).
        asked = {reference for reference, _ in pairs}
        references = [
            reference
            for reference in Application.objects.values_list("reference", flat=True)[
                : WRONG_REFERENCES * 4 + len(asked)
            ]
            if reference not in asked
        ]
        if not references:
            raise LoadError("No reference left for the wrong codes: give fewer --codes than the city has applications.")
        wrong = [(r, "ZZZZZZ") for r in self.rng.sample(references, min(WRONG_REFERENCES, len(references)))]
        home = (
            Facility.objects.annotate(
                beds_n=Count("beds", distinct=True),
                open_n=Count("queue_entries", filter=Q(queue_entries__status="open"), distinct=True),
            )
            .order_by("-beds_n", "-open_n", "code")
            .first()
        )
        admin = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        if admin is None:
            raise LoadError("No active administrator to open the staff pages as (generate_city makes city-admin).")
        client = Client()
        client.force_login(admin)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        return {"pairs": pairs, "wrong": wrong, "facility": home.code, "cookie": cookie}

    def _staff(self, material: dict) -> Drive:
        code = material["facility"]
        paths = [f"/staff/facilities/{code}/queue/", f"/api/v1/facilities/{code}/queue/"]
        connections_ = max(1, min(self.staff_rate, 20))
        delay = round(1000 * connections_ / max(self.staff_rate, 1))
        script = get_script(paths, seed=self.seed, cookie=material["cookie"], delay_ms=delay)
        return Drive("staff_queue", script, connections_, self.seconds)

    def _mixes(self, material: dict) -> dict[str, list[Drive]]:
        lookups = Drive("lookups", lookup_script(material["pairs"], seed=self.seed), self.connections, self.seconds)
        wrong = Drive(
            "wrong_codes",
            lookup_script(material["wrong"], seed=self.seed + 1, first_address=WRONG_ADDRESSES_FROM),
            self.connections,
            self.seconds,
        )
        # Each paced connection is one family asking about once a second, as each staff connection
        # is one clerk clicking once a second: with few connections and short pauses the time of
        # each answer itself would keep the rate well under the one asked for (wrk is closed-loop).
        paced_connections = max(1, min(self.lookup_rate, PACED_CONNECTIONS_MAX))
        paced = Drive(
            "lookups",
            lookup_script(
                material["pairs"],
                seed=self.seed + 2,
                delay_ms=round(1000 * paced_connections / max(self.lookup_rate, 1)),
            ),
            paced_connections,
            self.seconds,
        )
        # Mistyped codes beside them at a fixed rate too: unpaced, a handful of connections took
        # whatever the server had left, and the mix measured the overload rather than the staff pages.
        wrong_beside = Drive(
            "wrong_codes",
            lookup_script(material["wrong"], seed=self.seed + 3, delay_ms=1000, first_address=WRONG_ADDRESSES_FROM),
            WRONG_RATE_BESIDE,
            self.seconds,
        )
        return {
            "lookups": [lookups],
            "wrong_codes": [wrong],
            "staff_queue": [self._staff(material)],
            "all": [paced, wrong_beside, self._staff(material)],
        }

    def _constant(self) -> Drive:
        script = get_script(["/bench/constant/"], seed=self.seed)
        return Drive("constant", script, self.connections, self.seconds)

    @staticmethod
    def _figure(part: str, figure: dict, constant: dict, mix: str) -> dict:
        statuses = figure["statuses"]
        server_errors = sum(n for status, n in statuses.items() if status >= 500)
        expected = {200} if part in ("lookups", "staff_queue") else {404, 429}
        unexpected = sum(n for status, n in statuses.items() if status not in expected)
        result = {
            **figure,
            "rps": figure["rps"],
            "ok_rps": round(sum(statuses.get(s, 0) for s in expected) / max(figure["seconds"], 1e-9), 1),
            "errors": unexpected + figure["socket_errors"],
            "server_errors": server_errors,
            "constant_rps": constant["rps"],
            "constant_p95_ms": constant["p95_ms"],
            "ratio_to_constant_rps": round(figure["rps"] / max(constant["rps"], 1e-9), 3),
            "target": TARGETS[part if mix == part else mix],
        }
        return result


def run_load(**kwargs) -> dict:
    return LoadTest(**kwargs).run()
