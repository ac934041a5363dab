using System.Globalization;

namespace Kbl.LoadGen;

/// <summary>The keys a run touches: <c>key-000000000000</c> … (16 bytes each, like redis-benchmark's <c>-r</c> keys).</summary>
internal static class KeySpace
{
    public static string Name(int index) => "key-" + index.ToString("D12", CultureInfo.InvariantCulture);

    public static string[] Names(int count)
    {
        var names = new string[count];
        for (var i = 0; i < count; i++)
        {
            names[i] = Name(i);
        }

        return names;
    }

    /// <summary>A value of <paramref name="size"/> printable bytes, the same for every write.</summary>
    public static byte[] Value(int size)
    {
        var value = new byte[size];
        for (var i = 0; i < size; i++)
        {
            value[i] = (byte)('a' + (i % 26));
        }

        return value;
    }
}
