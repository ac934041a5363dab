using Kbl.Placement;

namespace Kbl.Silo.Gateway;

/// <summary><c>/healthz</c>: the process serves. <c>/readyz</c>: the silo has joined its cluster and answers grain calls.</summary>
public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapKblHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", (SiloIdentity silo) => Results.Ok(new { status = "ok", silo = silo.Name })).AllowAnonymous();
        app.MapGet("/readyz", async (SiloIdentity silo, ColonyGateway gateway, IHostApplicationLifetime lifetime) =>
        {
            if (!lifetime.ApplicationStarted.IsCancellationRequested || lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return Results.Json(new { status = "starting", silo = silo.Name }, statusCode: 503);
            }

            try
            {
                await gateway.ListColonies().WaitAsync(TimeSpan.FromSeconds(5));
                return Results.Ok(new { status = "ready", silo = silo.Name });
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                return Results.Json(new { status = "not ready", silo = silo.Name, error = e.Message }, statusCode: 503);
            }
        }).AllowAnonymous();
        return app;
    }
}
