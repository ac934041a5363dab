using System.Text;
using Kbl.Replication;
using Kbl.Tests.Linearizability;

namespace Kbl.Tests.Replication;

/// <summary>
/// One shard replicated over a few simulated silos, driven by clients through faults, all on virtual time from one
/// seed (a deterministic simulation of the protocol core: <see cref="PrimaryCore"/> and <see cref="ReplicaCore"/>
/// exactly as the silos run them). The network delays, drops, duplicates and reorders messages; silos crash and
/// restart, with their disks or without, some in the middle of a write (a primary's round already sent, its own
/// copy not written); silos pause past failure detection and come back (zombie primaries); the
/// placement sometimes starts a second activation while the first still runs. At the end every fault heals and
/// the run is checked: the clients' history is linearizable per key, no two epochs acknowledged writes out of
/// order, and every copy in sync is byte-identical to the primary's.
/// </summary>
public sealed class ShardSimulation
{
    private const long MessageTimeout = 60;
    private const long DetectionDelay = 150;
    private readonly SimScheduler _scheduler = new();
    private readonly Random _random;

    /// <summary>Which replicas activate again when a primary's silo is declared dead: apart, so the schedules of the other faults stay what each seed made them.</summary>
    private readonly Random _directoryLoss;

    /// <summary>Which silos die in the middle of a write: apart too, for the same reason.</summary>
    private readonly Random _midWrite;
    private readonly SimOptions _options;
    private readonly List<Node> _nodes;
    private readonly History _history = new();
    private readonly List<(long WrittenAt, long Epoch, string Node)> _acks = [];
    private readonly Dictionary<long, long> _activatedAt = [];
    private readonly Register _register;
    private Node? _directory;
    private int _disks;
    private int _values;
    private bool _faults = true;

    public ShardSimulation(int seed, SimOptions options)
    {
        _random = new Random(seed);
        _directoryLoss = new Random(~seed);
        _midWrite = new Random(seed ^ 0x5f3759df);
        _options = options;
        _nodes = [.. Enumerable.Range(0, options.Silos).Select(i => new Node($"s{i}", NewDisk(), this))];
        var members = _nodes.Skip(1).Take(options.Copies - 1).Select(n => new ReplicaMember(n.Name, n.Log.Disk, InSync: true)).ToList();
        _register = new Register(this, new ShardConfig(0, _nodes[0].Name, _nodes[0].Log.Disk, members, options.MinCopies));
        foreach (var node in _nodes)
        {
            node.Start(restart: false);
        }
    }

    public long Time => _scheduler.Time;

    public IReadOnlyList<Operation> History => _history.Operations;

    /// <summary>Writes acknowledged in the run: a run with none proves little.</summary>
    public int Acknowledged => _acks.Count;

    /// <summary>Writes acknowledged while their primary was streaming a snapshot to a member (a rebuild under way).</summary>
    public int AcknowledgedDuringRebuilds { get; private set; }

    /// <summary>Hand-overs recorded: a primary gave its shard to an in-sync copy on another silo (a drain, a rebalance).</summary>
    public int HandOvers { get; private set; }

    /// <summary>What happened, for a failing seed: faults, activations, configuration changes.</summary>
    public List<string> Trace { get; } = [];

    private void Note(string what) => Trace.Add($"{Time,6} {what}");

    /// <summary>Runs the clients and the faults for <see cref="SimOptions.Duration"/>, heals everything, reads every key back, and checks the run.</summary>
    public string? Run()
    {
        for (var c = 0; c < _options.Clients; c++)
        {
            var client = c;
            _ = _scheduler.Run(() => Client(client));
        }

        _scheduler.After(_random.Next(20, 60), Fault);
        _scheduler.After(100, Tick);
        _scheduler.RunUntil(_options.Duration);

        // Heal: no more faults, every silo up with its disk, a reliable network; then every key read back.
        _faults = false;
        foreach (var node in _nodes.Where(n => !n.Alive || n.PausedUntil > Time))
        {
            node.PausedUntil = 0;
            if (!node.Alive)
            {
                node.Start(restart: true);
            }
        }

        _scheduler.RunUntil(Time + 3_000);
        var (answered, healed) = (0, false);
        var finalReads = _scheduler.Run(async () =>
        {
            for (var attempt = 0; attempt < 20 && !await HealMembers(); attempt++)
            {
                await _scheduler.Delay(200);
            }

            // Every key read back, retried as a client would when refused (a member still catching up, a new activation).
            foreach (var key in Keys)
            {
                for (var attempt = 0; attempt < 20; attempt++)
                {
                    if (await Request(-1, key, OpKind.Get, null, null) is { Outcome: not Outcome.Unknown })
                    {
                        answered++;
                        break;
                    }

                    await _scheduler.Delay(200);
                }
            }

            // Then every copy comes back in sync (the reads activated a primary if none was): rebuilds and
            // catch-ups end once the faults stop.
            for (var attempt = 0; attempt < 20 && !(healed = await HealMembers()); attempt++)
            {
                await _scheduler.Delay(200);
            }
        });
        _scheduler.RunUntil(Time + 40_000);
        if (!finalReads.IsCompleted || answered < _options.Keys)
        {
            return "the final reads were not all answered, or the copies were not all brought back in sync: the shard never recovered";
        }

        if (!healed)
        {
            return "the faults stopped, yet the copies were not all brought back in sync (a rebuild or catch-up never ended)";
        }

        return Check();
    }

    private IEnumerable<string> Keys => Enumerable.Range(0, _options.Keys).Select(k => $"k{k}");

    private string NewDisk() => $"disk-{++_disks}";

    private string? Check()
    {
        if (LinearizabilityChecker.Check(History) is { } failure)
        {
            return failure;
        }

        // One epoch acknowledges at a time: no epoch acknowledges a write it made after a newer epoch took over.
        // (An answer may arrive late: a write made before the takeover, on every copy in sync, is in the new log.)
        foreach (var (writtenAt, epoch, node) in _acks)
        {
            if (_activatedAt.Where(a => a.Key > epoch && a.Value < writtenAt).Select(a => a.Key).FirstOrDefault() is var newer and > 0)
            {
                return $"epoch {epoch} ({node}) acknowledged a write it made at {writtenAt}, after epoch {newer} took over at {_activatedAt[newer]}";
            }
        }

        var config = _register.Current;
        var primary = NodeNamed(config.Primary);
        foreach (var member in config.InSync)
        {
            var copy = _nodes.Single(n => n.Name == member.Silo).Log;
            if (copy.AppliedSeq != primary.Log.AppliedSeq ||
                !copy.Records.OrderBy(r => r.Key).Select(r => (r.Key, Convert.ToHexString(r.Value.Value), r.Value.Version))
                    .SequenceEqual(primary.Log.Records.OrderBy(r => r.Key).Select(r => (r.Key, Convert.ToHexString(r.Value.Value), r.Value.Version))))
            {
                return $"copy on {member.Silo} (at {copy.AppliedSeq}) differs from the primary's on {primary.Name} (at {primary.Log.AppliedSeq})";
            }
        }

        return null;
    }

    // ---------------- clients ----------------

    private async Task Client(int client)
    {
        var lastSeen = new Dictionary<string, long>();
        while (Time < _options.Duration - 200)
        {
            await _scheduler.Delay(_random.Next(1, 15));
            var key = $"k{_random.Next(_options.Keys)}";
            var roll = _random.Next(100);
            var (kind, ifMatch) = roll switch
            {
                < 40 => (OpKind.Get, (long?)null),
                < 75 => (OpKind.Put, null),
                < 85 => (OpKind.Put, lastSeen.TryGetValue(key, out var v) ? v : 1),
                _ => (OpKind.Delete, null),
            };
            var result = await Request(client, key, kind, kind == OpKind.Put ? $"v{++_values}" : null, ifMatch);
            if (result is { Version: > 0 })
            {
                lastSeen[key] = result.Version;
            }
        }
    }

    /// <summary>One client request, routed to the primary's activation; recorded in the history unless it was refused (nothing done).</summary>
    private async Task<Operation?> Request(int client, string key, OpKind kind, string? value, long? ifMatch)
    {
        var invoked = Time;
        var reply = new TaskCompletionSource<Operation?>();
        var node = Route();
        var template = new Operation(key, kind, invoked, 0, Outcome.Unknown) { Value = value, IfMatch = ifMatch, Client = client };
        if (node is not null)
        {
            Send(node, () => node.Serve(template), answer => reply.TrySetResult(answer));
        }

        _scheduler.After(_options.ClientTimeout, () => reply.TrySetResult(template));
        var operation = await reply.Task;
        if (operation is null)
        {
            return null; // refused: it did nothing
        }

        var done = operation.Outcome == Outcome.Unknown ? operation with { Completed = long.MaxValue } : operation with { Completed = Time };
        _history.Add(done);
        return done;
    }

    /// <summary>
    /// Where a request goes: the live activation the directory knows, else a new one on a silo the placement
    /// chooses (the primary's own, else one in sync). Failure detection takes <see cref="DetectionDelay"/>; until
    /// then requests to a dead or paused primary go unanswered. Sometimes (a fault) a second activation starts.
    /// </summary>
    private Node? Route()
    {
        var current = _directory;
        var config = _register.Current;
        var duplicate = _faults && _random.Next(150) == 0;
        if (current is not null && !duplicate)
        {
            // Until failure detection declares it dead, requests still go to the silo the directory names; a silo
            // whose copy is not complete (a new disk) has the placement choose one that is.
            var usable = current.Activation is not null || config.IsComplete(current.Name, current.Log.Disk);
            if ((current.Reachable(Time) && usable) || (!current.Reachable(Time) && Time - current.DownSince < DetectionDelay))
            {
                return current;
            }
        }

        var candidates = _nodes.Where(n => n.Reachable(Time) && config.IsComplete(n.Name, n.Log.Disk) && (!duplicate || n != current)).ToList();
        if (candidates.Count == 0)
        {
            return current;
        }

        var chosen = candidates[_random.Next(candidates.Count)];
        if (!duplicate)
        {
            _directory = chosen; // a duplicate activation is one the directory does not point to
        }

        if (!duplicate && current is not null && !current.Reachable(Time) && _faults)
        {
            // The silo was declared dead: Orleans deactivates the activations whose directory entries it held, so
            // some replicas activate again (in the same process) just as the new primary seals them.
            foreach (var node in _nodes.Where(n => n != current && n.Alive && _directoryLoss.Next(2) == 0))
            {
                node.ReactivateReplica();
                Note($"{node.Name}'s replica activates again (its directory entry was on {current.Name})");
            }
        }

        return chosen;
    }

    // ---------------- the network ----------------

    /// <summary>
    /// Delivers <paramref name="handle"/> to <paramref name="to"/> after a random delay (or never: dropped, or the
    /// silo is down or paused), sometimes twice, and its answer back the same way.
    /// </summary>
    private void Send<T>(Node to, Func<Task<T>> handle, Action<T> answer, Node? from = null)
    {
        if (_faults && _random.NextDouble() < _options.DropRate)
        {
            return;
        }

        // Silo-to-silo messages may arrive twice; a client's request is one operation (a retry would be another).
        var copies = from is not null && _faults && _random.NextDouble() < _options.DuplicateRate ? 2 : 1;
        for (var i = 0; i < copies; i++)
        {
            Deliver(to, Delay(), async () =>
            {
                var incarnation = to.Incarnation;
                var result = await handle();
                if (to.Incarnation != incarnation || (_faults && _random.NextDouble() < _options.DropRate))
                {
                    return;
                }

                if (from is null)
                {
                    _scheduler.After(Delay(), () => answer(result));
                }
                else
                {
                    Deliver(from, Delay(), () => answer(result));
                }
            });
        }
    }

    private long Delay() => _faults ? _random.Next(1, 20) : 1;

    /// <summary>
    /// Runs <paramref name="action"/> at <paramref name="node"/> after <paramref name="delay"/>: never if it crashed
    /// meanwhile (the connection is gone), once it resumes if it is paused (the message waits in its socket).
    /// </summary>
    private void Deliver(Node node, long delay, Action action)
    {
        var incarnation = node.Incarnation;
        _scheduler.After(delay, Arrive);

        void Arrive()
        {
            if (!node.Alive || node.Incarnation != incarnation)
            {
                return;
            }

            if (node.PausedUntil > Time)
            {
                _scheduler.At(node.PausedUntil, Arrive);
                return;
            }

            action();
        }
    }

    private async Task<T> Call<T>(Node from, Node to, Func<Task<T>> handle)
    {
        var reply = new TaskCompletionSource<T>();
        Send(to, handle, r => reply.TrySetResult(r), from);

        // The caller's timer: a paused caller notices the timeout only once it resumes.
        Deliver(from, MessageTimeout, () => reply.TrySetException(new ReplicaUnreachableException(to.Name)));
        return await reply.Task;
    }

    // ---------------- faults ----------------

    private void Fault()
    {
        if (!_faults)
        {
            return;
        }

        var node = _nodes[_random.Next(_nodes.Count)];
        var roll = _random.Next(100);
        if (!node.Alive)
        {
            // Back, with its disk or (if another copy holds every acknowledged write) without.
            var wipe = roll < _options.DiskLossPercent && OtherCompleteCopy(node);
            node.Start(restart: true, wipe);
            Note($"{node.Name} restarts{(wipe ? " on a new disk " + node.Log.Disk : "")}");
        }
        else if (roll < 45 && _nodes.Count(n => !n.Alive) < _options.Silos - 1)
        {
            node.Crash();
            Note($"{node.Name} crashes");
        }
        else if (roll < 70)
        {
            node.PausedUntil = Time + _random.Next(50, 800); // a SIGSTOP, past failure detection, then SIGCONT
            node.DownSince = Time;
            Note($"{node.Name} pauses until {node.PausedUntil}");
        }
        else if (roll < 80)
        {
            node.ReactivateReplica();
            Note($"{node.Name}'s replica activates again (same process)");
        }
        else if (_midWrite.Next(100) < 40)
        {
            // It dies in the middle of its next write (a primary's: after its round went out, before its own copy took it).
            node.Log.BeforeNextWrite = () =>
            {
                if (!_faults || !node.Alive || _nodes.Count(n => !n.Alive) >= _options.Silos - 1)
                {
                    return false;
                }

                node.Crash();
                Note($"{node.Name} crashes in a write");
                return true;
            };
        }

        _scheduler.After(_random.Next(_options.FaultInterval / 4, _options.FaultInterval * 2), Fault);
    }

    /// <summary>
    /// The primary's feedback tick: it brings members that fell out of sync back, in a turn of its own. Now and then
    /// (a drain, a rebalance) the primary hands its shard to an in-sync copy instead, and the directory follows it.
    /// </summary>
    private void Tick()
    {
        if (_directory is { Activation: not null } node && node.Reachable(Time))
        {
            if (_faults && _random.Next(6) == 0)
            {
                Send(node, () => node.HandOver(), successor =>
                {
                    if (successor is not null && _directory == node)
                    {
                        _directory = successor;
                    }
                });
            }
            else
            {
                Send(node, () => node.HealAll(), _ => { });
            }
        }

        if (Time < _options.Duration)
        {
            _scheduler.After(100, Tick);
        }
    }

    private bool OtherCompleteCopy(Node node)
    {
        var config = _register.Current;
        return _nodes.Any(n => n != node && config.IsComplete(n.Name, n.Log.Disk));
    }

    /// <summary>After the faults: the live primary brings every member back in sync. True when all are.</summary>
    private async Task<bool> HealMembers()
    {
        var node = Route();
        if (node is null)
        {
            return false;
        }

        var healed = new TaskCompletionSource<bool>();
        Send(node, () => node.HealAll(), r => healed.TrySetResult(r));
        _scheduler.After(5_000, () => healed.TrySetResult(false));
        return await healed.Task;
    }

    /// <summary>
    /// The consensus register (the KBL's grain state): a conditional replace, with a little latency each way. A
    /// request reaches it if its silo was up when it sent it; the answer reaches the silo only if it is still the
    /// same life of it (a crashed silo's code does not go on).
    /// </summary>
    private sealed class Register(ShardSimulation sim, ShardConfig initial)
    {
        public ShardConfig Current { get; private set; } = initial;

        public IConfigRegister For(Node node) => new Port(this, node);

        private bool Replace(ShardConfig expected, ShardConfig next)
        {
            if (!ReferenceEquals(Current, expected))
            {
                return false;
            }

            Current = next;
            sim.Note($"config: epoch {next.Epoch} primary {next.Primary} members {string.Join(", ", next.Members.Select(m => $"{m.Silo}{(m.InSync ? "" : " (out)")}"))}");
            return true;
        }

        private Task<T> Ask<T>(Node node, Func<T> operation)
        {
            var reply = new TaskCompletionSource<T>();
            sim._scheduler.After(sim._random.Next(0, 3), () =>
            {
                var result = operation();
                sim.Deliver(node, sim._random.Next(0, 3), () => reply.TrySetResult(result));
            });
            return reply.Task;
        }

        private sealed class Port(Register register, Node node) : IConfigRegister
        {
            public Task<ShardConfig> Read() => register.Ask(node, () => register.Current);

            public Task<bool> TryReplace(ShardConfig expected, ShardConfig next) => register.Ask(node, () => register.Replace(expected, next));
        }
    }

    /// <summary>One silo: its disk (the shard's copy), its replica core, and maybe an activation of the primary.</summary>
    private sealed class Node(string name, string disk, ShardSimulation sim) : IReplicaTransport, ITimeSource
    {
        private readonly Queue<TaskCompletionSource> _turns = new();
        private bool _busy;

        /// <summary>This process's rebuild turns (one stream at a time), as a silo's; a new process starts with none taken.</summary>
        private RebuildThrottle _rebuildTurns = NewRebuildTurns();

        /// <summary>The read lease this process's copy granted, shared by every activation of its replica (ReplicaLeases).</summary>
        private GrantedLease _leases = null!;

        public string Name { get; } = name;

        public InMemoryShardLog Log { get; private set; } = new(disk);

        public ReplicaCore Replica { get; private set; } = null!;

        public PrimaryCore? Activation { get; private set; }

        public bool Alive { get; private set; }

        public long PausedUntil { get; set; }

        public long DownSince { get; set; }

        /// <summary>Changes at every crash: answers computed by an earlier life are never sent.</summary>
        public int Incarnation { get; private set; }

        DateTimeOffset ITimeSource.Now => sim._scheduler.Now;

        public bool Reachable(long now) => Alive && PausedUntil <= now;

        public void Start(bool restart, bool wipe = false)
        {
            if (wipe)
            {
                Log = new InMemoryShardLog(sim.NewDisk());
            }

            Alive = true;
            Incarnation++;
            Activation = null;
            NewReplica();
            (_busy, PausedUntil) = (false, 0);
            _turns.Clear();
            _rebuildTurns = NewRebuildTurns();
        }

        private static RebuildThrottle NewRebuildTurns() => new(long.MaxValue, maxStreams: 1, TimeProvider.System);

        /// <summary>A replica with a lease record of its own, assuming it granted a whole lease just now (what a process before it granted is not known).</summary>
        private void NewReplica()
        {
            _leases = new GrantedLease(sim._scheduler.Now + sim._options.Lease);
            Replica = new ReplicaCore(Log, sim._options.Lease, _leases);
        }

        /// <summary>
        /// Its replica's activation is collected while the process stays up (Orleans does so when the silo holding
        /// its directory entry dies): the next activation knows the leases this process granted, and no more.
        /// </summary>
        public void ReactivateReplica() => Replica = new ReplicaCore(Log, sim._options.Lease, _leases);

        public void Crash()
        {
            Alive = false;
            Incarnation++;
            Activation = null;
            DownSince = sim.Time;
        }

        Task ITimeSource.Delay(TimeSpan delay)
        {
            var done = new TaskCompletionSource();
            sim.Deliver(this, (long)delay.TotalMilliseconds, () => done.TrySetResult());
            return done.Task;
        }

        /// <summary>A client request, in a turn of this silo's activation of the primary (activated first if needed).</summary>
        public async Task<Operation?> Serve(Operation request)
        {
            var incarnation = Incarnation;
            await Turn();
            try
            {
                if (Activation is null || Activation.Fenced)
                {
                    var activation = new PrimaryCore(Name, Log, sim._register.For(this), this, this, new ReplicationTimings { Lease = sim._options.Lease, SealTimeout = TimeSpan.FromMilliseconds(3_000) });
                    Activation = await activation.Activate() && incarnation == Incarnation ? activation : null;
                    sim.Note($"{Name} activation {(Activation is null ? "failed" : "at epoch " + Activation.Config.Epoch)}");
                    if (Activation is not null)
                    {
                        sim._activatedAt[Activation.Config.Epoch] = sim.Time;
                    }
                    if (Activation is null)
                    {
                        return null;
                    }
                }

                return await Execute(Activation, request);
            }
            finally
            {
                EndTurn(incarnation);
            }
        }

        public async Task<bool> HealAll()
        {
            var incarnation = Incarnation;
            await Turn();
            try
            {
                if (Activation is not { } activation)
                {
                    return false;
                }

                foreach (var member in activation.Config.Members.Where(m => !m.InSync).ToList())
                {
                    await activation.Heal(member.Silo);
                }

                return activation.Config.Members.All(m => m.InSync) && !activation.Fenced;
            }
            finally
            {
                EndTurn(incarnation);
            }
        }

        /// <summary>
        /// A hand-over, as <c>KblGrain.RelocateCore</c> makes it: the primary catches an in-sync copy up and gives back
        /// the leases (<see cref="PrimaryCore.Release"/>), records that its own copy no longer counts (the primary
        /// named by nobody), and drops its copy (a new, empty disk here: the records are deleted). The successor, or
        /// null when it did not happen.
        /// </summary>
        public async Task<Node?> HandOver()
        {
            var incarnation = Incarnation;
            await Turn();
            try
            {
                if (Activation is not { Fenced: false } activation || activation.Config.InSync.ToList() is not { Count: > 0 } inSync)
                {
                    return null;
                }

                // Once the leases are given back, this activation serves nothing more (whatever happens next): the next
                // request starts the shard again under a new epoch, as KblGrain.RelocateCore has it.
                var successor = inSync[sim._random.Next(inSync.Count)].Silo;
                var released = await activation.Release(successor);
                if (incarnation != Incarnation)
                {
                    return null;
                }

                Activation = null;
                if (!released)
                {
                    return null;
                }

                if (sim._random.Next(4) == 0)
                {
                    sim.Note($"{Name}'s hand-over to {successor} stops before it is recorded (the target refused)");
                    return null;
                }

                var config = activation.Config;
                if (!await sim._register.For(this).TryReplace(config, config with { Primary = "", PrimaryDisk = "" }) || incarnation != Incarnation)
                {
                    return null;
                }

                Log = new InMemoryShardLog(sim.NewDisk());
                NewReplica();
                sim.HandOvers++;
                sim.Note($"{Name} hands the shard over to {successor}");
                return sim.NodeNamed(successor);
            }
            finally
            {
                EndTurn(incarnation);
            }
        }

        public Task<AppendReply> Append(string silo, AppendRequest request) =>
            sim.Call(this, sim.NodeNamed(silo), () => Task.FromResult(sim.NodeNamed(silo).Replica.Append(request, sim._scheduler.Now)));

        public Task<SealReply> Seal(string silo, SealRequest request) =>
            sim.Call(this, sim.NodeNamed(silo), () => Task.FromResult(sim.NodeNamed(silo).Replica.Seal(request, sim._scheduler.Now)));

        public Task<IReadOnlyList<LogEntry>> Fetch(string silo, long afterSeq, int max) =>
            sim.Call(this, sim.NodeNamed(silo), () => Task.FromResult(sim.NodeNamed(silo).Log.After(afterSeq, max)));

        /// <summary>
        /// A rebuild: the snapshot (taken when its turn came; writes go on meanwhile) travels in pages of two
        /// records, each a message of its own that the network may drop, delay, repeat or reorder.
        /// </summary>
        public async Task<long> Install(string silo, long epoch, IShardSnapshot snapshot, CancellationToken cancellation)
        {
            var to = sim.NodeNamed(silo);
            var stream = sim._random.NextInt64();
            var pages = snapshot.Records().Chunk(2).ToList();
            if (!await sim.Call(this, to, () => Task.FromResult(to.Replica.BeginInstall(epoch, stream))))
            {
                return -1;
            }

            for (var i = 0; i < pages.Count; i++)
            {
                var (index, page) = (i, pages[i]);
                if (!await sim.Call(this, to, () => Task.FromResult(to.Replica.InstallPage(epoch, stream, index, page))))
                {
                    return -1;
                }
            }

            var installed = await sim.Call(this, to, () => Task.FromResult(to.Replica.EndInstall(epoch, stream, pages.Count, snapshot.AppliedSeq, snapshot.LastEpoch)));
            return installed ? pages.Sum(p => p.Sum(r => (long)r.Key.Length + r.Value.Length)) : -1;
        }

        public Task<string> Disk(string silo) => sim.Call(this, sim.NodeNamed(silo), () => Task.FromResult(sim.NodeNamed(silo).Log.Disk));

        /// <summary>A turn after a while (writes go on meanwhile, so the snapshot taken then is not the one the heal would have taken), one stream at a time.</summary>
        public async Task<IDisposable> RebuildTurn(bool urgent, CancellationToken cancellation)
        {
            var turns = _rebuildTurns;
            await ((ITimeSource)this).Delay(TimeSpan.FromMilliseconds(sim._faults ? sim._random.Next(0, 40) : 0));
            return await turns.Turn(cancellation, urgent);
        }

        private async Task<Operation?> Execute(PrimaryCore primary, Operation request)
        {
            var key = Encoding.UTF8.GetBytes(request.Key);
            var current = Log.Get(request.Key);
            if (request.Kind == OpKind.Get)
            {
                if (!await primary.EnsureReadLease())
                {
                    return null;
                }

                // Read after the lease is confirmed: what this copy holds now.
                return Log.Get(request.Key) is { } record
                    ? request with { Outcome = Outcome.Ok, ReadValue = Encoding.UTF8.GetString(record.Value), Version = record.Version }
                    : request with { Outcome = Outcome.NotFound };
            }

            if (request.IfMatch is { } expected && current?.Version != expected)
            {
                // A refusal reads the current version: it must be as fenced as a read.
                return await primary.EnsureReadLease() ? request with { Outcome = Outcome.PreconditionFailed, Version = Log.Get(request.Key)?.Version ?? 0 } : null;
            }

            if (request.Kind == OpKind.Delete && current is null)
            {
                return await primary.EnsureReadLease() && Log.Get(request.Key) is null ? request with { Outcome = Outcome.NotFound } : null;
            }

            var writtenAt = sim.Time;
            var (outcome, version) = await primary.Write(key, request.Kind == OpKind.Put ? Encoding.UTF8.GetBytes(request.Value!) : null);
            switch (outcome)
            {
                case WriteOutcome.Acknowledged:
                    sim._acks.Add((writtenAt, primary.Config.Epoch, Name));
                    sim.AcknowledgedDuringRebuilds += primary.Rebuilding > 0 ? 1 : 0;
                    return request with { Outcome = Outcome.Ok, Version = version };
                case WriteOutcome.Unknown:
                    return request with { Outcome = Outcome.Unknown };
                default:
                    return null;
            }
        }

        /// <summary>Waits for this silo's activation to be free: a grain's calls do not interleave.</summary>
        private Task Turn()
        {
            if (!_busy)
            {
                _busy = true;
                return Task.CompletedTask;
            }

            var turn = new TaskCompletionSource();
            _turns.Enqueue(turn);
            return turn.Task;
        }

        /// <summary>
        /// Ends the turn of a call made in life <paramref name="incarnation"/> of this silo. A call of an earlier life
        /// (it went on after the crash, as simulated code does: a real process stops) ends nothing: its turn ended with
        /// the crash, and the turn under way now is another call's.
        /// </summary>
        private void EndTurn(int incarnation)
        {
            if (incarnation != Incarnation)
            {
                return;
            }

            if (_turns.TryDequeue(out var next))
            {
                next.SetResult();
            }
            else
            {
                _busy = false;
            }
        }
    }

    private Node NodeNamed(string name) => _nodes.Single(n => n.Name == name);
}

/// <summary>The shape of a simulated run.</summary>
public sealed record SimOptions
{
    public int Silos { get; init; } = 3;

    public int Copies { get; init; } = 3;

    public int MinCopies { get; init; } = 1;

    public int Clients { get; init; } = 4;

    public int Keys { get; init; } = 3;

    public long Duration { get; init; } = 3_000;

    public long ClientTimeout { get; init; } = 400;

    public double DropRate { get; init; } = 0.02;

    public double DuplicateRate { get; init; } = 0.02;

    public int DiskLossPercent { get; init; } = 20;

    public TimeSpan Lease { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Milliseconds between faults, on average.</summary>
    public int FaultInterval { get; init; } = 300;
}
