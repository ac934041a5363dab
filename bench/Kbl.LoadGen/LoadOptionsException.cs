namespace Kbl.LoadGen;

/// <summary>A bad command line; the message is the one line the user sees.</summary>
internal sealed class LoadOptionsException(string message) : Exception(message);
