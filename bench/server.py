"""A real gunicorn serving Tally (with the bench URLconf) on 127.0.0.1, and load generators.

The load generator runs in other processes: ``wrk`` when installed (Debian ``apt-get install wrk``,
light enough to leave the CPU to the server), else a multi-process Python client on
``http.client`` keep-alive connections. Only loopback traffic; every run is bounded in time.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.client import HTTPConnection

from bench.common import ROOT, bench_env, percentile, proc_rss_mb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]
    peak_rss_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tree_rss_mb(self) -> float:
        pids = [self.proc.pid, *_children(self.proc.pid)]
        return sum(proc_rss_mb(p) for p in pids)

    def sample_forever(self) -> None:
        while not self._stop.is_set():
            self.peak_rss_mb = max(self.peak_rss_mb, self.tree_rss_mb())
            self._stop.wait(0.2)


@contextmanager
def gunicorn(
    *, workers: int = 4, threads: int = 2, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--backlog",
        "256",
        "--timeout",
        "60",
        "--log-level",
        "warning",
    ]
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=ROOT, env=bench_env(extra_env), stdout=log, stderr=log)
    server = Server(port, proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log.name}")
            try:
                conn = HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer within 60 s; see {log.name}") from None
                time.sleep(0.3)
        sampler = threading.Thread(target=server.sample_forever, daemon=True)
        sampler.start()
        yield server
    finally:
        server._stop.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --- load ---------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    sample_error: str = ""
    statements: int = 0  # statements the database server ran meanwhile (B2: its ``Questions``)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


WRK_SCRIPT = r"""
threads = {}
counter = 0
errors = 0
first_error = ""
tid = 0
function setup(thread)
  thread:set("tid", tid)
  tid = tid + 1
  table.insert(threads, thread)
end
function init(args)
  run, nacc, prefix, token, body_kind = args[1], tonumber(args[2]), args[3], args[4], args[5]
  math.randomseed(os.time() + tid * 7919)
end
function request()
  counter = counter + 1
  local ns = prefix
  if nacc > 1 then ns = prefix .. "-" .. math.random(0, nacc - 1) end
  local body = string.format(
    '{"namespace":"%s","service":"payment","count":3,"request_id":"%s-%d-%d"}', ns, run, tid, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["Authorization"] = "Token " .. token}, body)
end
function response(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    if first_error == "" then first_error = status .. " " .. string.sub(body, 1, 300) end
  end
end
function done(summary, latency, requests)
  local errs, sample = 0, ""
  for _, t in ipairs(threads) do
    errs = errs + t:get("errors")
    local fe = t:get("first_error")
    if sample == "" and fe ~= nil then sample = fe end
  end
  local sock = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'WRKJSON {"requests": %d, "us": %d, "errors": %d, "sock": %d, "p50": %d, "p99": %d}\n',
    summary.requests, summary.duration, errs, sock, latency:percentile(50), latency:percentile(99)))
  io.write("WRKSAMPLE " .. string.gsub(sample, "\n", " ") .. "\n")
end
"""


def run_load(
    *,
    url: str,
    token: str,
    seconds: int,
    concurrency: int,
    namespace_prefix: str,
    accounts: int,
    run_id: str,
) -> LoadResult:
    if shutil.which("wrk") and os.environ.get("BENCH_LOADGEN", "wrk") == "wrk":
        return _run_wrk(url, token, seconds, concurrency, namespace_prefix, accounts, run_id)
    return _run_python(url, token, seconds, concurrency, namespace_prefix, accounts, run_id)


def _run_wrk(
    url: str, token: str, seconds: int, concurrency: int, prefix: str, accounts: int, run_id: str
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT)
        script = fh.name
    cmd = [
        "wrk",
        "-t",
        "2",
        "-c",
        str(concurrency),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        script,
        url,
        "--",
        run_id,
        str(accounts),
        prefix,
        token,
        "deduct",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    os.unlink(script)
    data: dict[str, int] = {}
    sample = ""
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            data = json.loads(line[len("WRKJSON ") :])
        elif line.startswith("WRKSAMPLE "):
            sample = line[len("WRKSAMPLE ") :].strip()
    if not data:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    return LoadResult(
        "wrk",
        data["requests"],
        data["us"] / 1e6,
        data["errors"] + data["sock"],
        data["p50"] / 1000,
        data["p99"] / 1000,
        sample,
    )


def _py_client(
    args: tuple[str, int, str, str, float, int, str, int, int],
    out: mp.Queue[tuple[int, int, list[float], str]],
) -> None:
    host, port, path, token, until, threads, prefix, accounts, proc_idx = args
    run_id = prefix + "-" + str(os.getpid())
    import random

    lock = threading.Lock()
    total = [0, 0]
    lat: list[float] = []
    sample = [""]

    def worker(tix: int) -> None:
        rng = random.Random(os.getpid() * 1000 + tix)
        conn = HTTPConnection(host, port, timeout=10)
        n = 0
        mine: list[float] = []
        errs = 0
        while time.monotonic() < until:
            n += 1
            ns = prefix if accounts <= 1 else f"{prefix}-{rng.randrange(accounts)}"
            body = json.dumps(
                {"namespace": ns, "service": "payment", "count": 3, "request_id": f"{run_id}-{tix}-{n}"}
            )
            t0 = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    path,
                    body=body,
                    headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
                )
                resp = conn.getresponse()
                payload = resp.read()
                ok = resp.status == 200
                if not ok and not sample[0]:
                    sample[0] = f"{resp.status} {payload[:300]!r}"
            except OSError as exc:
                ok = False
                if not sample[0]:
                    sample[0] = repr(exc)
                conn.close()
                conn = HTTPConnection(host, port, timeout=10)
            mine.append(time.perf_counter() - t0)
            errs += 0 if ok else 1
        conn.close()
        with lock:
            total[0] += len(mine)
            total[1] += errs
            lat.extend(mine)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put((total[0], total[1], lat, sample[0]))


def _run_python(
    url: str, token: str, seconds: int, concurrency: int, prefix: str, accounts: int, run_id: str
) -> LoadResult:
    from urllib.parse import urlparse

    u = urlparse(url)
    procs_n = 4
    threads = max(1, concurrency // procs_n)
    ctx = mp.get_context("spawn")
    q: mp.Queue[tuple[int, int, list[float], str]] = ctx.Queue()
    start = time.monotonic()
    until = start + seconds
    procs = [
        ctx.Process(
            target=_py_client,
            args=(
                (u.hostname or "127.0.0.1", u.port or 80, u.path, token, until, threads, prefix, accounts, i),
                q,
            ),
        )
        for i in range(procs_n)
    ]
    for p in procs:
        p.start()
    results = [q.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    elapsed = time.monotonic() - start
    lat = [x for r in results for x in r[2]]
    return LoadResult(
        "python http.client (4 processes)",
        sum(r[0] for r in results),
        elapsed,
        sum(r[1] for r in results),
        percentile(lat, 50) * 1000,
        percentile(lat, 99) * 1000,
        next((r[3] for r in results if r[3]), ""),
    )
