"""What the benchmark scripts (bench/*.py) share: free loopback ports, the processes a run starts (all stopped when it
ends), HTTP requests, waiting for a condition, and the line naming the machine a run measured."""
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


class Run:
    """One benchmark run: a temp folder for its processes' data and logs (kept when the run failed)."""

    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=f"kbl-{name}.")
        self.processes = []
        self.failed = True
        self._given = set()
        # A run stopped with kill (SIGTERM) or Ctrl-C stops what it started too: both end the script through its
        # `finally: stop()`. (A script started in the background of a shell ignores SIGINT; SIGTERM still reaches it.)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def say(self, text):
        print(f"{self.name}.sh: {text}", file=sys.stderr, flush=True)

    def port(self):
        """A free loopback port below Linux's ephemeral range (outgoing connections take theirs from above)."""
        while True:
            candidate = random.randint(20000, 32000)
            if candidate in self._given:
                continue
            self._given.add(candidate)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", candidate))
                    return candidate
                except OSError:
                    pass

    def start(self, name, args, cwd=None):
        log = open(f"{self.tmp}/{name}.log", "a")  # a process started again (a restart) adds to its log
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=cwd or self.tmp)
        self.processes.append(process)
        return process

    def until(self, what, probe, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = probe()
            if result:
                return result
            time.sleep(0.05)
        raise SystemExit(f"{self.name}.sh: {what} did not happen within {timeout} s (logs in {self.tmp})")

    def stop(self):
        """Stops every process it started (SIGTERM, then SIGKILL after 30 s); removes the temp folder unless the run failed (or KEEP_LOGS is set)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.failed:
            self.say(f"failed; logs kept in {self.tmp}")
        elif os.environ.get("KEEP_LOGS"):
            self.say(f"logs kept in {self.tmp} (KEEP_LOGS)")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def http(method, url, body=None, timeout=5.0):
    """(status, text) of one request; status 0 when there was no answer."""
    request = urllib.request.Request(url, data=body.encode() if isinstance(body, str) else body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError, TimeoutError):
        return 0, ""


def machine(root):
    """'N cores, M GiB, CPU; code COMMIT': the machine a run measured, and the code it ran."""
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    memory = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) / 1048576
    commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores, {memory:.1f} GiB, {cpu}; code {commit}"


def leaf(urls, colony):
    """A colony's root as its tree shows it (depth 0), from the first silo of `urls` that answers; None when none does."""
    for url in urls:
        status, text = http("GET", f"{url}/v1/colonies/{colony}/tree?depth=0")
        if status == 200:
            return json.loads(text)
    return None


def redundant(urls, colony, copies, without=None):
    """The colony's leaf's redundancy entry once `copies` copies are in sync (none on silo `without`), else None."""
    r = (leaf(urls, colony) or {}).get("redundancy")
    if not r or r["status"] != "redundant" or r["inSync"] != copies:
        return None
    if without and (r["primary"] == without or any(m["silo"] == without for m in r["replicas"])):
        return None
    return r


def preload(loadgen, target, colony, keys, value_size):
    """Writes `keys` records of `value_size` bytes to `colony` through `target` (the load generator's keys; `loadgen`: its dll)."""
    subprocess.run(["dotnet", loadgen, "--target", target, "--op", "get", "--preload", "--duration", "1", "--warmup", "0",
                    "--keys", str(keys), "--value-size", str(value_size), "--colony", colony, "--json"],
                   capture_output=True, text=True, check=True)


# Where a perf sample's CPU went, by its innermost frame: the first area with a pattern in that frame's line.
PERF_AREAS = [
    ("kernel: scheduling", ["finish_task_switch", "_raw_spin_unlock_irqrestore", "do_sched_yield", "futex", "try_to_wake_up", "schedule"]),
    ("kernel: network and other", ["[kernel.kallsyms]"]), ("runtime (native)", ["libcoreclr.so"]), ("JIT", ["libclrjit"]),
    ("RocksDB", ["librocksdb"]), ("libc", ["libc.so", "ld-linux"]), ("OpenTelemetry", ["OpenTelemetry"]),
    ("Kestrel", ["Kestrel"]), ("ASP.NET Core, other", ["Microsoft.AspNetCore", "Microsoft.Extensions"]),
    ("Orleans", ["Orleans"]), ("Kbl", ["Kbl."]), ("System.Threading", ["System.Threading"]), (".NET libraries, other", ["System."]),
]


def perf_samples(script):
    """(pid, area, function) of each sample in `perf script -F pid,ip,sym,dso` output (recorded with -g: the pid, then the stack)."""
    import re
    for block in script.split("\n\n"):
        lines = block.strip().split("\n")
        if len(lines) < 2:
            continue
        header = re.match(r"\s*(\d+)", lines[0])  # `perf script -F pid,ip,sym,dso`: the pid first
        top = lines[1]
        area = next((name for name, patterns in PERF_AREAS if any(p in top for p in patterns)), "other")
        function = re.search(r"\] (.{0,100})", top) or re.search(r"\s[0-9a-f]+ (\S{0,100})", top)
        yield int(header.group(1)) if header else 0, area, function.group(1) if function else top.strip()[:100]

