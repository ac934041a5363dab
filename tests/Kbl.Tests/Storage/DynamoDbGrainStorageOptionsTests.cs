using Kbl.Persistence.DynamoDb;
using Kbl.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Orleans.Storage;

namespace Kbl.Tests.Storage;

/// <summary>Bad DynamoDB settings stop the host with one line naming the configuration key.</summary>
[Trait("Category", Category.Unit)]
public sealed class DynamoDbGrainStorageOptionsTests
{
    [Theory]
    [InlineData("ServiceUrl", "127.0.0.1:8000")]
    [InlineData("ServiceUrl", "ftp://127.0.0.1:8000")]
    [InlineData("ServiceUrl", "not a url")]
    [InlineData("Region", "")]
    [InlineData("Region", "US-EAST-1")]
    [InlineData("Region", "useast1")]
    [InlineData("TableName", "")]
    [InlineData("TableName", "ab")]
    [InlineData("TableName", "kbl grain state")]
    public void Bad_value_is_rejected_with_its_configuration_key(string setting, string value)
    {
        var options = new DynamoDbGrainStorageOptions();
        typeof(DynamoDbGrainStorageOptions).GetProperty(setting)!.SetValue(options, value);

        var result = new DynamoDbGrainStorageOptionsValidator().Validate(KblStorage.Name, options);

        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures!);
        Assert.StartsWith($"Kbl:Storage:DynamoDb:{setting} must be", failure, StringComparison.Ordinal);
        Assert.Contains($"(got '{value}')", failure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure);
    }

    [Theory]
    [InlineData("", "us-east-1", "kbl-grain-state")]
    [InlineData("http://127.0.0.1:8000", "eu-central-1", "Kbl_State.v2")]
    [InlineData("https://dynamodb.us-gov-west-1.amazonaws.com", "us-gov-west-1", "abc")]
    public void Good_values_pass(string serviceUrl, string region, string tableName)
    {
        var options = new DynamoDbGrainStorageOptions { ServiceUrl = serviceUrl, Region = region, TableName = tableName };

        Assert.True(new DynamoDbGrainStorageOptionsValidator().Validate(KblStorage.Name, options).Succeeded);
    }

    [Fact]
    public void Defaults_name_the_aws_endpoint_of_us_east_1_and_an_existing_table()
    {
        var options = new DynamoDbGrainStorageOptions();

        Assert.Equal(string.Empty, options.ServiceUrl);
        Assert.Equal("us-east-1", options.Region);
        Assert.Equal("kbl-grain-state", options.TableName);
        Assert.False(options.CreateTable);
        Assert.True(new DynamoDbGrainStorageOptionsValidator().Validate(KblStorage.Name, options).Succeeded);
    }

    [Fact]
    public void A_registered_provider_with_a_bad_setting_fails_to_resolve_with_the_key()
    {
        using var services = new ServiceCollection()
            .AddLogging()
            .AddSerializer()
            .AddDynamoDbGrainStorage(KblStorage.Name, options => options.TableName = "x")
            .BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredKeyedService<IGrainStorage>(KblStorage.Name));

        Assert.Contains("Kbl:Storage:DynamoDb:TableName", error.Message, StringComparison.Ordinal);
    }
}
