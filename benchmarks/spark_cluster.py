"""A Spark standalone cluster on this machine, as a bureau would run one: a master and workers from the
installed PySpark's own deploy classes, every process bound to 127.0.0.1 (issue #24).

    .venv/bin/python benchmarks/spark_cluster.py start --dir /tmp/spark-cluster [--workers 2 --cores 1 --memory 2g]
    .venv/bin/feijian features --as-of 2025-01-01 --engine spark --spark-master spark://127.0.0.1:PORT
    .venv/bin/python benchmarks/spark_cluster.py stop --dir /tmp/spark-cluster

`start` prints the master URL and keeps it, with the processes' ids, in DIR/cluster.json; `stop` ends
them. Tests and bench_spark.py use `StandaloneCluster` as a context manager. Executors run in the
workers' JVMs, so they find the data by the workspace's absolute paths (one machine: one file
system) and Python by PYSPARK_PYTHON (this interpreter); docs/scale.md says what a real cluster needs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def spark_class() -> Path:
    """PySpark's bin/spark-class: the launcher of Spark's own Java classes."""
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(SPARK_LOCAL_IP=LOOPBACK, SPARK_MASTER_HOST=LOOPBACK, PYSPARK_PYTHON=sys.executable,
               PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_NO_DAEMONIZE="1")
    return env


def _wait_for(log: Path, text: str, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(encoding="utf-8", errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited with {proc.returncode}; see {log}")
        time.sleep(0.2)
    raise TimeoutError(f"{log.stem} did not say {text!r} within {seconds:.0f} s; see {log}")


@dataclass
class StandaloneCluster:
    """A master and `workers` workers (`cores` and `memory` each) under `work_dir`, on 127.0.0.1."""

    work_dir: Path
    workers: int = 2
    cores: int = 1
    memory: str = "2g"
    url: str = ""
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> StandaloneCluster:
        self.work_dir = Path(self.work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        self.url = f"spark://{LOOPBACK}:{port}"
        master_log = self.work_dir / "master.log"
        master = self._launch(master_log, "org.apache.spark.deploy.master.Master", "--host", LOOPBACK,
                              "--port", str(port), "--webui-port", str(_free_port()))
        try:
            _wait_for(master_log, "I have been elected leader", master, 120)
            for i in range(self.workers):
                log = self.work_dir / f"worker-{i + 1}.log"
                proc = self._launch(log, "org.apache.spark.deploy.worker.Worker", self.url, "--host", LOOPBACK,
                                    "--port", str(_free_port()), "--webui-port", str(_free_port()),
                                    "--cores", str(self.cores), "--memory", self.memory,
                                    "--work-dir", str(self.work_dir / f"worker-{i + 1}"))
                _wait_for(log, "Successfully registered with master", proc, 120)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, log: Path, cls: str, *args: str) -> subprocess.Popen:
        out = log.open("w", encoding="utf-8")
        proc = subprocess.Popen([str(spark_class()), cls, *args], stdout=out, stderr=subprocess.STDOUT,
                                env=_env(), start_new_session=True)
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.processes):  # workers first, then the master
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=["start", "stop"])
    ap.add_argument("--dir", type=Path, required=True, help="the cluster's logs, work folders and cluster.json")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cores", type=int, default=1, help="cores per worker")
    ap.add_argument("--memory", default="2g", help="memory per worker")
    args = ap.parse_args()
    state = args.dir / "cluster.json"
    if args.action == "start":
        c = StandaloneCluster(args.dir, args.workers, args.cores, args.memory).start()
        state.write_text(json.dumps({"url": c.url, "pids": [p.pid for p in c.processes]}), encoding="utf-8")
        print(c.url)
        return 0
    if not state.exists():
        print(f"no cluster recorded in {state}", file=sys.stderr)
        return 1
    for pid in reversed(json.loads(state.read_text(encoding="utf-8"))["pids"]):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    state.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
