using Kbl.Grains;
using Kbl.Storage;

namespace Kbl.Colonies;

[GrainType("kbl-colonies")]
public sealed class ColonyRegistryGrain(
    [PersistentState("colonies", KblStorage.Name)] IPersistentState<ColonyRegistryState> state) : Grain, IColonyRegistryGrain
{
    public const string Key = "colonies";

    public async Task Register(string colony)
    {
        if (state.State.Colonies.Add(colony))
        {
            await state.WriteStateAsync();
        }
    }

    public Task<IReadOnlyList<string>> List() => Task.FromResult<IReadOnlyList<string>>([.. state.State.Colonies]);
}

