namespace Kbl.LoadGen;

/// <summary>What a run does: only puts, only gets, or a mix of both.</summary>
internal enum OpKind
{
    Put,
    Get,
    Mixed,
}
