namespace Kbl.Tests.Replication;

/// <summary>
/// Virtual time and one thread: every continuation of the protocol's async code is queued here (through a
/// synchronization context) and run in (time, order) order, so a seed decides everything — the same seed, the same
/// run. Timers complete tasks at their virtual time.
/// </summary>
public sealed class SimScheduler : SynchronizationContext
{
    public static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly PriorityQueue<Action, (long At, long Order)> _queue = new();
    private long _order;

    /// <summary>Milliseconds since the start of the run.</summary>
    public long Time { get; private set; }

    public DateTimeOffset Now => Epoch.AddMilliseconds(Time);

    public void At(long time, Action action) => _queue.Enqueue(action, (Math.Max(time, Time), _order++));

    public void After(long delay, Action action) => At(Time + delay, action);

    public override void Post(SendOrPostCallback d, object? state) => At(Time, () => d(state));

    public override void Send(SendOrPostCallback d, object? state) => d(state);

    public Task Delay(long milliseconds)
    {
        var done = new TaskCompletionSource();
        After(milliseconds, () => done.TrySetResult());
        return done.Task;
    }

    /// <summary>Starts <paramref name="work"/> on the scheduler's thread (its continuations come back here).</summary>
    public Task Run(Func<Task> work)
    {
        var done = new TaskCompletionSource();
        At(Time, () => Propagate(work(), done));
        return done.Task;
    }

    /// <summary>Runs events until none is left before <paramref name="until"/> (or none at all).</summary>
    public void RunUntil(long until)
    {
        var previous = Current;
        SetSynchronizationContext(this);
        try
        {
            while (_queue.TryPeek(out _, out var key) && key.At <= until)
            {
                var action = _queue.Dequeue();
                Time = key.At;
                action();
            }

            Time = Math.Max(Time, until);
        }
        finally
        {
            SetSynchronizationContext(previous);
        }
    }

    private static async void Propagate(Task task, TaskCompletionSource done)
    {
        try
        {
            await task;
            done.TrySetResult();
        }
        catch (Exception e)
        {
            done.TrySetException(e);
        }
    }
}
