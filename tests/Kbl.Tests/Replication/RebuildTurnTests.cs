using Kbl.Replication;

namespace Kbl.Tests.Replication;

/// <summary>A silo streams a few rebuilds at a time; the others wait for a turn, first come first served.</summary>
[Trait("Category", Category.Unit)]
public sealed class RebuildTurnTests
{
    private readonly RebuildThrottle _throttle = new(1 << 20, maxStreams: 2, TimeProvider.System);

    [Fact]
    public async Task Rebuilds_beyond_the_limit_wait_and_get_their_turns_in_the_order_they_asked()
    {
        var first = await _throttle.Turn(CancellationToken.None);
        var second = await _throttle.Turn(CancellationToken.None);
        var third = _throttle.Turn(CancellationToken.None);
        var fourth = _throttle.Turn(CancellationToken.None);
        Assert.False(third.IsCompleted);
        Assert.Equal((2, 2), (_throttle.Streams, _throttle.Waiting));

        second.Dispose();
        var thirdTurn = await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(fourth.IsCompleted);

        second.Dispose(); // a turn ended twice passes on only once
        Assert.False(fourth.IsCompleted);
        Assert.Equal((2, 1), (_throttle.Streams, _throttle.Waiting));

        first.Dispose();
        (await fourth.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        thirdTurn.Dispose();
        Assert.Equal((0, 0), (_throttle.Streams, _throttle.Waiting));
    }

    [Fact]
    public async Task A_rebuild_that_stops_waiting_gives_its_place_to_the_next()
    {
        using var first = await _throttle.Turn(CancellationToken.None);
        var second = await _throttle.Turn(CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var stopped = _throttle.Turn(stop.Token);
        var next = _throttle.Turn(CancellationToken.None);

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stopped);
        Assert.Equal(1, _throttle.Waiting);

        second.Dispose();
        using var turn = await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((2, 0), (_throttle.Streams, _throttle.Waiting));
    }

    [Fact]
    public async Task An_urgent_rebuild_streams_at_once_and_the_waiting_ones_keep_their_places()
    {
        using var first = await _throttle.Turn(CancellationToken.None);
        var second = await _throttle.Turn(CancellationToken.None);
        var waiting = _throttle.Turn(CancellationToken.None);

        var urgent = _throttle.Turn(CancellationToken.None, urgent: true);

        Assert.True(urgent.IsCompletedSuccessfully);
        Assert.Equal((3, 1), (_throttle.Streams, _throttle.Waiting));
        (await urgent).Dispose();
        Assert.False(waiting.IsCompleted); // still two streaming: no turn free yet
        second.Dispose();
        using var turn = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Raising_the_limit_lets_waiting_rebuilds_stream_at_once()
    {
        using var first = await _throttle.Turn(CancellationToken.None);
        using var second = await _throttle.Turn(CancellationToken.None);
        var third = _throttle.Turn(CancellationToken.None);

        _throttle.MaxStreams = 3;

        using var turn = await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, _throttle.Streams);
    }
}
