namespace Kbl.Grains;

/// <summary>
/// A colony cannot be created now: the cluster holds as many colonies as <c>Kbl:MaxColonies</c> allows, or one of
/// that name is still being deleted. The gateway answers 409 with the message.
/// </summary>
[GenerateSerializer, Alias("kbl.ColonyConflictException")]
public sealed class ColonyConflictException : Exception
{
    public ColonyConflictException()
    {
    }

    public ColonyConflictException(string message)
        : base(message)
    {
    }

    public ColonyConflictException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
