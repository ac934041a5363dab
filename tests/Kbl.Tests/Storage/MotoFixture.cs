using System.Diagnostics;

namespace Kbl.Tests.Storage;

/// <summary>
/// moto's AWS server (Python, <c>pip install 'moto[server]'</c>), in memory: a second, independent
/// implementation of the DynamoDB wire protocol besides dynalite, and the SQS one (AWS JSON 1.0) the deployment
/// queue tests use (Kbl.Tests.Provisioning.SqsDeploymentQueueTests; they make queues of their own and ignore
/// <see cref="LocalDynamoDbFixture.TableName"/>).
/// </summary>
/// <remarks>
/// It runs moto's own server application, as <c>moto_server -H 127.0.0.1 -p PORT</c> does, with one
/// difference: one request at a time. <c>moto_server</c> (5.2.1) serves requests on concurrent threads
/// and checks a <c>ConditionExpression</c> and applies the write without a lock between them, so two
/// conditional puts on one item can both succeed. Seen here with boto3 alone: 8 threads making 1,600
/// successful <c>version = :expected</c> increments left the version at 1,598. DynamoDB (and dynalite)
/// apply a conditional write atomically per item, which is what the conformance suite's concurrency
/// tests rely on; serializing requests restores that and changes nothing else moto does.
/// </remarks>
public sealed class MotoFixture : LocalDynamoDbFixture
{
    private const string Server = """
        import logging, sys, threading
        from werkzeug.serving import run_simple
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()
        def one_at_a_time(environ, start_response):
            with lock:
                return list(app(environ, start_response))
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        run_simple(sys.argv[1], int(sys.argv[2]), one_at_a_time, threaded=True)
        """;

    public override string ServerName => "moto";

    protected override ProcessStartInfo StartInfo(int port)
    {
        _ = OnPath("moto_server")
            ?? throw new InvalidOperationException("moto is not installed: 'moto_server' is not on PATH. Run scripts/install-test-deps.sh (pip install 'moto[server]').");
        var python = OnPath("python3")
            ?? throw new InvalidOperationException("moto needs Python: 'python3' is not on PATH.");
        var start = new ProcessStartInfo(python);
        foreach (var argument in new[] { "-c", Server, "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }
}
