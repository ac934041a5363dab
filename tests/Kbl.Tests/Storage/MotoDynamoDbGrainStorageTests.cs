using Kbl.Persistence.DynamoDb;

namespace Kbl.Tests.Storage;

/// <summary><see cref="DynamoDbGrainStorage"/> on moto's DynamoDB, in a fresh table.</summary>
[Trait("Category", Category.AwsLocal)]
public sealed class MotoDynamoDbGrainStorageTests(MotoFixture fixture)
    : DynamoDbGrainStorageConformance<MotoFixture>(fixture), IClassFixture<MotoFixture>;
