namespace Kbl.Placement;

/// <summary>
/// A pass a silo makes once it has started over things its disk names (KBLs to wake, copies to ask about): in the
/// background (the silo does not wait for it), four at a time, each on its own (one that fails is logged and the
/// others go on), after <see cref="Delay"/>, and again every <see cref="Every"/> when that is set; it stops when the
/// silo stops.
/// </summary>
public abstract class SiloStartPass<T> : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>How long after the silo starts the pass begins.</summary>
    protected virtual TimeSpan Delay => TimeSpan.Zero;

    /// <summary>How long after a pass ends the next begins (zero: one pass only).</summary>
    protected virtual TimeSpan Every => TimeSpan.Zero;

    public void Participate(ISiloLifecycle lifecycle) => lifecycle.Subscribe(GetType().Name, ServiceLifecycleStage.Active + 2, Start, _ => _stopping.CancelAsync());

    public void Dispose()
    {
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>What the pass goes over, read when it begins.</summary>
    protected abstract IReadOnlyList<T> Items();

    /// <summary>Does the pass's work for one item: true when it counts (woken, dropped).</summary>
    protected abstract Task<bool> Visit(T item);

    /// <summary>An item whose visit failed (it waits for its next chance; the others go on).</summary>
    protected abstract void Failed(T item, Exception error);

    /// <summary>The pass ended (not when the silo stopped first): how many of the items counted.</summary>
    protected abstract void Ended(int counted, int items);

    /// <summary>A pass failed as a whole (its items could not be read): the next one, if any, goes on.</summary>
    protected abstract void PassFailed(Exception error);

    private Task Start(CancellationToken cancellationToken)
    {
        _ = Task.Run(Run, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task Run()
    {
        try
        {
            await Task.Delay(Delay, _stopping.Token);
            while (true)
            {
                try
                {
                    var (counted, items) = await Pass(_stopping.Token);
                    Ended(counted, items);
                }
                catch (Exception e) when (!_stopping.IsCancellationRequested)
                {
                    PassFailed(e);
                }

                if (Every <= TimeSpan.Zero)
                {
                    return;
                }

                await Task.Delay(Every, _stopping.Token);
            }
        }
        catch (Exception e) when (_stopping.IsCancellationRequested || e is ObjectDisposedException)
        {
            // the silo is stopping
        }
    }

    /// <summary>One pass over the items read now: how many counted, of how many.</summary>
    protected async Task<(int Counted, int Items)> Pass(CancellationToken cancellationToken)
    {
        var counted = 0;
        var items = Items();
        await Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (item, _) =>
        {
            try
            {
                if (await Visit(item))
                {
                    Interlocked.Increment(ref counted);
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                Failed(item, e); // (a timeout's cancellation too: only the silo's stop ends the pass)
            }
        });
        return (counted, items.Count);
    }
}
