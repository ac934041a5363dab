using Kbl.LoadGen;

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (LoadOptionsException e)
{
    Console.Error.WriteLine($"kbl-loadgen: {e.Message}");
    return 2;
}

if (options.Help)
{
    Console.WriteLine(LoadOptions.Usage);
    return 0;
}

if (options.ServerPid is { } serverPid && CpuMeter.Check(serverPid) is { } cannot)
{
    Console.Error.WriteLine($"kbl-loadgen: {cannot}");
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

var keys = KeySpace.Names(options.Keys);
using IRecordClient client = options.Protocol switch
{
    Protocol.Grpc => new GrpcRecordClient(options, keys),
    Protocol.Etcd => new EtcdRecordClient(options, keys, options.Etcd),
    _ => new HttpRecordClient(options, keys),
};
try
{
    var report = await new LoadRunner(options, client, Console.Error).Run(stop.Token);
    Console.Write(options.Json ? report.JsonLine() + Environment.NewLine : report.Table());
    return report.Measured.ErrorCount + report.Outside.ErrorCount == 0 ? 0 : 3;
}
catch (LoadGenException e)
{
    Console.Error.WriteLine($"kbl-loadgen: {e.Message}");
    return 1;
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("kbl-loadgen: stopped before the end of the run");
    return 130;
}
