namespace Kbl.Tests;

/// <summary>Polls a condition until it holds or a deadline passes: how tests wait, never with a fixed sleep.</summary>
public static class Eventually
{
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = await probe();
        while (!done(last))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} did not happen within {timeout}; last seen: {last}");
            }

            await Task.Delay(50);
            last = await probe();
        }

        return last;
    }
}
