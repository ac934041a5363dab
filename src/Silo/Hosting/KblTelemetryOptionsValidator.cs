using Microsoft.Extensions.Options;

namespace Kbl.Silo.Hosting;

public sealed class KblTelemetryOptionsValidator : IValidateOptions<KblTelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, KblTelemetryOptions o) =>
        o.OtlpEndpoint.Length > 0 && !Uri.TryCreate(o.OtlpEndpoint, UriKind.Absolute, out _)
            ? ValidateOptionsResult.Fail($"Kbl:Telemetry:OtlpEndpoint '{o.OtlpEndpoint}' must be an absolute URL (http://collector:4317)")
            : ValidateOptionsResult.Success;
}
