"""A real Celery worker (a subprocess) against a real Redis, for tests/background.

`shared_worker` runs one worker for the module on the machine's Redis (127.0.0.1:6379, never
stopped here), on a queue and with a name of its own; `celery_on` points this process at the same
broker. `throwaway_redis` starts a redis-server of the test's own on a free port (the outage test).
Every process started here is ended in teardown, and every wait is bounded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import kombu.pools
import pytest
import redis
from django.db import connection

from config.celery import app

BASE_DIR = Path(__file__).resolve().parents[2]
SHARED_REDIS = os.environ.get("BACKGROUND_REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY = str(Path(sys.executable).with_name("celery"))
WAIT_SECONDS = 30


def wait_for(check, what: str, timeout: float = WAIT_SECONDS):
    """Poll `check` every 0.1 s until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def _reset_connections() -> None:
    """Forget this process's broker connections (the broker URL changed, or the broker restarted)."""
    kombu.pools.reset()  # closes and forgets every pooled connection and producer of this process
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def celery_on(broker_url: str, queue: str):
    """Tasks queued by this process go to `broker_url`, on `queue`, not run eagerly; restored after."""
    conf = app.conf
    saved = {key: conf[key] for key in ("broker_url", "task_always_eager", "task_default_queue")}
    conf.update(broker_url=broker_url, task_always_eager=False, task_default_queue=queue)
    _reset_connections()
    try:
        yield
    finally:
        conf.update(saved)
        _reset_connections()


def test_database_url() -> str:
    """The database pytest-django created (test_<name>), as a URL for the worker."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


test_database_url.__test__ = False  # not a test, despite the name


class Worker:
    """`celery worker --pool=solo` as a subprocess, its log in a file."""

    def __init__(self, *, broker_url: str, queue: str, log_path: Path, env: dict[str, str] | None = None):
        self.broker_url, self.queue, self.log_path = broker_url, queue, log_path
        self.env = env or {}
        self.name = f"{queue}@localhost"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            "BACKGROUND_TEST_QUEUE": self.queue,
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "WEBHOOK_BACKOFF_SECONDS": "1",
            "SMS_BACKEND": "console",
            "LOG_LEVEL": "INFO",
            **self.env,
        }
        command = [CELERY, "-A", "tests.background.worker_app", "worker", "--pool=solo", "--concurrency=1"]
        command += ["-l", "info", "-n", self.name, "-Q", self.queue, "--without-mingle", "--without-gossip"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self) -> None:
        """Until it answers a ping (this process must be on the same broker: `celery_on`)."""

        def answered():
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited with {self.process.returncode}:\n{self.log()}")
            try:
                return app.control.ping(destination=[self.name], timeout=0.5)
            except Exception:  # the broker is not reachable yet
                return None

        wait_for(answered, "the worker to answer a ping")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def successor(self) -> Worker:
        """A new worker on the same queue and configuration, as a restarted container would be."""
        return Worker(
            broker_url=self.broker_url, queue=self.queue, log_path=self.log_path.with_suffix(".next.log"), env=self.env
        )

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost machine would: no shutdown, no acks, no
        message put back; the solo pool runs tasks in this one process."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def shared_worker(django_db_setup, tmp_path_factory):
    """One worker for the module, on the machine's shared Redis and a queue of its own."""
    queue = f"bgtest-{uuid.uuid4().hex[:12]}"
    worker = Worker(broker_url=SHARED_REDIS, queue=queue, log_path=tmp_path_factory.mktemp("worker") / "worker.log")
    worker.start()
    try:
        with celery_on(SHARED_REDIS, queue):
            worker.wait_ready()
        yield worker
    finally:
        worker.stop()
        forget_queue(SHARED_REDIS, queue)


def forget_queue(broker_url: str, queue: str) -> None:
    """Leave nothing of ours in the shared Redis (never stop it): the queue, its bindings, and the
    messages a killed worker left unacknowledged (kombu keeps those in `unacked`, by delivery tag)."""
    try:
        client = redis.Redis.from_url(broker_url, socket_timeout=5)
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        for tag, raw in client.hgetall("unacked").items():
            if f'"routing_key": "{queue}"'.encode() in raw or f'"{queue}"'.encode() in raw:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
        client.close()
    except redis.RedisError:
        pass


@contextmanager
def own_worker(tmp_path: Path, env: dict[str, str] | None = None):
    """A worker of the test's own on the shared Redis (a queue of its own, with this process sending
    to it), for tests that configure it differently or kill it. Stopped and forgotten after."""
    queue = f"bgtest-{uuid.uuid4().hex[:12]}"
    worker = Worker(broker_url=SHARED_REDIS, queue=queue, log_path=tmp_path / f"{queue}.log", env=env)
    try:
        with celery_on(SHARED_REDIS, queue):
            worker.start()
            worker.wait_ready()
            yield worker
    finally:
        worker.stop()
        forget_queue(SHARED_REDIS, queue)


@pytest.fixture
def worker(shared_worker, settings):
    """The module's worker, with this process sending to the same broker and queue."""
    settings.CELERY_BROKER_URL = shared_worker.broker_url
    with celery_on(shared_worker.broker_url, shared_worker.queue):
        yield shared_worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own on a free port: nothing saved, stoppable and restartable."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

        def pong():
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server on port {self.port} exited with {self.process.returncode}")
            try:
                with redis.Redis(port=self.port, socket_timeout=1) as client:
                    return client.ping()
            except redis.RedisError:
                return False

        wait_for(pong, f"redis-server on port {self.port}", timeout=10)

    def stop(self) -> None:
        """SHUTDOWN NOSAVE, then wait for the process (killed if it lingers)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            with redis.Redis(port=self.port, socket_timeout=2) as client:
                client.shutdown(nosave=True)
        except redis.RedisError:
            pass  # it answers by closing the connection
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def throwaway_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
