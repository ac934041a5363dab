namespace Kbl.Silo.Hosting;

/// <summary>Section <c>Kbl:Telemetry</c>: OpenTelemetry export.</summary>
public sealed class KblTelemetryOptions
{
    public const string Section = "Kbl:Telemetry";

    /// <summary>An OTLP endpoint (<c>http://collector:4317</c>); empty: no OTLP export.</summary>
    public string OtlpEndpoint { get; set; } = "";

    /// <summary>Serve Prometheus metrics at <c>/metrics</c>.</summary>
    public bool Prometheus { get; set; } = true;
}
