"""The body of bench/wake.sh (see there): wake latency of hibernated leaves, from the local and the S3 cold tier, and a
cold start with the leaf's node group at zero silos."""
import concurrent.futures
import json
import os
import statistics
import sys
import threading
import time

from benchlib import Run, http, machine

ROOT = sys.argv[1]
SIZES = [int(s) for s in os.environ.get("SIZES", "1000,10000,100000").split(",")]
VALUE_SIZE = int(os.environ.get("VALUE_SIZE", "100"))
ROUNDS = int(os.environ.get("ROUNDS", "20"))
COLD_STARTS = int(os.environ.get("COLD_STARTS", "3"))
COLD_KEYS = int(os.environ.get("COLD_KEYS", "10000"))
SILO = f"{ROOT}/src/Silo/bin/Release/net10.0/Kbl.Silo.dll"
ONE_LEAF = {"splitKeys": 10**12, "splitBytes": 10**15, "splitOpsPerSecond": 1e12, "redundancy": {"mode": "none"}}

bench = Run("wake")
pool = concurrent.futures.ThreadPoolExecutor(16)


def silo(name, extra):
    """Starts a silo (a localhost cluster of its own, provisioning off unless `extra` says otherwise); its base URL."""
    url = f"http://127.0.0.1:{bench.port()}"
    os.makedirs(f"{bench.tmp}/{name}", exist_ok=True)
    bench.start(name, ["dotnet", SILO, "--urls", url, f"--Kbl:Gateway:GrpcPort={bench.port()}",
                       f"--Kbl:Cluster:SiloPort={bench.port()}", f"--Kbl:Cluster:GatewayPort={bench.port()}",
                       f"--Kbl:DataPath={bench.tmp}/{name}", f"--Kbl:SiloName={name}", f"--Kbl:Storage:Sqlite:Path={bench.tmp}/{name}/meta.db",
                       "--Kbl:Auth:AllowAnonymous=true", *extra], cwd=f"{bench.tmp}/{name}")
    bench.until(f"{name} ready", lambda: http("GET", f"{url}/readyz")[0] == 200, 120)
    return url


def load(url, colony, keys):
    """Writes `keys` records of VALUE_SIZE bytes (sixteen at a time); the bytes written (keys + values)."""
    value = "x" * VALUE_SIZE

    def put(i):
        status, text = http("PUT", f"{url}/v1/colonies/{colony}/records/k{i:07d}", value, timeout=30)
        if status != 200:
            raise SystemExit(f"wake.sh: PUT k{i:07d} answered {status} {text[:200]}")

    list(pool.map(put, range(keys)))
    return keys * (8 + VALUE_SIZE)


def timed_get(url, colony, key):
    started = time.perf_counter()
    status, text = http("GET", f"{url}/v1/colonies/{colony}/records/{key}", timeout=120)
    took = time.perf_counter() - started
    if status != 200:
        raise SystemExit(f"wake.sh: GET {key} answered {status} {text[:200]}")
    return took


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def wakes(url, tier):
    """Per size: warm GET latency (the peer), then ROUNDS times hibernate + the first GET (it wakes the leaf)."""
    rows = []
    for keys in SIZES:
        colony = f"w{keys}-{tier}"
        status, text = http("PUT", f"{url}/v1/colonies/{colony}", json.dumps(ONE_LEAF))
        if status not in (200, 201):
            raise SystemExit(f"wake.sh: creating {colony} answered {status} {text[:200]}")
        bench.say(f"{tier}: loading {keys} records")
        size = load(url, colony, keys)
        warm = [timed_get(url, colony, f"k{i * 7919 % keys:07d}") for i in range(50)]
        rounds = max(3, ROUNDS if keys <= 10000 else ROUNDS // 4)
        first = []
        for r in range(rounds):
            status, text = http("POST", f"{url}/v1/colonies/{colony}/kbls/r/hibernate", timeout=120)
            if status != 200 or json.loads(text)["hibernated"] != 1:
                raise SystemExit(f"wake.sh: hibernating {colony} answered {status} {text[:200]}")
            first.append(timed_get(url, colony, f"k{r * 104729 % keys:07d}"))
        rows.append(dict(tier=tier, keys=keys, bytes=size, rounds=rounds, warm=statistics.median(warm),
                         p50=percentile(first, 50), p99=percentile(first, 99)))
    return rows


def cold_starts():
    """A colony on group `cold` (which may go to zero) with the local provider: its leaf hibernates, the group's
    silo stops, then a GET is timed, with when a silo of the group joined and how long the wake itself took."""
    host = silo("host", ["--Kbl:FeedbackPeriod=00:00:01", "--Kbl:Provisioning:Period=00:00:01", "--Kbl:Provisioning:ResyncInterval=00:00:02",
                         "--Kbl:Provisioning:ScaleDownCoolDown=00:00:05", "--Kbl:Provisioning:GroupMinNodes:cold=0",
                         "--Kbl:Provisioning:HotSubtreeShare=0", "--Kbl:Placement:WaitForGroup=00:02:00"])
    genome = dict(ONE_LEAF, nodeGroup="cold", hibernateAfterSeconds=2)
    status, text = http("PUT", f"{host}/v1/colonies/cold", json.dumps(genome), timeout=150)
    if status not in (200, 201):
        raise SystemExit(f"wake.sh: creating colony cold answered {status} {text[:200]}")
    bench.say(f"cold start: loading {COLD_KEYS} records")
    load(host, "cold", COLD_KEYS)

    def cold_silos():
        status, text = http("GET", f"{host}/v1/cluster/silos")
        return [s["silo"] for s in json.loads(text)["silos"] if s["nodeGroup"] == "cold"] if status == 200 else None

    results = []
    for attempt in range(COLD_STARTS):
        bench.until("the cold group at zero silos", lambda: cold_silos() == [], 180)
        joined = {}
        stop = threading.Event()

        def watch(started):
            while not stop.is_set():
                if cold_silos():
                    joined["at"] = time.perf_counter() - started
                    return
                time.sleep(0.02)

        started = time.perf_counter()
        watcher = threading.Thread(target=watch, args=(started,))
        watcher.start()
        took = timed_get(host, "cold", f"k{attempt * 31:07d}")
        stop.set()
        watcher.join()
        name = cold_silos()[0]
        woke = [l for l in open(f"{bench.tmp}/host/silos/{name}/silo.log", errors="replace") if "woke on silo" in l]
        wake_ms = float(woke[-1].split(" in ")[-1].split(" ms")[0]) if woke else float("nan")
        results.append(dict(total=took, joined=joined.get("at", float("nan")), wake=wake_ms / 1000))
        bench.say(f"cold start {attempt + 1}: {took:.2f} s (silo of group cold joined after {joined.get('at', float('nan')):.2f} s; wake {wake_ms:.0f} ms)")
    return results


def moto():
    """moto_server's S3 on a loopback port, with a bucket; the silo settings of an S3 cold tier there."""
    port = bench.port()
    bench.start("moto", ["moto_server", "-H", "127.0.0.1", "-p", str(port)])
    url = f"http://127.0.0.1:{port}"
    bench.until("moto_server", lambda: http("GET", f"{url}/moto-api/")[0] == 200, 60)
    status, text = http("PUT", f"{url}/kbl-cold")
    if status != 200:
        raise SystemExit(f"wake.sh: creating the bucket answered {status} {text[:200]}")
    os.environ.update(AWS_ACCESS_KEY_ID="kbl-bench", AWS_SECRET_ACCESS_KEY="kbl-bench")  # moto takes any credentials
    return ["--Kbl:ColdTier:Mode=s3", "--Kbl:ColdTier:S3:Bucket=kbl-cold", "--Kbl:ColdTier:S3:Prefix=bench/", f"--Kbl:ColdTier:S3:ServiceUrl={url}"]


def main():
    rows = wakes(silo("local", ["--Kbl:Provisioning:Provider=off"]), "local")
    rows += wakes(silo("s3", ["--Kbl:Provisioning:Provider=off", *moto()]), "s3")
    starts = cold_starts() if COLD_STARTS > 0 else []

    print(f"## Wake: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(f"Machine: {machine(ROOT)}")
    print(f"Parameters: SIZES={','.join(map(str, SIZES))} VALUE_SIZE={VALUE_SIZE} ROUNDS={ROUNDS} (a quarter above 10000 keys) "
          f"COLD_STARTS={COLD_STARTS} COLD_KEYS={COLD_KEYS}; one silo per tier, one leaf per colony, one copy\n")
    print("| cold tier | records | MB | wakes | first GET p50 ms | p99 ms | MB/s at p50 | warm GET p50 ms | first / warm |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(f"| {'S3 on moto_server' if r['tier'] == 's3' else 'local directory'} | {r['keys']} | {r['bytes'] / 1e6:.1f} | {r['rounds']} | {r['p50'] * 1000:.1f} | {r['p99'] * 1000:.1f} | "
              f"{r['bytes'] / 1e6 / r['p50']:.1f} | {r['warm'] * 1000:.2f} | {r['p50'] / r['warm']:.0f}× |")
    if starts:
        print()
        print(f"Cold start, group at zero silos, local provider, {COLD_KEYS} records (request to answer; when the group's "
              "silo had joined; the wake itself, from the silo's log):")
        print()
        print("| start | total s | silo started and joined s | wake (download + ingest) s | the rest s |")
        print("|--:|--:|--:|--:|--:|")
        for i, s in enumerate(starts, 1):
            print(f"| {i} | {s['total']:.2f} | {s['joined']:.2f} | {s['wake']:.3f} | {s['total'] - s['joined'] - s['wake']:.2f} |")
    bench.failed = False


try:
    main()
finally:
    pool.shutdown(cancel_futures=True)
    bench.stop()
