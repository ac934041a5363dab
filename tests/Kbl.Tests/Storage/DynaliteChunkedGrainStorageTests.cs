using Kbl.Persistence.DynamoDb;

namespace Kbl.Tests.Storage;

/// <summary>
/// <see cref="DynamoDbGrainStorage"/> on dynalite with every state in chunk items of 1,000 bytes, so the
/// whole conformance suite (concurrent writers, clears, random sequences) runs through the chunk path:
/// readers racing the deletion of superseded chunks, losers cleaning up, multi-chunk reassembly.
/// </summary>
[Trait("Category", Category.AwsLocal)]
public sealed class DynaliteChunkedGrainStorageTests(DynaliteFixture fixture)
    : DynamoDbGrainStorageConformance<DynaliteFixture>(fixture), IClassFixture<DynaliteFixture>
{
    protected override void Configure(DynamoDbGrainStorageOptions options)
    {
        options.InlinePayloadBytes = 0;
        options.ChunkBytes = 1_000;
    }
}
