namespace Kbl.LoadGen;

/// <summary>Which of the silo's surfaces the load goes through.</summary>
internal enum Protocol
{
    Http,
    Grpc,
}
