namespace Kbl.Persistence.DynamoDb;

/// <summary>
/// Settings of <see cref="DynamoDbGrainStorage"/>, bound from configuration key <c>Kbl:Storage:DynamoDb</c>
/// and checked by <see cref="DynamoDbGrainStorageOptionsValidator"/> when the host starts.
/// </summary>
public sealed class DynamoDbGrainStorageOptions
{
    /// <summary>The largest payload, in bytes, kept in one item (DynamoDB's item limit is 400 KB, keys and attributes included).</summary>
    public const int MaxItemPayloadBytes = 384 * 1024;

    /// <summary>
    /// Endpoint of a DynamoDB-compatible service (<c>Kbl:Storage:DynamoDb:ServiceUrl</c>), e.g.
    /// <c>http://127.0.0.1:8000</c> for dynalite, moto or DynamoDB Local. Empty: the AWS endpoint of
    /// <see cref="Region"/>.
    /// </summary>
    public string ServiceUrl { get; set; } = string.Empty;

    /// <summary>AWS region (<c>Kbl:Storage:DynamoDb:Region</c>); with a <see cref="ServiceUrl"/> it is the signing region.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Table holding every grain state of this provider (<c>Kbl:Storage:DynamoDb:TableName</c>).</summary>
    public string TableName { get; set; } = "kbl-grain-state";

    /// <summary>
    /// Create the table (on-demand capacity) when it is missing (<c>Kbl:Storage:DynamoDb:CreateTable</c>).
    /// Off by default: in AWS the table belongs to the infrastructure code, and a missing one is an error.
    /// </summary>
    public bool CreateTable { get; set; }

    /// <summary>A payload up to this many bytes is kept in the state's own item; a larger one goes to chunk items.</summary>
    /// <remarks>Internal: tests lower it to force every state through the chunk path; not bound from configuration.</remarks>
    internal int InlinePayloadBytes { get; set; } = MaxItemPayloadBytes;

    /// <summary>Payload bytes per chunk item.</summary>
    /// <remarks>Internal: tests lower it to get many chunks from small states; not bound from configuration.</remarks>
    internal int ChunkBytes { get; set; } = MaxItemPayloadBytes;
}
