namespace Kbl.Records;

/// <summary>What every record answer of a KBL carries, so one router can follow <see cref="Moved"/> for all of them.</summary>
public interface IKblReply
{
    KblStatus Status { get; }

    Moved? Moved { get; }

    string? Message { get; }
}
