using System.Reflection;

namespace Kbl.Tests;

/// <summary>Every test class says what it needs, so <c>--filter Category=…</c> selects every test of a kind and misses none.</summary>
[Trait("Category", Category.Unit)]
public sealed class CategoryTests
{
    [Fact]
    public void Every_test_class_has_exactly_one_known_category()
    {
        var testClasses = typeof(CategoryTests).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && t.GetMethods().Any(m => m.GetCustomAttribute<FactAttribute>() is not null))
            .ToList();
        Assert.True(testClasses.Count > 30, $"only {testClasses.Count} test classes found");
        foreach (var type in testClasses)
        {
            var categories = type.GetCustomAttributesData()
                .Where(a => a.AttributeType == typeof(TraitAttribute) && (string?)a.ConstructorArguments[0].Value == "Category")
                .Select(a => (string?)a.ConstructorArguments[1].Value)
                .ToList();
            Assert.True(categories.Count == 1, $"{type.Name} has {categories.Count} Category traits");
            Assert.Contains(categories[0]!, Category.All);
        }
    }
}
