using System.Net;
using System.Text.Json;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Queue;
using Kbl.Provisioning;
using Kbl.Tests.Process;
using Microsoft.Extensions.Time.Testing;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// The Provisioner's liveness endpoint reflects the reconciler's progress: a reconciler stuck in a provider call that never
/// returns is reported stalled once <see cref="ProvisioningOptions.StallTimeout"/> has passed (on a fake clock), so the
/// liveness probe restarts the pod; one that moves again is healthy again.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class ProvisionerHealthTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
    private readonly string _spool = Path.Combine(Path.GetTempPath(), "kbl-health-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly HangingProvider _provider = new();
    private readonly HttpClient _http = new();
    private readonly ProvisioningOptions _options = new() { HealthPort = SiloProcess.FreePort(), StallTimeout = TimeSpan.FromMinutes(10), ResyncInterval = TimeSpan.FromSeconds(1) };
    private ReconcilerProgress _progress = null!;
    private Reconciler _reconciler = null!;
    private HealthEndpoint _health = null!;

    public async Task InitializeAsync()
    {
        _progress = new ReconcilerProgress(_time);
        _reconciler = new Reconciler(new LocalSpoolQueue(_spool), _provider, new FixedClusterPlan(), _options, _time, new RecordingLogger<Reconciler>(), _progress);
        _health = new HealthEndpoint(_progress, _options, new RecordingLogger<HealthEndpoint>());
        await _health.StartAsync(CancellationToken.None);
        await _reconciler.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        _provider.Release();
        await _reconciler.StopAsync(CancellationToken.None);
        await _health.StopAsync(CancellationToken.None);
        _http.Dispose();
        Directory.Delete(_spool, recursive: true);
    }

    [Fact]
    public async Task A_hung_reconciler_fails_liveness_after_the_stall_timeout_and_passes_again_when_it_moves()
    {
        await Eventually.Until(() => Task.FromResult(_provider.Calls), calls => calls == 1, TimeSpan.FromSeconds(10), "the reconciler never called the provider");

        var (fresh, freshBody) = await Probe();
        _time.Advance(TimeSpan.FromMinutes(9));
        var (quiet, _) = await Probe();
        _time.Advance(TimeSpan.FromMinutes(2));
        var (stalled, stalledBody) = await Probe();
        _progress.Beat(); // what the reconciler's next turn (or a poll of a provider's wait) does
        var (moving, _) = await Probe();

        Assert.Equal(HttpStatusCode.OK, fresh);
        Assert.Equal("progressing", freshBody.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, quiet);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, stalled);
        Assert.Equal("stalled", stalledBody.GetProperty("status").GetString());
        Assert.Equal(660, stalledBody.GetProperty("silenceSeconds").GetDouble());
        Assert.Equal(HttpStatusCode.OK, moving);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(new Uri($"http://127.0.0.1:{_options.HealthPort}/readyz"))).StatusCode);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> Probe()
    {
        using var response = await _http.GetAsync(new Uri($"http://127.0.0.1:{_options.HealthPort}{HealthEndpoint.Path}"));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    /// <summary>A test double of a provider whose call never returns (until the test ends): a hung reconciler.</summary>
    private sealed class HangingProvider : INodeGroupProvider
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public string Name => "hanging";

        public int Calls => Volatile.Read(ref _calls);

        public void Release() => _release.TrySetResult();

        public async Task<ObservedState> Reconcile(DesiredState desired, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            await _release.Task.WaitAsync(cancellationToken);
            return new ObservedState(desired.Generation, DateTimeOffset.UnixEpoch, Name, [], null);
        }
    }

    /// <summary>A test double of the cluster: one desired state, reports dropped.</summary>
    private sealed class FixedClusterPlan : IClusterPlan
    {
        public Task<DesiredState?> Current(CancellationToken cancellationToken) =>
            Task.FromResult<DesiredState?>(new DesiredState(1, DateTimeOffset.UnixEpoch, [new NodeGroupSpec("g", 1, 1, 1, "m5.large", [], new Dictionary<string, string>(), [], [])]));

        public Task Report(ObservedState observed, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
