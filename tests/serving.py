"""Helpers for the server tests: a real ``kb serve`` (or ``kb mcp --http``) subprocess and a small HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from conftest import ROOT, kb_cmd, kb_env, run_kb

URL_LINE = re.compile(r"at (http://[^/\s]+)/([^\s;]*)")


class Served:
    """A ``kb`` server subprocess; ``base`` is its http://host:port."""

    def __init__(self, index: Path, *args: str, log: Path, command: str = "serve", env: dict | None = None):
        self.log = log
        self.index = index
        self._log_file = open(log, "wb")
        self.proc = subprocess.Popen(kb_cmd(index, command, "--port", "0", *args), env=kb_env(**(env or {})),
                                     stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT)
        self.base, self.path = self._wait_for_url()
        self.host, self.port = self.base[len("http://"):].rsplit(":", 1)

    def _wait_for_url(self, timeout: float = 60.0) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text("utf-8", errors="replace")
            m = URL_LINE.search(text)
            if m:
                return m.group(1), "/" + m.group(2)
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}: {text}")
            time.sleep(0.05)
        self.stop()
        raise AssertionError("the server did not report its URL within 60 s")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> str:
        """Stop the server (as Ctrl+C would) and return what it logged."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._log_file.close()
        return self.log.read_text("utf-8", errors="replace")

    def connection(self, timeout: float = 60.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, int(self.port), timeout=timeout)

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None,
                conn: http.client.HTTPConnection | None = None) -> tuple[int, dict, bytes]:
        """One request (``path`` is sent as given); returns status, headers (lower-case names) and body."""
        own = conn is None
        conn = conn or self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if own:
                conn.close()

    def get(self, path: str, params: dict | None = None, **kwargs) -> tuple[int, dict]:
        """GET ``path`` with ``params`` percent-encoded; returns the status and the JSON body."""
        url = path + ("?" + urlencode(params) if params else "")
        status, headers, data = self.request("GET", url, **kwargs)
        assert headers.get("content-type", "").startswith("application/json"), (status, headers, data[:200])
        return status, json.loads(data.decode("utf-8"))


PROVINCES = ROOT / "tests" / "data" / "provinces"  # six reports whose province is known only from metadata


def provinces_index(root: Path) -> Path:
    """The shipped provincial reports copied under ``root`` and indexed there; returns the index."""
    import shutil

    src = root / "provinces"
    shutil.copytree(PROVINCES, src)
    index = root / "index"
    r = run_kb(index, "index", src)
    assert r.returncode == 0, r.stderr
    return index


def passage_path(pid: str) -> str:
    return "/passages/" + quote(pid, safe="")


def document_path(doc_id: str) -> str:
    return "/documents/" + quote(doc_id, safe="")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")
