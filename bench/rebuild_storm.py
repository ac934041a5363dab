"""After a silo is lost, how soon each of its leaves has its copies back: three Release silo processes on Redis
membership, LEAVES colonies of one leaf with two copies (LEAF_KEYS records of LEAF_VALUE bytes each), kill -9 of the
silo holding the most copies, then each colony's tree polled until it has two copies in sync again. Each variant of
ORDER starts a fresh cluster with that Kbl:RebuildStreams (how many snapshots a silo streams at once; "all" = 64, as
many as there are leaves, which is how rebuilds went before turns: every stream at once, sharing the budget), so the
variants of one invocation can be compared; the silos' budget is RATE bytes per second each. Run from the repository
root after a Release build (bench/redundancy.sh builds one):

  python3 bench/rebuild_storm.py                          # ORDER=all,2,all,2
  LEAVES=24 RATE=1048576 ORDER=all,1,2 python3 bench/rebuild_storm.py
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Run, http, machine, preload, redundant  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SILO = f"{ROOT}/src/Silo/bin/Release/net10.0/Kbl.Silo.dll"
LOADGEN = f"{ROOT}/bench/Kbl.LoadGen/bin/Release/net10.0/Kbl.LoadGen.dll"
LEAVES = int(os.environ.get("LEAVES", "16"))
LEAF_KEYS = int(os.environ.get("LEAF_KEYS", "2000"))
LEAF_VALUE = int(os.environ.get("LEAF_VALUE", "2048"))
RATE = int(os.environ.get("RATE", str(2 << 20)))
ORDER = os.environ.get("ORDER", "all,2,all,2").split(",")
ONE_LEAF = {"splitKeys": 10**12, "splitBytes": 10**15, "splitOpsPerSecond": 1e12, "redundancy": {"mode": "mirror", "copies": 2}}


def variant(run, n, streams):
    """One fresh cluster with Kbl:RebuildStreams=streams: (leaves rebuilt, seconds after the kill each had two copies again)."""
    tmp = f"{run.tmp}/v{n}"
    membership = run.port()
    os.makedirs(tmp)
    processes = [run.start(f"v{n}-membership", ["redis-server", "--port", str(membership), "--save", "", "--bind", "127.0.0.1", "--dir", tmp])]
    silos = {}
    for i in range(3):
        http_port, grpc, silo_port, gateway = run.port(), run.port(), run.port(), run.port()
        os.makedirs(f"{tmp}/s{i}")
        process = run.start(f"v{n}-s{i}", [
            "dotnet", SILO, "--urls", f"http://127.0.0.1:{http_port}", f"--Kbl:Gateway:GrpcPort={grpc}",
            "--Kbl:Cluster:Mode=redis", f"--Kbl:Cluster:Redis=127.0.0.1:{membership}", f"--Kbl:Cluster:ClusterId=storm{n}",
            f"--Kbl:Cluster:SiloPort={silo_port}", f"--Kbl:Cluster:GatewayPort={gateway}", f"--Kbl:DataPath={tmp}/s{i}",
            f"--Kbl:SiloName=s{i}", f"--Kbl:Storage:Sqlite:Path={tmp}/meta.db", "--Kbl:Auth:AllowAnonymous=true",
            "--Kbl:Provisioning:Provider=off", "--Kbl:Placement:RebalancePeriod=00:00:00",
            f"--Kbl:RebuildBytesPerSecond={RATE}", f"--Kbl:RebuildStreams={streams}"], cwd=tmp)
        silos[f"s{i}"] = (f"http://127.0.0.1:{http_port}", process)
        processes.append(process)
    try:
        urls = [url for url, _ in silos.values()]
        run.until("three silos ready", lambda: all(http("GET", url + "/readyz")[0] == 200 for url in urls), 120)
        run.until("three silos in the cluster", lambda: len(json.loads(http("GET", urls[0] + "/v1/cluster/silos")[1] or '{"silos":[]}')["silos"]) == 3, 60)
        colonies = [f"r{i:02d}" for i in range(LEAVES)]
        for colony in colonies:
            status, text = http("PUT", f"{urls[0]}/v1/colonies/{colony}", json.dumps(ONE_LEAF))
            if status not in (200, 201):
                raise SystemExit(f"rebuild_storm.py: creating {colony}: {status} {text}")
            preload(LOADGEN, urls[0], colony, LEAF_KEYS, LEAF_VALUE)

        def places(r):
            return [r["primary"]] + [m["silo"] for m in r["replicas"]]

        placed = {c: places(run.until(f"{c} with two copies", lambda c=c: redundant(urls, c, 2), 300)) for c in colonies}
        held = {s: sum(s in p for p in placed.values()) for s in silos}
        victim = max(held, key=held.get)
        affected = [c for c, p in placed.items() if victim in p]
        survivors = [url for name, (url, _) in silos.items() if name != victim]
        run.say(f"variant {n} (RebuildStreams={streams}): kill -9 of {victim}, which holds a copy of {len(affected)} of {LEAVES} leaves")
        struck = time.monotonic()
        silos[victim][1].send_signal(signal.SIGKILL)
        silos[victim][1].wait()
        whole = {}
        deadline = struck + 900
        while len(whole) < len(affected) and time.monotonic() < deadline:
            for colony in affected:
                if colony not in whole and redundant(survivors, colony, 2, without=victim):
                    whole[colony] = time.monotonic() - struck
            time.sleep(0.2)
        if len(whole) < len(affected):
            raise SystemExit(f"rebuild_storm.py: {len(affected) - len(whole)} leaves without two copies 900 s after the kill (logs in {run.tmp})")
        return len(affected), sorted(whole.values())
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def main():
    if not (os.path.exists(SILO) and os.path.exists(LOADGEN)):
        sys.exit("rebuild_storm.py: build Release first (bench/redundancy.sh does)")
    run = Run("rebuild_storm")
    try:
        rows = []
        for n, spec in enumerate(ORDER, 1):
            streams = 64 if spec == "all" else int(spec)
            affected, times = variant(run, n, streams)
            rows.append((spec, affected, times))
        print(machine(ROOT))
        print(f"LEAVES={LEAVES} LEAF_KEYS={LEAF_KEYS} LEAF_VALUE={LEAF_VALUE} RATE={RATE} ORDER={','.join(ORDER)}; three silos "
              f"on Redis membership, all on this machine; seconds after the kill -9 until each leaf had two copies in sync again")
        print("| run | Kbl:RebuildStreams | leaves rebuilt | first | median | mean | last | leaf-seconds short of a copy |")
        print("|---|---|--:|--:|--:|--:|--:|--:|")
        for n, (spec, affected, times) in enumerate(rows, 1):
            print(f"| {n} | {spec} | {affected} | {times[0]:.1f} | {times[len(times) // 2]:.1f} | {sum(times) / len(times):.1f} | "
                  f"{times[-1]:.1f} | {sum(times):.0f} |")
        run.failed = False
    finally:
        run.stop()


if __name__ == "__main__":
    main()
