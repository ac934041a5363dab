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
}
