namespace Kbl.Configuration;

/// <summary>A bad setting: the process prints this one line and exits (code 2) before it starts anything.</summary>
public sealed class KblConfigurationException(string message) : Exception(message);
