namespace Kbl.Placement;

public enum WhenGroupMissing
{
    /// <summary>Requests wait (up to <c>WaitForGroup</c>) for a silo of the group, then fail with 503 naming it.</summary>
    Wait = 0,

    /// <summary>The KBL runs on another group's silo and moves home when a silo of its group joins.</summary>
    Elsewhere = 1,
}
