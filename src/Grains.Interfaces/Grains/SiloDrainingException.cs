namespace Kbl.Grains;

/// <summary>A silo that is stopping (handing its KBLs away) was asked to take a KBL in: the mover picks another silo.</summary>
[GenerateSerializer, Alias("kbl.SiloDrainingException")]
public sealed class SiloDrainingException : Exception
{
    public SiloDrainingException()
    {
    }

    public SiloDrainingException(string silo)
        : base($"silo '{silo}' is stopping and takes no KBLs")
    {
        Silo = silo;
    }

    public SiloDrainingException(string message, Exception inner)
        : base(message, inner)
    {
    }

    [Id(0)] public string Silo { get; init; } = "";
}
