namespace Kbl.Records;

/// <summary>How a KBL answered a request.</summary>
[GenerateSerializer, Alias("kbl.KblStatus")]
public enum KblStatus
{
    Ok = 0,

    /// <summary>The key has no record.</summary>
    NotFound = 1,

    /// <summary>An <c>If-Match</c> / <c>If-None-Match</c> condition did not hold.</summary>
    PreconditionFailed = 2,

    /// <summary>This KBL no longer owns the key: see <see cref="Moved"/> for the new shape.</summary>
    Moved = 3,

    /// <summary>The KBL cannot serve now (its records are on a silo that is down); nothing was changed.</summary>
    Unavailable = 4,

    /// <summary>The colony does not exist.</summary>
    NoColony = 5,

    /// <summary>
    /// A write whose outcome is not known: it was applied on the primary but lost its replicas or its epoch before
    /// it could be acknowledged; a newer primary may or may not keep it.
    /// </summary>
    OutcomeUnknown = 6,
}
