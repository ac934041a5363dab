using System.Net;
using Kbl.Tests.Process;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// An HTTP server on a free loopback port (HttpListener), handing each request to a handler: the plumbing the
/// fault proxy and the Kubernetes API double share. <c>concurrent</c>: handle requests side by side (a proxy
/// holding one request must not block the others) or one after the other.
/// </summary>
public sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<HttpListenerContext, Task> _handle;
    private readonly bool _concurrent;
    private readonly Task _loop;

    public LoopbackHttpServer(Func<HttpListenerContext, Task> handle, bool concurrent)
    {
        (_handle, _concurrent) = (handle, concurrent);
        for (var attempt = 1; ; attempt++)
        {
            var port = SiloProcess.FreePort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                (_listener, Port) = (listener, port);
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                // Another process took the free port between the probe and the start.
                listener.Close();
            }
        }

        _loop = Task.Run(Serve);
    }

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port}");

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            if (_concurrent)
            {
                _ = Task.Run(() => HandleOne(context));
            }
            else
            {
                await HandleOne(context);
            }
        }
    }

    private async Task HandleOne(HttpListenerContext context)
    {
        try
        {
            await _handle(context);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The client went away mid-answer: serve the next request.
        }
    }
}
