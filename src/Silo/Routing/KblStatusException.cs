using Kbl.Records;

namespace Kbl.Silo.Routing;

/// <summary>A KBL answered a scan with something other than records (no colony, records unavailable).</summary>
public sealed class KblStatusException(KblStatus status, string message) : Exception(message)
{
    public KblStatus Status { get; } = status;
}
