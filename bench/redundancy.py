"""The body of bench/redundancy.sh (see there): starts the servers, runs the measurements, prints one report."""
import json
import os
import threading
import signal
import subprocess
import sys
import time

from benchlib import Run, http, leaf, machine, preload, redundant

ROOT = sys.argv[1]
CONCURRENCY = int(os.environ.get("CONCURRENCY", "32"))
KEYS = int(os.environ.get("KEYS", "10000"))
VALUE_SIZE = int(os.environ.get("VALUE_SIZE", "100"))
DURATION = int(os.environ.get("DURATION", "15"))
WARMUP = int(os.environ.get("WARMUP", "3"))
REBUILD_KEYS = int(os.environ.get("REBUILD_KEYS", "20000"))
REBUILD_VALUE = int(os.environ.get("REBUILD_VALUE", "1024"))
GROUP_COMMIT = os.environ.get("GROUP_COMMIT", "true")
REBUILD_RATE = int(os.environ.get("REBUILD_RATE", str(32 << 20)))
PLOT = os.environ.get("PLOT", f"{ROOT}/docs/images/redundancy.png")
# Which parts run (part 1 is "throughput"), and how many kills the failover part times.
PARTS = os.environ.get("PARTS", "throughput,failover,rebuild").split(",")
FAILOVERS = int(os.environ.get("FAILOVERS", "1"))
# PAUSE=1: the failover part stops the primary's silo (SIGSTOP: silent, its connections open) instead of killing it.
PAUSE = os.environ.get("PAUSE", "0") == "1"
# More settings for every silo, e.g. "--Kbl:Cluster:ProbeTimeout=00:00:01" (space-separated).
SILO_ARGS = os.environ.get("SILO_ARGS", "").split()
SILO = f"{ROOT}/src/Silo/bin/Release/net10.0/Kbl.Silo.dll"
LOADGEN = f"{ROOT}/bench/Kbl.LoadGen/bin/Release/net10.0/Kbl.LoadGen.dll"
# One leaf per colony: no division by size or load, so the copies are all that differs between the colonies.
ONE_LEAF = {"splitKeys": 10**12, "splitBytes": 10**15, "splitOpsPerSecond": 1e12}

bench = Run("redundancy")
tmp, port, start, until, say = bench.tmp, bench.port, bench.start, bench.until, bench.say


class Silo:
    def __init__(self, index, membership):
        self.name = f"s{index}"
        self.http_port, self.grpc_port, self.silo_port, self.gateway_port = port(), port(), port(), port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.args = ["dotnet", SILO, "--urls", self.url, f"--Kbl:Gateway:GrpcPort={self.grpc_port}",
                     "--Kbl:Cluster:Mode=redis", f"--Kbl:Cluster:Redis={membership}", "--Kbl:Cluster:ClusterId=bench",
                     f"--Kbl:Cluster:SiloPort={self.silo_port}", f"--Kbl:Cluster:GatewayPort={self.gateway_port}",
                     f"--Kbl:DataPath={tmp}/{self.name}", f"--Kbl:SiloName={self.name}",
                     f"--Kbl:Storage:Sqlite:Path={tmp}/meta.db", "--Kbl:Auth:AllowAnonymous=true",
                     "--Kbl:Provisioning:Provider=off", "--Kbl:Placement:RebalancePeriod=00:00:00",
                     f"--Kbl:Gateway:GroupCommit={GROUP_COMMIT}", f"--Kbl:RebuildBytesPerSecond={REBUILD_RATE}", *SILO_ARGS]
        self.process = None

    def start(self):
        os.makedirs(f"{tmp}/{self.name}", exist_ok=True)
        self.process = start(self.name, self.args)

    def ready(self):
        return http("GET", f"{self.url}/readyz")[0] == 200

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def urls(silos):
    return [s.url for s in silos]


def loadgen(target, colony, op, extra=()):
    args = ["dotnet", LOADGEN, "--target", target, "--op", op, "--concurrency", str(CONCURRENCY), "--keys", str(KEYS),
            "--value-size", str(VALUE_SIZE), "--duration", str(DURATION), "--warmup", str(WARMUP), "--colony", colony,
            "--json", *extra]
    run = subprocess.run(args, capture_output=True, text=True)
    if run.returncode not in (0, 3):
        raise SystemExit(f"redundancy.sh: the load generator failed ({run.returncode}): {run.stderr[-500:]}")
    r = json.loads(run.stdout.strip().splitlines()[-1])
    return dict(ops=r["opsPerSecond"], p50=r["p50Ms"], p99=r["p99Ms"], p999=r["p999Ms"], errors=r["errors"] + r["errorsOutsideWindow"])


def redis_benchmark(redis_port, test):
    common = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(redis_port), "-c", str(CONCURRENCY), "-r", str(KEYS),
              "-d", str(VALUE_SIZE), "-t", test, "--csv"]
    calibration = subprocess.run([*common, "-n", "50000"], capture_output=True, text=True, check=True).stdout
    rps = float(calibration.replace('"', "").splitlines()[1].split(",")[1])
    out = subprocess.run([*common, "-n", str(max(10000, int(rps * DURATION)))], capture_output=True, text=True, check=True).stdout
    fields = out.replace('"', "").splitlines()[1].split(",")
    return dict(ops=float(fields[1]), p50=float(fields[4]), p99=float(fields[6]), p999=None, errors=0)


def plot(rows, path):
    """Throughput (left) and p50/p99 latency (right) of every store, puts and gets side by side, as one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stores = list(dict.fromkeys(name for _, name, _ in rows))
    row = {(op, name): r for op, name, r in rows}
    figure, (throughput, latency) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.38
    for i, op in enumerate(("put", "get")):
        at = [x + (i - 0.5) * width for x in range(len(stores))]
        throughput.bar(at, [row[(op, s)]["ops"] for s in stores], width, label=op)
        latency.bar(at, [row[(op, s)]["p99"] or 0 for s in stores], width, label=f"{op} p99", alpha=0.45)
        latency.bar(at, [row[(op, s)]["p50"] or 0 for s in stores], width, label=f"{op} p50")
    for axes, title, unit in ((throughput, "throughput", "ops/s"), (latency, "latency", "ms")):
        axes.set_xticks(range(len(stores)), stores, rotation=20, ha="right")
        axes.set_title(f"{title} ({CONCURRENCY} clients, {VALUE_SIZE}-byte values)")
        axes.set_ylabel(unit)
        axes.legend(fontsize=8)
    figure.suptitle(f"Kbl copies 1, 2 and 3 against Redis and etcd; {machine(ROOT)}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def scanned(silo, colony):
    """How many records a full scan of the colony returns through `silo` (0 when a page fails)."""
    count, cursor = 0, None
    while True:
        status, text = http("GET", f"{silo.url}/v1/colonies/{colony}/records?limit=1000" + (f"&cursor={cursor}" if cursor else ""), timeout=5)
        if status != 200:
            return 0
        page = json.loads(text)
        count += len(page["records"])
        cursor = page.get("next")
        if not cursor:
            return count


def first_success(probe, timeout=120):
    """Seconds (time.monotonic) at which the first of `probe`s started every 50 ms, each in a thread of its own, succeeded:
    a probe stuck on a dead silo until its own timeout does not hold back the next one, so the time is the service's
    to within 50 ms, not the probe's timeout."""
    done, lock = [], threading.Lock()

    def attempt():
        if probe():
            with lock:
                done.append(time.monotonic())

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        threading.Thread(target=attempt, daemon=True).start()
        time.sleep(0.05)
        with lock:
            if done:
                return min(done)
    raise SystemExit(f"redundancy.sh: no probe succeeded within {timeout} s (logs in {tmp})")


def members(silo, timeout=5.0):
    """The names of the silos `silo` lists as the cluster's active ones (None when it does not answer)."""
    status, text = http("GET", f"{silo.url}/v1/cluster/silos", timeout=timeout)
    return [s.get("silo") for s in json.loads(text)["silos"]] if status == 200 else None


def failover(silos, colony, copies):
    """Kills the silo holding the primary of `colony` (a leaf with `copies` copies of KEYS keys), then times: the death
    declared (no survivor lists it), the first key served, every key served (a scan), the first write acknowledged and
    `copies` copies in sync again — seconds after the kill; the victim comes back before it returns."""
    r = until(f"{colony} redundant", lambda: redundant(urls(silos), colony, copies), 120)
    victim = next(s for s in silos if s.name == r["primary"])
    survivors = [s for s in silos if s is not victim]
    say(f"failover: {'SIGSTOP' if PAUSE else 'kill -9'} of {victim.name}, {colony}'s primary (replicas on {', '.join(m['silo'] for m in r['replicas'])})")
    struck = time.monotonic()
    if PAUSE:
        victim.process.send_signal(signal.SIGSTOP)
    else:
        victim.kill()
    times = {}
    probes = {
        "dead": lambda: all(victim.name not in (members(s, timeout=10) or [victim.name]) for s in survivors),
        "read": lambda: http("GET", f"{survivors[0].url}/v1/colonies/{colony}/records/warm", timeout=10)[0] == 200,
        "write": lambda: http("PUT", f"{survivors[1].url}/v1/colonies/{colony}/records/after-failover", "x", timeout=10)[0] == 200,
    }
    watchers = [threading.Thread(target=lambda k=k, p=p: times.__setitem__(k, first_success(p) - struck), daemon=True) for k, p in probes.items()]
    for w in watchers:
        w.start()
    until(f"{colony} serving every key (a scan)", lambda: scanned(survivors[1], colony) >= KEYS, 120)
    times["all"] = time.monotonic() - struck
    for w in watchers:
        w.join()
    until(f"{colony}'s {copies} copies in sync again", lambda: redundant(urls(survivors), colony, copies, without=victim.name), 120)
    times["healed"] = time.monotonic() - struck
    if PAUSE:
        victim.kill()  # declared dead, it would stop itself once resumed: it is restarted like a killed one
    victim.start()
    until(f"{victim.name} back", lambda: victim.ready() and len(members(survivors[0]) or []) == 3, 120)
    return times


def metric(silo, name, colony):
    status, text = http("GET", f"{silo.url}/metrics")
    for line in text.splitlines() if status == 200 else []:
        if line.startswith(name + "{") and f'colony="{colony}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def main():
    redis_port, membership_port = port(), port()
    os.makedirs(f"{tmp}/redis")
    start("redis", ["redis-server", "--port", str(redis_port), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                    "--bind", "127.0.0.1", "--dir", f"{tmp}/redis"])
    start("membership", ["redis-server", "--port", str(membership_port), "--save", "", "--bind", "127.0.0.1", "--dir", tmp])
    peers = [(port(), port()) for _ in range(3)]
    cluster = ",".join(f"e{i}=http://127.0.0.1:{p}" for i, (_, p) in enumerate(peers))
    for i, (client, peer) in enumerate(peers):
        start(f"etcd{i}", ["etcd", "--name", f"e{i}", "--data-dir", f"{tmp}/e{i}",
                           "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
                           "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                           "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", "kbl-bench"])
    etcd = ",".join(f"http://127.0.0.1:{c}" for c, _ in peers)
    silos = [Silo(i, f"127.0.0.1:{membership_port}") for i in range(3)]
    for silo in silos:
        silo.start()
    until("etcd's health", lambda: all(http("GET", f"http://127.0.0.1:{c}/health")[0] == 200 for c, _ in peers), 60)
    until("three silos ready", lambda: all(s.ready() for s in silos), 120)
    until("three silos in one cluster", lambda: len(members(silos[0]) or []) == 3, 60)
    gateway = silos[0].url

    # 1. Throughput and latency, interleaved so whatever else the machine does weighs on every row alike.
    rows, homes, fails = [], {}, []
    for copies in (1, 2, 3) if "throughput" in PARTS else (2,) if "failover" in PARTS else ():
        genome = dict(ONE_LEAF, redundancy={"mode": "none"} if copies == 1 else {"mode": "mirror", "copies": copies})
        status, text = http("PUT", f"{gateway}/v1/colonies/c{copies}", json.dumps(genome))
        if status not in (200, 201):
            raise SystemExit(f"redundancy.sh: creating colony c{copies}: {status} {text}")
        http("PUT", f"{gateway}/v1/colonies/c{copies}/records/warm", "x")
        if copies > 1:
            until(f"c{copies}'s {copies} copies in sync", lambda: redundant(urls(silos), f"c{copies}", copies), 60)
    # Each colony is driven through the gateway of the silo holding its leaf (its primary), so every row pays the same
    # hops: none from gateway to leaf, and one per replica for a write.
    for copies in (1, 2, 3) if "throughput" in PARTS else ():
        home = until(f"c{copies}'s leaf", lambda: (leaf(urls(silos), f"c{copies}") or {}).get("silo"), 60)
        homes[copies] = next(s for s in silos if s.name == home)
    for op in ("put", "get") if "throughput" in PARTS else ():
        say(f"{op}: redis")
        rows.append((op, "redis", redis_benchmark(redis_port, "set" if op == "put" else "get")))
        say(f"{op}: etcd (3 members)")
        rows.append((op, "etcd, 3 members", loadgen(gateway, "etcd", op, ["--protocol", "etcd", "--etcd", etcd] + (["--preload"] if op == "get" else []))))
        for copies in (1, 2, 3):
            say(f"{op}: Kbl copies {copies}")
            rows.append((op, f"kbl copies {copies}", loadgen(homes[copies].url, f"c{copies}", op, ["--preload"] if op == "get" else [])))

    # 2. Failover: the silo holding c2's primary is killed, FAILOVERS times (it comes back after each).
    if "failover" in PARTS:
        if "throughput" not in PARTS:
            preload(LOADGEN, gateway, "c2", KEYS, VALUE_SIZE)
        for _ in range(FAILOVERS):
            fails.append(failover(silos, "c2", 2))

    # 3. Rebuild: a larger leaf loses its replica's silo and is copied to the third silo.
    rebuild = rebuilt_after(silos, gateway) if "rebuild" in PARTS else None

    # The report.
    etcd_version = subprocess.run(["etcd", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"## Redundancy: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(f"Machine: {machine(ROOT)}; {etcd_version}")
    print(f"Parameters: CONCURRENCY={CONCURRENCY} KEYS={KEYS} VALUE_SIZE={VALUE_SIZE} DURATION={DURATION} WARMUP={WARMUP} "
          f"REBUILD_KEYS={REBUILD_KEYS} REBUILD_VALUE={REBUILD_VALUE} REBUILD_RATE={REBUILD_RATE} GROUP_COMMIT={GROUP_COMMIT} "
          f"PARTS={','.join(PARTS)} FAILOVERS={FAILOVERS} PAUSE={int(PAUSE)} SILO_ARGS='{' '.join(SILO_ARGS)}'; three silos, Redis membership, all on this machine"
          + (f"; each colony driven through its leaf's silo ({', '.join(f'c{c} on {h.name}' for c, h in homes.items())})" if homes else "") + "\n")
    if rows:
        print("| op | store | ops/s | p50 ms | p99 ms | errors | vs copies 1 | vs redis | vs etcd |")
        print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
        base = {(op, name): row for op, name, row in rows}
        for op, name, row in rows:
            ratio = lambda other: f"{row['ops'] / base[(op, other)]['ops']:.2f}" if base[(op, other)]["ops"] else "-"
            p = lambda v: "-" if v is None else f"{v:.2f}"
            print(f"| {op} | {name} | {row['ops']:.0f} | {p(row['p50'])} | {p(row['p99'])} | {row['errors']} | "
                  f"{ratio('kbl copies 1') if name.startswith('kbl') else '-'} | {ratio('redis')} | {ratio('etcd, 3 members')} |")
        print()
    for t in fails:
        print(f"Failover ({'SIGSTOP' if PAUSE else 'kill -9'} of the primary's silo, copies 2, {KEYS} keys): declared dead by both survivors after "
              f"{t['dead']:.2f} s, first key served after {t['read']:.2f} s, every key after {t['all']:.2f} s, first write "
              f"acknowledged after {t['write']:.2f} s, two copies in sync again after {t['healed']:.2f} s.")
    if len(fails) > 1:
        for what in ("dead", "read", "all", "write"):
            values = sorted(t[what] for t in fails)
            print(f"  {what}: median {values[len(values) // 2]:.2f} s, max {values[-1]:.2f} s over {len(values)} kills")
    if rebuild:
        rebuild_bytes, rebuilt, streamed = rebuild
        print(f"Rebuild (kill -9 of the replica's silo, {REBUILD_KEYS} × {REBUILD_VALUE} B): {rebuild_bytes / 1e6:.1f} MB installed on "
              f"the new replica; two copies in sync {rebuilt:.1f} s after the kill (failure detection and the leaf's next "
              f"feedback tick included); the snapshot streamed and installed in {streamed:.2f} s "
              f"({rebuild_bytes / 1e6 / streamed if streamed else 0:.1f} MB/s; Kbl:RebuildBytesPerSecond {REBUILD_RATE}).")
    if PLOT and rows:
        plot(rows, PLOT)
        print(f"\nPlot of the table: {os.path.relpath(PLOT, ROOT)}")
    bench.failed = False


def rebuilt_after(silos, gateway):
    """(bytes installed, seconds until two copies in sync, seconds streaming) after a kill -9 of a larger leaf's replica's silo."""
    genome = dict(ONE_LEAF, redundancy={"mode": "mirror", "copies": 2})
    http("PUT", f"{gateway}/v1/colonies/rb", json.dumps(genome))
    say(f"rebuild: loading {REBUILD_KEYS} records of {REBUILD_VALUE} bytes")
    preload(LOADGEN, gateway, "rb", REBUILD_KEYS, REBUILD_VALUE)
    r = until("rb redundant", lambda: redundant(urls(silos), "rb", 2), 300)
    primary = next(s for s in silos if s.name == r["primary"])
    lost = next(s for s in silos if s.name == r["replicas"][0]["silo"])
    rest = [s for s in silos if s is not lost]
    before = metric(primary, "kbl_rebuild_bytes_total", "rb")
    streamed_before = metric(primary, "kbl_rebuild_time_seconds_total", "rb")
    say(f"rebuild: kill -9 of {lost.name}, rb's replica (primary on {primary.name})")
    struck = time.monotonic()
    lost.kill()
    until("rb's two copies in sync again", lambda: redundant(urls(rest), "rb", 2, without=lost.name), 600)
    rebuilt = time.monotonic() - struck
    return (metric(primary, "kbl_rebuild_bytes_total", "rb") - before, rebuilt,
            metric(primary, "kbl_rebuild_time_seconds_total", "rb") - streamed_before)

try:
    main()
finally:
    bench.stop()
