using Kbl.Persistence.DynamoDb;

namespace Kbl.Tests.Storage;

/// <summary><see cref="DynamoDbGrainStorage"/> on dynalite, in a fresh table.</summary>
[Trait("Category", Category.AwsLocal)]
public sealed class DynaliteGrainStorageTests(DynaliteFixture fixture)
    : DynamoDbGrainStorageConformance<DynaliteFixture>(fixture), IClassFixture<DynaliteFixture>;
