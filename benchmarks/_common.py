"""Helpers the benchmark scripts share: a fresh process per measurement, wrk's figures, the usual arguments."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import re
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path


def in_fresh_process(child: Callable[[str, tuple, mp.Queue], None], fn_name: str, args: tuple) -> dict:
    """Run `child(fn_name, args, queue)` in a spawned process and return what it put on the queue.

    A fresh process per measurement keeps one run's memory, caches and imports out of the next."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=child, args=(fn_name, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _to_ms(value: str, unit: str) -> float:
    v = float(value)
    return v / 1000 if unit == "us" else (v * 1000 if unit == "s" else v)


def wrk_result(out: str, seconds: float) -> dict:
    """Requests, p50/p99 in ms, throughput and errors (non-2xx/3xx answers plus socket errors) from wrk's output."""

    def ms(label: str) -> float:
        # the "Latency Distribution" lines: "     50%    1.23ms"
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return _to_ms(m.group(1), m.group(2)) if m else float("nan")

    n = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
    return {"n": n, "p50_ms": ms("50"), "p99_ms": ms("99"), "rps": n / seconds, "errors": errors}


def wrk_max_ms(out: str) -> float:
    """The slowest request in ms (the "Latency" thread-stats line's Max column)."""
    m = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    return _to_ms(m.group(1), m.group(2)) if m else float("nan")


def workspace_parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the script's docstring as help and --workspace, --models."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, default=Path("workspace"))
    ap.add_argument("--models", type=Path, default=Path("models"))
    return ap


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(env: dict[str, str], new_session: bool = False) -> tuple[subprocess.Popen, str, float]:
    """`bentoml serve` on a free loopback port with `env`: (process, base URL, seconds until ready).
    Exits the benchmark, the process stopped, when the service does not start."""
    from feijian.errors import NotReadyError
    from serving.serve_cli import serve_command, stop, wait_ready

    port = free_port()
    proc = subprocess.Popen(serve_command("127.0.0.1", port), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=new_session)
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(base, proc)
    except NotReadyError:
        stop(proc)
        raise SystemExit("service did not start") from None
    return proc, base, ready
