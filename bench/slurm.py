"""Slurm (Debian `slurm-wlm`, one node) and CloudAI side by side on trivial 1-CPU jobs.

    apt-get install -y slurm-wlm munge      # once, as root; not part of CI
    .venv/bin/python bench/slurm.py [--jobs 1000] [--repeat 1] [--submitters 8]

Everything runs in a temporary directory and stops at the end: a `munged` of its own
(own key and socket), then for each Slurm configuration a `slurmctld` and a `slurmd`
(foreground, as root, free ports, `SLURM_CONF` pointing at a generated slurm.conf)
for one node of this machine's CPUs. Configurations:
- default: Slurm's defaults, except what one node in this container needs (ports,
  paths, the munge socket, `SlurmUser=root`, `ProctrackType=proctrack/linuxproc`: the
  default `proctrack/cgroup` needs a cgroup hierarchy the container does not give) and
  `SelectType=select/cons_tres` + `CR_CPU`, so that 1-CPU jobs share the node as
  CloudAI's tasks share its worker (the default `select/linear` gives each job a node);
- tuned: the knobs of Slurm's high-throughput guide (see TUNED below).
Each config: jobs of `sbatch --wrap true -c 1 -o /dev/null`, `--submitters` at once,
timed from the first submit until `squeue` lists none (tuned: `--jobs` of them;
default: `--default-jobs`, as it starts jobs at a steady ~1 every 1.5 s); and the tuned
config once more with one job array of `--default-jobs` elements (`sbatch --array`).

CloudAI, same run: `cloudai up --workers 1 --executor process` (its worker offers this
machine's CPUs), `--jobs` tasks (`true`, 1 CPU) submitted at once over REST, timed from
the first submit until the master counts them completed. jobs/s for each; ratios last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from control_plane import free_port
from docker_path import cloudai_rate, up_client

NODE = "benchnode"
Case = tuple[str, int, bool]  # label, jobs, as one job array
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")
TUNED = [
    "SchedulerParameters=defer,max_rpc_cnt=150,sched_min_interval=50000,"
    "batch_sched_delay=0,sched_max_job_start=0,default_queue_depth=1000,bf_interval=1",
    "SchedulerType=sched/builtin",
    "TaskPlugin=task/none",
    "JobAcctGatherType=jobacct_gather/none",
    "MinJobAge=2",
    "SlurmctldDebug=error",
    "SlurmdDebug=error",
]


def conf(tmp: Path, name: str, munge: Path, extra: list[str]) -> Path:
    state = tmp / name
    (state / "state").mkdir(parents=True)
    (state / "spool").mkdir()
    cpus = os.cpu_count() or 1
    lines = [
        "ClusterName=bench", f"SlurmctldHost={os.uname().nodename}(127.0.0.1)",
        "SlurmUser=root", "SlurmdUser=root",
        f"SlurmctldPort={free_port()}", f"SlurmdPort={free_port()}",
        "AuthType=auth/munge", f"AuthInfo=socket={munge}", "CredType=cred/munge",
        f"StateSaveLocation={state / 'state'}", f"SlurmdSpoolDir={state / 'spool'}",
        f"SlurmctldPidFile={state / 'ctld.pid'}", f"SlurmdPidFile={state / 'd.pid'}",
        f"SlurmctldLogFile={state / 'slurmctld.log'}", f"SlurmdLogFile={state / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
        "MaxArraySize=100001", *extra,
        f"NodeName={NODE} NodeHostname={os.uname().nodename} NodeAddr=127.0.0.1 "
        f"CPUs={cpus} State=UNKNOWN",
        f"PartitionName=bench Nodes={NODE} Default=YES MaxTime=INFINITE State=UP",
    ]  # fmt: skip
    path = state / "slurm.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def daemon(command: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(check: object, what: str, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)  # a benchmark may poll a daemon's start


@contextlib.contextmanager
def munged(tmp: Path) -> Iterator[Path]:
    key, socket = tmp / "munge.key", tmp / "munge.sock"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    command = ["munged", "-F", "--force", f"--socket={socket}", f"--key-file={key}",
               f"--pid-file={tmp / 'munged.pid'}", f"--seed-file={tmp / 'munged.seed'}",
               f"--log-file={tmp / 'munged.log'}"]  # fmt: skip
    with daemon(command, dict(os.environ), tmp / "munged.out"):
        wait_for(socket.exists, "munged's socket")
        yield socket


@contextlib.contextmanager
def slurm(path: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "SLURM_CONF": str(path)}
    ctld = ["slurmctld", "-D", "-f", str(path)]
    slurmd = ["slurmd", "-D", "-N", NODE, "-f", str(path)]
    with (
        daemon(ctld, env, path.with_name("ctld.out")),
        daemon(slurmd, env, path.with_name("d.out")),
    ):

        def idle() -> bool:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env,
                                   capture_output=True, text=True, check=False)  # fmt: skip
            return state.stdout.strip() == "idle"

        wait_for(idle, "the Slurm node to be idle")
        yield env


def queued(env: dict[str, str]) -> int:
    listed = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    return len(listed.stdout.split())


def drain(env: dict[str, str]) -> float:
    while queued(env):
        time.sleep(0.1)  # a benchmark polls the queue
    return time.perf_counter()


def slurm_rate(env: dict[str, str], jobs: int, submitters: int, array: bool) -> float:
    command = ["sbatch", "-Q", "-c", "1", "-o", "/dev/null", "--wrap", "true"]
    began = time.perf_counter()
    if array:
        subprocess.run([*command, f"--array=1-{jobs}"], env=env, check=True)
    else:
        with ThreadPoolExecutor(submitters) as pool:
            list(pool.map(lambda _: subprocess.run(command, env=env, check=True), range(jobs)))
    return jobs / (drain(env) - began)


def slurm_rates(tmp: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {}
    few = args.default_jobs
    runs: list[tuple[str, list[str], list[Case]]] = [
        ("default", [], [(f"{few}, sbatch each", few, False)]),
        ("tuned", TUNED, [(f"{args.jobs}, sbatch each", args.jobs, False),
                          (f"{few}, one array", few, True)]),
    ]  # fmt: skip
    with munged(tmp) as socket:
        for name, extra, cases in runs:
            with slurm(conf(tmp, name, socket, extra)) as env:
                for _ in range(args.repeat):
                    for label, jobs, array in cases:
                        rate = slurm_rate(env, jobs, args.submitters, array=array)
                        rates.setdefault(f"slurm {name}: {label}", []).append(rate)
    return rates


async def cloudai_rates(tmp: Path, args: argparse.Namespace) -> list[float]:
    rates = []
    async with up_client(tmp / "up", "process") as (client, _):
        for n in range(args.repeat):
            rates.append(await cloudai_rate(client, 1.0, args.jobs, n * args.jobs))
    return rates


def main(args: argparse.Namespace) -> None:
    missing = [name for name in DAEMONS if subprocess.run(["which", name],
               capture_output=True, check=False).returncode]  # fmt: skip
    if missing:
        raise SystemExit(f"not installed: {', '.join(missing)} (apt-get install slurm-wlm munge)")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        ours = asyncio.run(cloudai_rates(tmp, args))
        rates = slurm_rates(tmp, args)
    rates[f"cloudai up, process: {args.jobs}"] = ours
    print(f"trivial 1-CPU jobs (true) on one {os.cpu_count()}-CPU node; best of runs")
    print(f"{'who: jobs per run':38s} {'jobs/s':>8s}")
    for label, found in rates.items():
        shown = ", ".join(f"{r:.2f}" for r in found)
        print(f"{label:38s} {max(found):8.2f}  (runs: {shown})")
    slurms = {label.split(":")[0]: max(r) for label, r in rates.items() if "sbatch" in label}
    print("cloudai vs " + ", ".join(f"{k}: {max(ours) / v:.1f}x" for k, v in slurms.items()))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="CloudAI; tuned sbatch each")
    parser.add_argument("--default-jobs", type=int, default=200,
                        help="default config; the job array (Slurm starts jobs once a second "
                        "at best here: a steady rate, fewer jobs)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--submitters", type=int, default=8)
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
