namespace Kbl.Colonies;

/// <summary>
/// A colony root's answer to a delete: <see cref="ColonyDeletionStatus.Deleted"/> when every KBL, record and
/// demand of the colony is gone; <see cref="ColonyDeletionStatus.Deleting"/> when the delete is recorded (the colony
/// already refuses every request) but some of it could not be removed yet (<see cref="Message"/> says what), which
/// the root finishes by itself; <see cref="ColonyDeletionStatus.NoColony"/> when there was no such colony.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.ColonyDeletion")]
public sealed record ColonyDeletion([property: Id(0)] ColonyDeletionStatus Status, [property: Id(1)] string? Message = null);

[GenerateSerializer, Alias("kbl.ColonyDeletionStatus")]
public enum ColonyDeletionStatus
{
    Deleted = 0,
    Deleting = 1,
    NoColony = 2,
}
