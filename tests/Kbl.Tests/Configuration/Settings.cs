using Kbl.Silo.Hosting;
using Microsoft.Extensions.Configuration;

namespace Kbl.Tests.Configuration;

/// <summary>A silo's settings as <see cref="KblSettings.Load"/> reads and checks them, from keys given in full (<c>Kbl:…</c>).</summary>
internal static class Settings
{
    public static KblSettings Load(params (string Key, string Value)[] settings) =>
        KblSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build());
}
