using Kbl.Placement;

namespace Kbl.Tests.Placement;

/// <summary>A silo's background pass (the resumer's, the stray-copy sweep's): once after its start, or again and again.</summary>
[Trait("Category", Category.Unit)]
public sealed class SiloStartPassTests
{
    [Fact]
    public async Task A_pass_with_a_period_runs_again_and_again()
    {
        using var pass = new CountingPass(TimeSpan.FromMilliseconds(20));
        var lifecycle = new Lifecycle();
        pass.Participate(lifecycle);

        await lifecycle.Start();
        await Eventually.Until(() => Task.FromResult(pass.Passes), n => n >= 3, TimeSpan.FromSeconds(30), "three passes");
        await lifecycle.Stop();

        Assert.True(pass.Visits >= 3, $"{pass.Visits} visits in {pass.Passes} passes"); // each pass read its items again
    }

    [Fact]
    public async Task A_pass_without_a_period_runs_once()
    {
        using var pass = new CountingPass(TimeSpan.Zero);
        var lifecycle = new Lifecycle();
        pass.Participate(lifecycle);

        await lifecycle.Start();
        await Eventually.Until(() => Task.FromResult(pass.Passes), n => n >= 1, TimeSpan.FromSeconds(30), "a pass");
        var again = pass.Passes;
        await lifecycle.Stop();

        Assert.Equal(1, again);
    }

    /// <summary>A pass over one item that counts its passes and visits.</summary>
    private sealed class CountingPass(TimeSpan every) : SiloStartPass<int>
    {
        private int _passes;
        private int _visits;

        public int Passes => Volatile.Read(ref _passes);

        public int Visits => Volatile.Read(ref _visits);

        protected override TimeSpan Every => every;

        protected override IReadOnlyList<int> Items() => [1];

        protected override Task<bool> Visit(int item)
        {
            Interlocked.Increment(ref _visits);
            return Task.FromResult(true);
        }

        protected override void Failed(int item, Exception error) => throw new InvalidOperationException("no visit fails here", error);

        protected override void Ended(int counted, int items) => Interlocked.Increment(ref _passes);

        protected override void PassFailed(Exception error) => throw new InvalidOperationException("no pass fails here", error);
    }

    /// <summary>A test double of the silo's lifecycle: starts and stops the one observer that subscribes.</summary>
    private sealed class Lifecycle : ISiloLifecycle
    {
        private ILifecycleObserver? _observer;

        public int HighestCompletedStage => 0;

        public int LowestStoppedStage => 0;

        public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer)
        {
            _observer = observer;
            return new CancellationTokenSource();
        }

        public Task Start() => _observer!.OnStart(CancellationToken.None);

        public Task Stop() => _observer!.OnStop(CancellationToken.None);
    }
}
