namespace Kbl.Tests.Provisioning;

/// <summary>
/// One sequence for the calls the test servers see (the Kubernetes API double and the AWS fault proxy), so a test can
/// check the order of calls that go to different servers (a node cordoned, its silo drained, then its instance terminated).
/// </summary>
public static class CallOrder
{
    private static long _last;

    public static long Next() => Interlocked.Increment(ref _last);
}
