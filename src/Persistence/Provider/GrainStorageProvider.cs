using System.Globalization;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Kbl.Persistence;

/// <summary>
/// What Kbl's grain storage providers share: the three <see cref="IGrainStorage"/> operations around a provider's
/// core, a start-up step (schema, table) run once while the silo starts and awaited by every operation, the
/// cancellation rule, failure logging and ETag conflicts.
/// </summary>
/// <remarks>
/// <para>Cancellation: a read honours its token throughout (the provider's core receives it); a write or clear
/// honours it until its core starts, and a started write runs to completion, so the grain's ETag never disagrees
/// with the store.</para>
/// <para>Failures: whatever a core throws is logged as an error naming the provider, the state and the grain, then
/// rethrown; except a cancelled read, and an ETag conflict, which <see cref="Conflict"/> logs as a warning.</para>
/// </remarks>
public abstract class GrainStorageProvider : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private readonly IActivatorProvider _activators;
    private readonly GrainStorageEvents _events;
    private readonly Lock _initializeGate = new();
    private Task? _initialized;

    protected GrainStorageProvider(
        string name,
        IGrainStorageSerializer serializer,
        IActivatorProvider activators,
        TimeProvider timeProvider,
        ILogger logger,
        GrainStorageEvents events)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentNullException.ThrowIfNull(activators);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(events);

        Name = name;
        Serializer = serializer;
        TimeProvider = timeProvider;
        Logger = logger;
        _activators = activators;
        _events = events;
    }

    /// <summary>The provider's name (the one grains give in <c>[PersistentState(state, name)]</c>).</summary>
    public string Name { get; }

    /// <summary>Turns states into bytes and back (registered keyed by <see cref="Name"/>).</summary>
    protected IGrainStorageSerializer Serializer { get; }

    protected TimeProvider TimeProvider { get; }

    protected ILogger Logger { get; }

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        // Start while the silo starts, so a bad path or a missing table stops the silo instead of the first grain call.
        lifecycle.Subscribe(
            $"{GetType().Name}-{Name}",
            ServiceLifecycleStage.ApplicationServices,
            _ => EnsureInitializedAsync(),
            _ => Task.CompletedTask);
    }

    /// <summary>
    /// Runs the provider's start-up step (<see cref="InitializeAsync"/>) on the thread pool. Safe to call
    /// concurrently; runs once per instance unless it fails, and then again on the next call.
    /// </summary>
    public Task EnsureInitializedAsync()
    {
        lock (_initializeGate)
        {
            if (_initialized is null || _initialized.IsFaulted || _initialized.IsCanceled)
            {
                _initialized = Task.Run(InitializeAsync);
            }

            return _initialized;
        }
    }

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        await EnsureInitializedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var grainKey = grainId.ToString();
        try
        {
            await ReadCoreAsync(stateName, grainKey, grainState, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _events.ReadFailed(Logger, Name, stateName, grainKey, ex);
            throw;
        }
    }

    /// <inheritdoc />
    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        ChangeStateAsync(stateName, grainId, grainState, WriteCoreAsync, _events.WriteFailed, cancellationToken);

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        ChangeStateAsync(stateName, grainId, grainState, ClearCoreAsync, _events.ClearFailed, cancellationToken);

    /// <summary>The start-up step: create or check what the provider stores into. Logs its own failure.</summary>
    protected abstract Task InitializeAsync();

    /// <summary>
    /// Reads the state into <paramref name="grainState"/>: state, ETag and <c>RecordExists</c>
    /// (<see cref="SetAbsent"/> when there is none).
    /// </summary>
    protected abstract Task ReadCoreAsync<T>(string stateName, string grainKey, IGrainState<T> grainState, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the state if the stored ETag is the handle's (none stored for a null ETag), then sets the new ETag
    /// and <c>RecordExists</c>; else throws <see cref="Conflict"/>. Not cancellable once started.
    /// </summary>
    protected abstract Task WriteCoreAsync<T>(string stateName, string grainKey, IGrainState<T> grainState);

    /// <summary>
    /// Removes the state if the stored ETag is the handle's, then <see cref="SetAbsent"/>; else throws
    /// <see cref="Conflict"/>. Not cancellable once started.
    /// </summary>
    protected abstract Task ClearCoreAsync<T>(string stateName, string grainKey, IGrainState<T> grainState);

    /// <summary>Logs an ETag conflict and returns the exception that reports it, with both ETags.</summary>
    protected InconsistentStateException Conflict(string operation, string stateName, string grainKey, string? storedEtag, string? currentEtag)
    {
        _events.EtagConflict(Logger, Name, operation, stateName, grainKey, storedEtag ?? "none", currentEtag ?? "none", null);
        return new InconsistentStateException(
            $"{_events.Kind} grain storage '{Name}': {operation} of state '{stateName}' for grain {grainKey} rejected: "
                + $"stored ETag {storedEtag ?? "none"}, current ETag {currentEtag ?? "none"}.",
            storedEtag!,
            currentEtag!);
    }

    /// <summary>Resets the handle to "no record": a fresh default state, no ETag.</summary>
    protected void SetAbsent<T>(IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        grainState.State = _activators.GetActivator<T>().Create();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    /// <summary>The moment of a write, as stored beside the state (ISO 8601, UTC).</summary>
    protected string Timestamp() => TimeProvider.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    /// <summary>A write or a clear: cancellable until <paramref name="core"/> starts, which then runs to completion.</summary>
    private async Task ChangeStateAsync<T>(
        string stateName,
        GrainId grainId,
        IGrainState<T> grainState,
        Func<string, string, IGrainState<T>, Task> core,
        Action<ILogger, string, string, string, Exception?> logFailure,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        await EnsureInitializedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        var grainKey = grainId.ToString();
        try
        {
            await core(stateName, grainKey, grainState).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not InconsistentStateException)
        {
            logFailure(Logger, Name, stateName, grainKey, ex);
            throw;
        }
    }
}
