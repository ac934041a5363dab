using CsCheck;
using Orleans.Storage;

namespace Kbl.Tests.Storage;

/// <summary>
/// What every KBL grain storage provider must do, whatever it stores into. A subclass supplies two
/// independent provider instances over one backing store, as two silo processes would hold them.
/// </summary>
/// <remarks>
/// Every test uses fresh grain ids, so the backing store may be shared between tests and runs.
/// ETags are treated as opaque strings; the suite asserts only what Orleans relies on.
/// </remarks>
public abstract class GrainStorageConformance
{
    private const string StateName = "conformance";

    /// <summary>A provider instance over the backing store under test (may be the same instance on every call).</summary>
    protected abstract IGrainStorage CreateStorage();

    /// <summary>
    /// A second, independent provider instance over the same backing store (another silo process):
    /// it must not share in-memory state with <see cref="CreateStorage"/>'s instance.
    /// </summary>
    protected abstract IGrainStorage CreateSecondStorage();

    [Fact]
    public async Task Read_of_missing_grain_reports_no_record_and_resets_state()
    {
        var storage = CreateStorage();
        var handle = new GrainState<ConformanceState>(ConformanceState.Sample(99, "left over"), "7") { RecordExists = true };

        await storage.ReadStateAsync(StateName, NewGrainId(), handle);

        Assert.False(handle.RecordExists);
        Assert.Null(handle.ETag);
        Assert.NotNull(handle.State);
        Assert.Equal(0, handle.State.Counter);
        Assert.Equal(string.Empty, handle.State.Text);
        Assert.Empty(handle.State.Items);
    }

    [Fact]
    public async Task Insert_then_read_round_trips_state_and_etag()
    {
        var (first, second) = (CreateStorage(), CreateSecondStorage());
        var grainId = NewGrainId();
        var written = new GrainState<ConformanceState>(ConformanceState.Sample(42, "hello, κβλ"));

        await first.WriteStateAsync(StateName, grainId, written);

        Assert.NotNull(written.ETag);
        Assert.True(written.RecordExists);
        var read = await ReadAsync(second, StateName, grainId);
        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        AssertSameState(written.State, read.State);
    }

    [Fact]
    public async Task Update_with_current_etag_succeeds_and_changes_etag()
    {
        var storage = CreateStorage();
        var grainId = NewGrainId();
        var handle = new GrainState<ConformanceState>(ConformanceState.Sample(1, "one"));
        await storage.WriteStateAsync(StateName, grainId, handle);
        var firstEtag = handle.ETag;

        handle.State = ConformanceState.Sample(2, "two");
        await storage.WriteStateAsync(StateName, grainId, handle);

        Assert.NotNull(handle.ETag);
        Assert.NotEqual(firstEtag, handle.ETag);
        var read = await ReadAsync(CreateSecondStorage(), StateName, grainId);
        Assert.Equal(handle.ETag, read.ETag);
        AssertSameState(handle.State, read.State);
    }

    [Fact]
    public async Task Update_with_stale_etag_throws_and_changes_nothing()
    {
        var (first, second) = (CreateStorage(), CreateSecondStorage());
        var grainId = NewGrainId();
        var winner = new GrainState<ConformanceState>(ConformanceState.Sample(1, "one"));
        await first.WriteStateAsync(StateName, grainId, winner);
        var stale = await ReadAsync(second, StateName, grainId);
        winner.State = ConformanceState.Sample(2, "two");
        await first.WriteStateAsync(StateName, grainId, winner);
        var staleEtag = stale.ETag;

        stale.State = ConformanceState.Sample(3, "lost");
        await Assert.ThrowsAsync<InconsistentStateException>(() => second.WriteStateAsync(StateName, grainId, stale));

        Assert.Equal(staleEtag, stale.ETag);
        var read = await ReadAsync(first, StateName, grainId);
        Assert.Equal(winner.ETag, read.ETag);
        AssertSameState(winner.State, read.State);
    }

    [Fact]
    public async Task Insert_when_record_exists_throws_and_changes_nothing()
    {
        var (first, second) = (CreateStorage(), CreateSecondStorage());
        var grainId = NewGrainId();
        var existing = new GrainState<ConformanceState>(ConformanceState.Sample(5, "first"));
        await first.WriteStateAsync(StateName, grainId, existing);

        var blind = new GrainState<ConformanceState>(ConformanceState.Sample(6, "blind insert"));
        await Assert.ThrowsAsync<InconsistentStateException>(() => second.WriteStateAsync(StateName, grainId, blind));

        Assert.Null(blind.ETag);
        var read = await ReadAsync(first, StateName, grainId);
        Assert.Equal(existing.ETag, read.ETag);
        AssertSameState(existing.State, read.State);
    }

    [Fact]
    public async Task Clear_removes_the_record_and_resets_the_handle()
    {
        var (first, second) = (CreateStorage(), CreateSecondStorage());
        var grainId = NewGrainId();
        var handle = new GrainState<ConformanceState>(ConformanceState.Sample(8, "doomed"));
        await first.WriteStateAsync(StateName, grainId, handle);

        await first.ClearStateAsync(StateName, grainId, handle);

        Assert.False(handle.RecordExists);
        Assert.Null(handle.ETag);
        Assert.NotNull(handle.State);
        Assert.Equal(0, handle.State.Counter);
        Assert.Empty(handle.State.Items);
        var read = await ReadAsync(second, StateName, grainId);
        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);
    }

    [Fact]
    public async Task Clear_of_a_grain_never_written_succeeds()
    {
        var storage = CreateStorage();
        var grainId = NewGrainId();
        var handle = await ReadAsync(storage, StateName, grainId);

        await storage.ClearStateAsync(StateName, grainId, handle);

        Assert.False(handle.RecordExists);
        Assert.Null(handle.ETag);
        Assert.False((await ReadAsync(CreateSecondStorage(), StateName, grainId)).RecordExists);
    }

    [Fact]
    public async Task Clear_with_stale_etag_throws_and_keeps_the_record()
    {
        var (first, second) = (CreateStorage(), CreateSecondStorage());
        var grainId = NewGrainId();
        var winner = new GrainState<ConformanceState>(ConformanceState.Sample(1, "one"));
        await first.WriteStateAsync(StateName, grainId, winner);
        var stale = await ReadAsync(second, StateName, grainId);
        winner.State = ConformanceState.Sample(2, "two");
        await first.WriteStateAsync(StateName, grainId, winner);

        await Assert.ThrowsAsync<InconsistentStateException>(() => second.ClearStateAsync(StateName, grainId, stale));

        var read = await ReadAsync(first, StateName, grainId);
        Assert.True(read.RecordExists);
        Assert.Equal(winner.ETag, read.ETag);
        AssertSameState(winner.State, read.State);
    }

    [Fact]
    public async Task Clear_without_etag_of_an_existing_record_throws_and_keeps_it()
    {
        var (first, second) = (CreateStorage(), CreateSecondStorage());
        var grainId = NewGrainId();
        var existing = new GrainState<ConformanceState>(ConformanceState.Sample(4, "kept"));
        await first.WriteStateAsync(StateName, grainId, existing);

        var unaware = new GrainState<ConformanceState>(new ConformanceState());
        await Assert.ThrowsAsync<InconsistentStateException>(() => second.ClearStateAsync(StateName, grainId, unaware));

        var read = await ReadAsync(first, StateName, grainId);
        Assert.Equal(existing.ETag, read.ETag);
        AssertSameState(existing.State, read.State);
    }

    [Fact]
    public async Task Write_after_clear_creates_the_record_again()
    {
        var storage = CreateStorage();
        var grainId = NewGrainId();
        var handle = new GrainState<ConformanceState>(ConformanceState.Sample(1, "first life"));
        await storage.WriteStateAsync(StateName, grainId, handle);
        await storage.ClearStateAsync(StateName, grainId, handle);

        handle.State = ConformanceState.Sample(2, "second life");
        await storage.WriteStateAsync(StateName, grainId, handle);

        var read = await ReadAsync(CreateSecondStorage(), StateName, grainId);
        Assert.True(read.RecordExists);
        Assert.Equal(handle.ETag, read.ETag);
        AssertSameState(handle.State, read.State);
    }

    [Fact]
    public async Task Etag_from_before_a_clear_cannot_overwrite_the_recreated_record()
    {
        // ABA: a version must not be issued again after a clear, or a stale writer would win.
        var (first, second) = (CreateStorage(), CreateSecondStorage());
        var grainId = NewGrainId();
        var owner = new GrainState<ConformanceState>(ConformanceState.Sample(1, "before clear"));
        await first.WriteStateAsync(StateName, grainId, owner);
        var stale = await ReadAsync(second, StateName, grainId);
        await first.ClearStateAsync(StateName, grainId, owner);
        owner.State = ConformanceState.Sample(2, "after clear");
        await first.WriteStateAsync(StateName, grainId, owner);

        stale.State = ConformanceState.Sample(3, "stale");
        await Assert.ThrowsAsync<InconsistentStateException>(() => second.WriteStateAsync(StateName, grainId, stale));

        var read = await ReadAsync(first, StateName, grainId);
        Assert.Equal(owner.ETag, read.ETag);
        AssertSameState(owner.State, read.State);
    }

    [Fact]
    public async Task Grain_ids_and_state_names_are_independent()
    {
        var storage = CreateStorage();
        var (grainA, grainB) = (NewGrainId(), NewGrainId());
        const string OtherStateName = "conformance-other";
        var a = new GrainState<ConformanceState>(ConformanceState.Sample(1, "a"));
        await storage.WriteStateAsync(StateName, grainA, a);

        Assert.False((await ReadAsync(storage, StateName, grainB)).RecordExists);
        Assert.False((await ReadAsync(storage, OtherStateName, grainA)).RecordExists);

        // Inserting under the other keys must not collide with the first record.
        var sameGrainOtherName = new GrainState<ConformanceState>(ConformanceState.Sample(2, "other name"));
        await storage.WriteStateAsync(OtherStateName, grainA, sameGrainOtherName);
        var otherGrainSameName = new GrainState<ConformanceState>(ConformanceState.Sample(3, "other grain"));
        await storage.WriteStateAsync(StateName, grainB, otherGrainSameName);

        await storage.ClearStateAsync(StateName, grainA, a);

        Assert.False((await ReadAsync(storage, StateName, grainA)).RecordExists);
        AssertSameState(sameGrainOtherName.State, (await ReadAsync(storage, OtherStateName, grainA)).State);
        AssertSameState(otherGrainSameName.State, (await ReadAsync(storage, StateName, grainB)).State);
    }

    [Fact]
    public async Task Concurrent_read_modify_write_through_two_instances_loses_no_update()
    {
        const int Writers = 8;
        const int IncrementsPerWriter = 25;
        const int MaxAttemptsPerWriter = 20_000; // fails the test instead of spinning if writes never succeed
        IGrainStorage[] storages = [CreateStorage(), CreateSecondStorage()];
        var grainId = NewGrainId();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var writers = Enumerable.Range(0, Writers).Select(writer => Task.Run(async () =>
        {
            await start.Task;
            var storage = storages[writer % storages.Length];
            var attempts = 0;
            for (var done = 0; done < IncrementsPerWriter;)
            {
                Assert.True(++attempts <= MaxAttemptsPerWriter, $"writer {writer} gave up after {attempts - 1} attempts");
                var handle = await ReadAsync(storage, StateName, grainId);
                Assert.NotNull(handle.State);
                handle.State.Counter++;
                handle.State.Items.Add($"{writer}:{done}");
                try
                {
                    await storage.WriteStateAsync(StateName, grainId, handle);
                    done++;
                }
                catch (InconsistentStateException)
                {
                    // Someone else won this round: read again and retry.
                }
            }
        })).ToArray();
        start.SetResult();
        await Task.WhenAll(writers);

        var final = await ReadAsync(storages[0], StateName, grainId);
        Assert.NotNull(final.State);
        Assert.Equal(Writers * IncrementsPerWriter, final.State.Counter);
        Assert.Equal(Writers * IncrementsPerWriter, final.State.Items.Distinct().Count());
    }

    [Fact]
    public async Task Large_state_round_trips()
    {
        var (first, second) = (CreateStorage(), CreateSecondStorage());
        var grainId = NewGrainId();
        var random = new Random(20261125);
        var text = new string(Enumerable.Range(0, 1 << 20).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray());
        var state = new ConformanceState
        {
            Counter = 1,
            Text = text,
            Items = Enumerable.Range(0, 10_000).Select(i => $"item-{i}-{random.Next()}").ToList(),
        };
        var handle = new GrainState<ConformanceState>(state);
        await first.WriteStateAsync(StateName, grainId, handle);
        AssertSameState(state, (await ReadAsync(second, StateName, grainId)).State);

        state.Text = string.Concat(text.AsSpan(1), "!");
        state.Counter = 2;
        await first.WriteStateAsync(StateName, grainId, handle);

        var read = await ReadAsync(second, StateName, grainId);
        Assert.Equal(handle.ETag, read.ETag);
        AssertSameState(handle.State, read.State);
    }

    [Fact]
    public async Task Cancelled_write_leaves_handle_and_store_in_agreement()
    {
        var storage = CreateStorage();
        var grainId = NewGrainId();
        var handle = new GrainState<ConformanceState>(ConformanceState.Sample(1, "one"));
        await storage.WriteStateAsync(StateName, grainId, handle);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        handle.State = ConformanceState.Sample(2, "two");
        try
        {
            await storage.WriteStateAsync(StateName, grainId, handle, cancelled.Token);
        }
        catch (OperationCanceledException)
        {
            // Allowed: then the write must not have happened.
        }

        // Written or not, the handle's ETag must be the stored one, so the grain can go on writing.
        Assert.Equal(handle.ETag, (await ReadAsync(CreateSecondStorage(), StateName, grainId)).ETag);
        handle.State = ConformanceState.Sample(3, "three");
        await storage.WriteStateAsync(StateName, grainId, handle);
        AssertSameState(handle.State, (await ReadAsync(CreateSecondStorage(), StateName, grainId)).State);
    }

    [Fact]
    public async Task Random_operation_sequences_through_two_instances_match_a_model()
    {
        // Each op: (which instance/handle 0..1, kind 0 read, 1 write, 2 clear). The model says whether
        // the op must succeed: only a handle holding the newest version may write or clear.
        var operations = Gen.Select(Gen.Int[0, 1], Gen.Int[0, 2]).Array[1, 24];
        await operations.SampleAsync(async ops =>
        {
            IGrainStorage[] storages = [CreateStorage(), CreateSecondStorage()];
            var grainId = NewGrainId();
            GrainState<ConformanceState>[] handles = [new(new ConformanceState()), new(new ConformanceState())];
            var handleVersion = new int[2]; // model version each handle last saw; 0 = no record
            var (version, nextVersion, value) = (0, 1, (ConformanceState?)null);

            foreach (var (who, kind) in ops)
            {
                var handle = handles[who];
                var storage = storages[who];
                var mayChange = handleVersion[who] == version;
                switch (kind)
                {
                    case 0:
                        await storage.ReadStateAsync(StateName, grainId, handle);
                        handleVersion[who] = version;
                        Assert.Equal(version != 0, handle.RecordExists);
                        AssertSameState(value ?? new ConformanceState(), handle.State);
                        break;
                    case 1:
                        var next = ConformanceState.Sample(nextVersion, $"v{nextVersion}");
                        handle.State = next;
                        if (mayChange)
                        {
                            await storage.WriteStateAsync(StateName, grainId, handle);
                            version = nextVersion++;
                            value = next;
                            handleVersion[who] = version;
                        }
                        else
                        {
                            await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, grainId, handle));
                        }

                        break;
                    default:
                        if (mayChange)
                        {
                            await storage.ClearStateAsync(StateName, grainId, handle);
                            version = 0;
                            value = null;
                            handleVersion[who] = 0;
                        }
                        else
                        {
                            await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, grainId, handle));
                        }

                        break;
                }

                var truth = await ReadAsync(storages[1 - who], StateName, grainId);
                Assert.Equal(version != 0, truth.RecordExists);
                AssertSameState(value ?? new ConformanceState(), truth.State);
            }
        }, iter: 60, threads: 1);
    }

    /// <summary>A grain id no other test or run uses.</summary>
    protected static GrainId NewGrainId() => GrainId.Create("kbl-conformance", Guid.NewGuid().ToString("N"));

    /// <summary>Reads into a fresh handle, as a newly activated grain would.</summary>
    private protected static async Task<GrainState<ConformanceState>> ReadAsync(IGrainStorage storage, string stateName, GrainId grainId)
    {
        var handle = new GrainState<ConformanceState>(new ConformanceState());
        await storage.ReadStateAsync(stateName, grainId, handle);
        return handle;
    }

    private static void AssertSameState(ConformanceState? expected, ConformanceState? actual)
    {
        Assert.NotNull(expected);
        Assert.NotNull(actual);
        Assert.Equal(expected.Counter, actual.Counter);
        Assert.Equal(expected.Text, actual.Text);
        Assert.Equal(expected.Items, actual.Items);
    }
}

/// <summary>State persisted by the conformance tests.</summary>
[GenerateSerializer]
[Alias("Kbl.Tests.Storage.ConformanceState")]
internal sealed class ConformanceState
{
    [Id(0)] public int Counter { get; set; }

    [Id(1)] public string Text { get; set; } = string.Empty;

    [Id(2)] public List<string> Items { get; set; } = [];

    public static ConformanceState Sample(int counter, string text) =>
        new() { Counter = counter, Text = text, Items = [$"{text}-a", $"{text}-b", string.Empty] };
}
