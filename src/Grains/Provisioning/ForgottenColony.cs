namespace Kbl.Provisioning;

/// <summary>A deleted colony the provisioning grain has dropped: reports of that life of it (late, one-way) are ignored.</summary>
[GenerateSerializer, Immutable, Alias("kbl.ForgottenColony")]
public sealed record ForgottenColony([property: Id(0)] long Incarnation, [property: Id(1)] DateTimeOffset At);
