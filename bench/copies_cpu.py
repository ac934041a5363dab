"""Where a mirrored write's CPU goes, per silo: two Release silo processes on Redis membership, a colony of one
copy (c1) and one of two (c2), each one leaf (no divisions). bench/Kbl.LoadGen drives puts (or gets) at the leaf's
silo in the order given, and for each round the script prints ops/s, p50/p99, each silo's and the load generator's CPU and the machine's idle share (from /proc, over the
measured window) and CPU per operation, and the gateway's group-commit batch (requests per grain call, from
/v1/cluster/locality). With copies 2 the first figure is the replica's silo and the second the primary's when the
leaf is on s1, and so on: the home silo is printed. Run from the repository root after a Release build
(bench/redundancy.sh builds one):

  python3 bench/copies_cpu.py                     # ORDER=1,2,1,2 (c1 put, c2 put, twice)
  ORDER=1,2,1g,2g DURATION=10 CONCURRENCY=32 python3 bench/copies_cpu.py   # 'g': gets
  SILO_ARGS="--Kbl:SyncWrites=true" python3 bench/copies_cpu.py   # extra settings for both silos
  PERF=1 python3 bench/copies_cpu.py              # also samples every process with `perf record -a -g` in each
                                                  # round and prints where each one's CPU per op went, by area

With PERF the silos run with perf maps on (JIT-compiled frames named) and the measured window is perf's; perf's own
sampling costs some CPU, so compare rounds of one run with each other, not with a run without it.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Run, http, machine, perf_samples  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SILO = f"{ROOT}/src/Silo/bin/Release/net10.0/Kbl.Silo.dll"
LOADGEN = f"{ROOT}/bench/Kbl.LoadGen/bin/Release/net10.0/Kbl.LoadGen.dll"
DURATION = int(os.environ.get("DURATION", "10"))
CONCURRENCY = os.environ.get("CONCURRENCY", "32")
ORDER = os.environ.get("ORDER", "1,2,1,2").split(",")
SILO_ARGS = os.environ.get("SILO_ARGS", "").split()
PERF = os.environ.get("PERF", "") not in ("", "0")
ONE_LEAF = {"splitKeys": 10**12, "splitBytes": 10**15, "splitOpsPerSecond": 1e12}


def main():
    if not (os.path.exists(SILO) and os.path.exists(LOADGEN)):
        sys.exit("copies_cpu.py: build Release first (bench/redundancy.sh does)")
    run = Run("copies_cpu")
    if PERF:
        os.environ.update(DOTNET_PerfMapEnabled="1", DOTNET_EnableWriteXorExecute="0")  # the silos' and load generator's JIT frames named
    profiles = []
    try:
        membership = run.port()
        run.start("membership", ["redis-server", "--port", str(membership), "--save", "", "--bind", "127.0.0.1", "--dir", run.tmp])
        silos = []
        for i in range(2):
            http_port, grpc, silo_port, gateway = run.port(), run.port(), run.port(), run.port()
            os.makedirs(f"{run.tmp}/s{i}", exist_ok=True)
            process = run.start(f"s{i}", [
                "dotnet", SILO, "--urls", f"http://127.0.0.1:{http_port}", f"--Kbl:Gateway:GrpcPort={grpc}",
                "--Kbl:Cluster:Mode=redis", f"--Kbl:Cluster:Redis=127.0.0.1:{membership}", "--Kbl:Cluster:ClusterId=copies-cpu",
                f"--Kbl:Cluster:SiloPort={silo_port}", f"--Kbl:Cluster:GatewayPort={gateway}", f"--Kbl:DataPath={run.tmp}/s{i}",
                f"--Kbl:SiloName=s{i}", f"--Kbl:Storage:Sqlite:Path={run.tmp}/meta.db", "--Kbl:Auth:AllowAnonymous=true",
                "--Kbl:Provisioning:Provider=off", "--Kbl:Placement:RebalancePeriod=00:00:00", *SILO_ARGS], cwd=run.tmp)
            silos.append((f"s{i}", f"http://127.0.0.1:{http_port}", process))
        first = silos[0][1]
        run.until("both silos ready", lambda: all(http("GET", url + "/readyz")[0] == 200 for _, url, _ in silos), 120)
        run.until("two silos in the cluster", lambda: len(json.loads(http("GET", first + "/v1/cluster/silos")[1])["silos"]) == 2, 60)
        for copies in ("1", "2"):
            genome = dict(ONE_LEAF, redundancy={"mode": "none"} if copies == "1" else {"mode": "mirror", "copies": 2})
            http("PUT", f"{first}/v1/colonies/c{copies}", json.dumps(genome))
            http("PUT", f"{first}/v1/colonies/c{copies}/records/warm", "x")

        def leaf(copies):
            return json.loads(http("GET", f"{first}/v1/colonies/c{copies}/tree?depth=0")[1])

        run.until("c2 with two copies in sync", lambda: (leaf("2").get("redundancy") or {}).get("inSync") == 2, 60)

        def cpu_seconds(process):
            fields = open(f"/proc/{process.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        def idle_seconds():  # the whole machine's idle time, summed over its cores
            fields = open("/proc/stat").readline().split()
            return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")

        print(machine(ROOT))
        settings = f"; silos with {' '.join(SILO_ARGS)}" if SILO_ARGS else ""
        print(f"CONCURRENCY={CONCURRENCY} DURATION={DURATION} ORDER={','.join(ORDER)}; keys 10000, values 100 B; two silos and the load generator on this machine{settings}")
        print("| round | colony | op | home | ops/s | p50 ms | p99 ms | CPU % s0, s1, load generator | µs CPU per op s0, s1, load generator | machine idle % | batch |")
        print("|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|")
        for n, spec in enumerate(ORDER, 1):
            copies, op = spec[0], "get" if "g" in spec else "put"
            home = leaf(copies)["silo"]
            url = next(u for name, u, _ in silos if name == home)
            loadgen = subprocess.Popen(
                ["dotnet", LOADGEN, "--target", url, "--op", op, "--concurrency", CONCURRENCY, "--keys", "10000", "--value-size", "100",
                 "--duration", str(DURATION), "--warmup", "3", "--colony", f"c{copies}", "--json"] + (["--preload"] if op == "get" else []),
                stdout=subprocess.PIPE, text=True)
            time.sleep(3.5)  # past the load generator's warm-up: the window below is inside its measured one

            def locality():
                return json.loads(http("GET", url + "/v1/cluster/locality")[1])

            processes = [p for _, _, p in silos] + [loadgen]
            before, cpu_before, idle_before, started = locality(), [cpu_seconds(p) for p in processes], idle_seconds(), time.time()
            if PERF:
                subprocess.run(["perf", "record", "-F", "499", "-g", "-a", "-o", f"{run.tmp}/perf{n}.data", "--", "sleep", str(DURATION - 2)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            else:
                time.sleep(DURATION - 2)
            after, cpu_after, idle_after, took = locality(), [cpu_seconds(p) for p in processes], idle_seconds(), time.time() - started
            batch = (after["gatewayRequests"] - before["gatewayRequests"]) / max(1, after["gatewayGrainCalls"] - before["gatewayGrainCalls"])
            result = json.loads(loadgen.communicate()[0].strip().splitlines()[-1])
            ops = result["opsPerSecond"]
            used = [(b - a) / took for a, b in zip(cpu_before, cpu_after)]
            print(f"| {n} | c{copies} | {op} | {home} | {ops:,.0f} | {result['p50Ms']:.2f} | {result['p99Ms']:.2f} | "
                  f"{', '.join(f'{100 * u:.0f}' for u in used)} | {', '.join(f'{1e6 * u / ops:.0f}' for u in used)} | {100 * (idle_after - idle_before) / took / os.cpu_count():.0f} | {batch:.1f} |", flush=True)
            if PERF:
                names = {p.pid: name for name, _, p in silos} | {loadgen.pid: "load generator"}
                profiles.append((n, spec, ops * took, names, f"{run.tmp}/perf{n}.data"))
        for n, spec, operations, names, data in profiles:
            print_profile(n, spec, operations, names, data)
        run.failed = False
    finally:
        run.stop()


def print_profile(n, spec, operations, names, data):
    """Round n's samples (perf at 499 Hz on every core) as µs of CPU per op, by process and area, and each process's heaviest functions."""
    import collections
    script = subprocess.run(["perf", "script", "-F", "pid,ip,sym,dso", "-i", data], capture_output=True, text=True).stdout
    areas, functions = collections.Counter(), collections.Counter()
    for pid, area, function in perf_samples(script):
        process = names.get(pid, "other")
        areas[(process, area)] += 1
        functions[(process, function)] += 1
    per_op = 1e6 / 499 / operations  # µs of CPU per op that one sample stands for
    print(f"\nround {n} ({spec}): µs CPU per op by area (perf, innermost frame)")
    for process in [*sorted(set(names.values())), "other"]:
        mine = sorted(((count, area) for (p, area), count in areas.items() if p == process), reverse=True)
        if mine:
            print(f"  {process}: {sum(c for c, _ in mine) * per_op:.1f} — " + ", ".join(f"{area} {count * per_op:.1f}" for count, area in mine if count * per_op >= 0.3))
            heaviest = sorted(((count, f) for (p, f), count in functions.items() if p == process), reverse=True)[:8]
            print("    " + "; ".join(f"{f} {count * per_op:.1f}" for count, f in heaviest))


if __name__ == "__main__":
    main()
