namespace Kbl.Silo.Hosting;

/// <summary>A bad setting: the silo prints this one line and exits before it starts anything.</summary>
public sealed class KblConfigurationException(string message) : Exception(message);
