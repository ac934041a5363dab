using System.Collections.Concurrent;
using Kbl.Placement;
using Microsoft.Extensions.DependencyInjection;

namespace Kbl.Tests.Faults;

/// <summary>Which end of a call a fault strikes: the KBL that makes it, or the grain that serves it.</summary>
public enum FaultSide
{
    Caller,
    Callee,
}

/// <summary>When a fault strikes: before the call takes effect, or after it did (and before its caller hears so).</summary>
public enum FaultTiming
{
    Before,
    After,
}

/// <summary>What a fault does.</summary>
public enum FaultKind
{
    /// <summary>The call fails with a timeout at that point (before: the request was lost; after: the reply was).</summary>
    Lose,

    /// <summary>
    /// The silo of that side dies at that point: the call never returns, and the test kills the silo (see
    /// <see cref="TreeFaults.Fired"/>): a crash between two steps of a protocol.
    /// </summary>
    Crash,

    /// <summary>
    /// The call waits at that point until the test calls <see cref="TreeFaults.Release"/>, then goes on unchanged: a
    /// slow step, during which the test does something else (moves a KBL, say).
    /// </summary>
    Pause,
}

/// <summary>
/// One fault: the <see cref="Skip"/>+1-th call of <paramref name="Method"/> (<c>Interface.Method</c>, e.g.
/// <c>IKblTreeGrain.Retire</c>) anywhere in the cluster, struck on <paramref name="Side"/> at <paramref name="Timing"/>.
/// </summary>
public sealed record Fault(string Method, FaultSide Side, FaultTiming Timing, FaultKind Kind, int Skip = 0)
{
    /// <summary>A silo a crash never strikes (the in-process cluster's membership lives on it); its calls pass.</summary>
    public string? Spared { get; init; }

    /// <summary>When set, only a call whose caller or callee grain id contains this text (a KBL's id, a replica's key) strikes.</summary>
    public string? Grain { get; init; }

    /// <summary>When set, only a call to a grain whose id ends with this text (a replica key's <c>|kblId</c>: that KBL's copies, not its children's) strikes.</summary>
    public string? TargetEndsWith { get; init; }

    public override string ToString() => $"{Kind} {Side} {Timing} {Method}" + (Skip > 0 ? $" (call {Skip + 1})" : "");
}

/// <summary>
/// A test double for failure, since nothing real fails on cue: grain call filters on every silo of an in-process
/// cluster that let calls through unchanged until a <see cref="Fault"/> is armed, then strike it once. The calls
/// themselves are real Orleans calls between real grains; only their loss, or the moment a silo dies, is injected.
/// A silo that must crash is named by <see cref="Fired"/>; its call hangs until the test has killed it.
/// </summary>
public sealed class TreeFaults : IDisposable
{
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _disposed = new();
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<SiloAddress, string> _silos = new();
    private readonly ConcurrentDictionary<SiloAddress, TaskCompletionSource> _frozen = new();
    private readonly ConcurrentQueue<string> _watched = new();
    private Fault? _armed;
    private string? _watch;
    private int _skipped;
    private TaskCompletionSource<(Fault Fault, string Silo)> _fired = NewFired();
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The fault that struck and the silo it struck on (for a crash: the silo to kill).</summary>
    public Task<(Fault Fault, string Silo)> Fired => _fired.Task;

    /// <summary>The grain the call a fault struck was made to (once <see cref="Fired"/>).</summary>
    public GrainId StruckTarget { get; private set; }

    /// <summary>Arms <paramref name="fault"/>: the next matching call strikes it, once.</summary>
    public void Arm(Fault fault)
    {
        lock (_gate)
        {
            _released.TrySetResult();
            (_armed, _skipped, _fired, _released) = (fault, 0, NewFired(), new(TaskCreationOptions.RunContinuationsAsynchronously));
        }
    }

    public void Disarm()
    {
        lock (_gate)
        {
            _armed = null;
            _released.TrySetResult();
        }
    }

    /// <summary>Lets a call a <see cref="FaultKind.Pause"/> holds go on.</summary>
    public void Release()
    {
        lock (_gate)
        {
            _released.TrySetResult();
        }
    }

    /// <summary>
    /// Freezes every running instance of silo <paramref name="name"/>: from now on every call that enters or leaves
    /// it fails at once, and the call a crash struck there fails too, so no turn on it gets past its next call. An
    /// in-process silo that is killed keeps running turns for a moment; frozen first, it does nothing a process
    /// killed with SIGKILL could not have done. A silo started again under the same name is a new instance, not frozen.
    /// </summary>
    public void Freeze(string name)
    {
        foreach (var (address, silo) in _silos)
        {
            if (silo == name)
            {
                Frozen(address).TrySetResult();
            }
        }
    }

    /// <summary>
    /// From now on, records every call served to a grain whose id contains <paramref name="grain"/> (the silo, the
    /// method, its caller), for <see cref="Watched"/>: what woke a KBL that should have stayed idle.
    /// </summary>
    public void Watch(string grain)
    {
        _watched.Clear();
        _watch = grain;
    }

    /// <summary>The calls recorded since <see cref="Watch"/>, one per line, oldest first.</summary>
    public string Watched => string.Join('\n', _watched);

    /// <summary>Calls of <paramref name="method"/> (<c>Interface.Method</c>) served so far, cluster-wide.</summary>
    public int Calls(string method) => _calls.GetValueOrDefault(method);

    public void Dispose()
    {
        _disposed.Cancel();
        _disposed.Dispose();
    }

    internal void Register(SiloAddress address, string name) => _silos[address] = name;

    internal Task Around(IGrainCallContext context, FaultSide side, string silo, SiloAddress address) =>
        Around($"{context.InterfaceMethod.DeclaringType?.Name}.{context.MethodName}", side, silo, address, $"{context.SourceId} {context.TargetId}", context.Invoke, context.TargetId);

    /// <summary>
    /// A call of <paramref name="method"/> made on silo <paramref name="silo"/> (a grain call, or a call to a service
    /// outside Orleans such as the cold tier), about <paramref name="grains"/>: a fault armed for it strikes before or after it.
    /// </summary>
    internal async Task Around(string method, FaultSide side, string silo, SiloAddress address, string grains, Func<Task> invoke, GrainId target = default)
    {
        if (Frozen(address).Task.IsCompleted)
        {
            throw new TimeoutException($"silo {silo} is gone (frozen, then killed)");
        }

        if (side == FaultSide.Callee)
        {
            _calls.AddOrUpdate(method, 1, (_, n) => n + 1);
            if (_watch is { } watch && grains.Contains(watch, StringComparison.Ordinal))
            {
                _watched.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {silo} {method} (caller and callee: {grains})");
            }
        }

        await Strike(Take(method, side, FaultTiming.Before, silo, grains, target), silo, address);
        await invoke();
        await Strike(Take(method, side, FaultTiming.After, silo, grains, target), silo, address);
    }

    /// <summary>The armed fault, when this call strikes it, with what releases a pause of it.</summary>
    private (Fault Fault, Task Released)? Take(string method, FaultSide side, FaultTiming timing, string silo, string grains, GrainId target)
    {
        lock (_gate)
        {
            if (_armed is not { } fault || fault.Method != method || fault.Side != side || fault.Timing != timing || fault.Spared == silo ||
                (fault.Grain is { } grain && !grains.Contains(grain, StringComparison.Ordinal)) ||
                (fault.TargetEndsWith is { } end && !grains.EndsWith(end, StringComparison.Ordinal)))
            {
                return null;
            }

            if (_skipped++ < fault.Skip)
            {
                return null;
            }

            _armed = null;
            StruckTarget = target;
            return (fault, _released.Task);
        }
    }

    private async Task Strike((Fault Fault, Task Released)? struck, string silo, SiloAddress address)
    {
        if (struck is null)
        {
            return;
        }

        var (fault, released) = struck.Value;

        _fired.TrySetResult((fault, silo));
        if (fault.Kind == FaultKind.Pause)
        {
            await released.WaitAsync(_disposed.Token);
            return;
        }

        if (fault.Kind == FaultKind.Crash)
        {
            // Hang until the test freezes the silo to kill it (or the cluster is gone); the turn then fails.
            await Frozen(address).Task.WaitAsync(_disposed.Token);
        }

        throw new TimeoutException($"injected fault: {fault}");
    }

    private TaskCompletionSource Frozen(SiloAddress address) =>
        _frozen.GetOrAdd(address, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private static TaskCompletionSource<(Fault, string)> NewFired() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Both sides of <see cref="TreeFaults"/> on one silo: calls it serves (callee) and calls its grains make (caller).</summary>
public sealed class SiloFaults : IIncomingGrainCallFilter, IOutgoingGrainCallFilter
{
    private readonly TreeFaults _faults;
    private readonly string _silo;
    private readonly SiloAddress _address;

    public SiloFaults(TreeFaults faults, SiloIdentity silo, ILocalSiloDetails local)
    {
        (_faults, _silo, _address) = (faults, silo.Name, local.SiloAddress);
        faults.Register(_address, _silo);
    }

    /// <summary>Puts <paramref name="faults"/> on a silo: both grain call filters, idle until a fault is armed.</summary>
    public static void AddTo(ISiloBuilder silo, TreeFaults faults)
    {
        silo.Services.AddSingleton(faults);
        silo.Services.AddSingleton<SiloFaults>();
        silo.Services.AddSingleton<IIncomingGrainCallFilter>(services => services.GetRequiredService<SiloFaults>());
        silo.Services.AddSingleton<IOutgoingGrainCallFilter>(services => services.GetRequiredService<SiloFaults>());
    }

    public Task Invoke(IIncomingGrainCallContext context) => _faults.Around(context, FaultSide.Callee, _silo, _address);

    public Task Invoke(IOutgoingGrainCallContext context) => _faults.Around(context, FaultSide.Caller, _silo, _address);
}
