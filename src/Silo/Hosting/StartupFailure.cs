using Kbl.Configuration;
using StackExchange.Redis;

namespace Kbl.Silo.Hosting;

/// <summary>Turns a failed start into the one line that names what was missing, when it was a dependency.</summary>
public static class StartupFailure
{
    /// <summary>
    /// The line for a start that failed on a missing dependency (a <see cref="KblDependencyException"/>, or Orleans'
    /// Redis membership that could not connect after <see cref="DependencyCheck"/> reached it), or null for any other failure.
    /// </summary>
    public static string? MissingDependency(Exception failure, KblSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (KblDependencyException.Find(failure) is { } missing)
        {
            return missing.Message;
        }

        return KblDependencyException.Chain(failure).OfType<RedisException>().FirstOrDefault() is { } redis
            ? DependencyCheck.RedisUnreachable(settings.Cluster, redis)
            : null;
    }
}
