using Kbl.Silo.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace Kbl.Tests.Deployment;

/// <summary>The endpoints the silo really maps (built as <c>Program</c> builds it, not started), with their metadata.</summary>
public static class SiloEndpoints
{
    private static readonly Lazy<IReadOnlyList<RouteEndpoint>> All = new(Load);

    /// <summary>Every route pattern the silo maps (<c>/healthz</c>, <c>/v1/colonies/{colony}</c>, gRPC methods).</summary>
    public static IReadOnlySet<string> Routes() => All.Value.Select(e => e.RoutePattern.RawText!).ToHashSet(StringComparer.Ordinal);

    /// <summary>The routes served without a bearer token (mapped with <c>AllowAnonymous()</c>): probes must call only these, since the kubelet sends no token.</summary>
    public static IReadOnlySet<string> RoutesWithoutToken() =>
        All.Value.Where(e => e.Metadata.GetMetadata<IAllowAnonymous>() is not null).Select(e => e.RoutePattern.RawText!).ToHashSet(StringComparer.Ordinal);

    private static IReadOnlyList<RouteEndpoint> Load()
    {
        var data = Path.Combine(Path.GetTempPath(), "kbl-endpoints-" + Guid.NewGuid().ToString("N")[..8]);
        var (app, _) = KblSiloApp.Build([
            $"--Kbl:DataPath={data}",
            $"--Kbl:Storage:Sqlite:Path={Path.Combine(data, "meta.db")}",
            "--Kbl:Provisioning:Provider=off",
        ]);
        try
        {
            return [.. ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()];
        }
        finally
        {
            ((IDisposable)app).Dispose();
        }
    }
}
