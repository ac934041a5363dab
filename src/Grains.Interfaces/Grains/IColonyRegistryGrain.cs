namespace Kbl.Grains;

/// <summary>
/// The names of the colonies that exist (one registry per cluster, key <c>colonies</c>), those being deleted among
/// them, and the cap on their number (<c>Kbl:MaxColonies</c>). Only colony roots change it; it never waits on a KBL.
/// </summary>
[Alias("kbl.IColonyRegistryGrain")]
public interface IColonyRegistryGrain : IGrainWithStringKey
{
    /// <summary>Adds a colony (idempotent); throws <see cref="ColonyConflictException"/> when the cluster holds as many as the cap allows.</summary>
    [Alias("Register")]
    Task Register(string colony);

    /// <summary>The colony is being deleted: it is listed as such, still counts against the cap, and its root is woken until the delete finishes.</summary>
    [Alias("MarkDeleting")]
    Task MarkDeleting(string colony);

    /// <summary>Removes a colony whose delete has finished (idempotent).</summary>
    [Alias("Unregister")]
    Task Unregister(string colony);

    /// <summary>The colonies that exist and are not being deleted.</summary>
    [Alias("List")]
    Task<IReadOnlyList<string>> List();

    /// <summary>The colonies whose delete has started and not finished.</summary>
    [Alias("ListDeleting")]
    Task<IReadOnlyList<string>> ListDeleting();
}
