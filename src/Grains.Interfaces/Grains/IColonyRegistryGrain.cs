namespace Kbl.Grains;

/// <summary>The names of the colonies that exist (one registry per cluster, key <c>colonies</c>).</summary>
[Alias("kbl.IColonyRegistryGrain")]
public interface IColonyRegistryGrain : IGrainWithStringKey
{
    [Alias("Register")]
    Task Register(string colony);

    [Alias("List")]
    Task<IReadOnlyList<string>> List();
}
