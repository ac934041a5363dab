namespace Kbl.LoadGen;

/// <summary>Which of the silo's surfaces the load goes through.</summary>
internal enum Protocol
{
    Http,
    Grpc,

    /// <summary>Not Kbl: an etcd cluster through its HTTP/JSON gateway, the peer for replicated writes.</summary>
    Etcd,
}
