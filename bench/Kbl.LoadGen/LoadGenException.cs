namespace Kbl.LoadGen;

/// <summary>The run cannot go on (the silo is unreachable, the colony cannot be made); the message is the one line the user sees.</summary>
internal sealed class LoadGenException(string message, Exception? inner = null) : Exception(message, inner);
