using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// What every AWS call of the node-group code shares, whatever the API's protocol: credentials resolved once (the
/// SDK's default chain — environment, profile, web identity/IRSA, container, instance profile — unless given), a
/// SigV4 signature per attempt (<see cref="EksSigner"/>), and retries of transport failures and of what the API
/// calls retryable, with exponential backoff (doubling from <see cref="EksOptions.Backoff"/>, capped at 30 s) and
/// equal jitter, up to <see cref="EksOptions.MaxAttempts"/>. Reading an error answer is the API client's business.
/// </summary>
public sealed partial class AwsSender
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>The SDK's default chain; one per process, as the SDK's own clients share theirs (it caches what it found).</summary>
    private static readonly DefaultAWSCredentialsIdentityResolver DefaultChain = new();

    private readonly HttpClient _http;
    private readonly string _region;
    private readonly string _service;
    private readonly string _contentType;
    private readonly int _maxAttempts;
    private readonly TimeSpan _backoff;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _credentialsGate = new(1, 1);
    private AWSCredentials? _credentials;

    /// <param name="http">Sends the requests.</param>
    /// <param name="options">Region and retry settings.</param>
    /// <param name="service">The SigV4 signing name (<c>eks</c>, <c>autoscaling</c>…).</param>
    /// <param name="contentType">The content type of request bodies, signed as sent.</param>
    /// <param name="credentials">Null: the SDK's default chain, resolved at the first call.</param>
    /// <param name="timeProvider">The clock for signatures and backoff pauses.</param>
    /// <param name="logger">Retries are logged.</param>
    public AwsSender(HttpClient http, EksOptions options, string service, string contentType, AWSCredentials? credentials, TimeProvider? timeProvider, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Region, nameof(options) + "." + nameof(options.Region));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxAttempts, nameof(options) + "." + nameof(options.MaxAttempts));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Backoff, TimeSpan.Zero, nameof(options) + "." + nameof(options.Backoff));
        _http = http;
        _region = options.Region;
        _service = service;
        _contentType = contentType;
        _maxAttempts = options.MaxAttempts;
        _backoff = options.Backoff;
        _credentials = credentials;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// Signs and sends <paramref name="call"/> until it succeeds (its body is returned) or fails for good.
    /// <paramref name="refusal"/> turns an error answer into the exception to throw and says whether another attempt
    /// may succeed.
    /// </summary>
    public async Task<string> Send(EksCall call, Func<HttpResponseMessage, string, (Exception Error, bool Retry)> refusal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var credentials = await Credentials(cancellationToken).ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            Exception failure;
            try
            {
                var identity = await credentials.GetCredentialsAsync().ConfigureAwait(false);
                using var request = EksSigner.Sign(call, identity, _region, _timeProvider.GetUtcNow(), _service, _contentType);
                using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return body;
                }

                var (error, retry) = refusal(response, body);
                if (!retry || attempt >= _maxAttempts)
                {
                    throw error;
                }

                failure = error;
            }
            catch (HttpRequestException e) when (attempt < _maxAttempts)
            {
                failure = e;
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested && attempt < _maxAttempts)
            {
                failure = e; // HttpClient's own timeout
            }

            var ceiling = Math.Min(MaxBackoff.TotalMilliseconds, _backoff.TotalMilliseconds * Math.Pow(2, attempt - 1));
            var pause = TimeSpan.FromMilliseconds((ceiling / 2) + (Random.Shared.NextDouble() * ceiling / 2));
            LogRetry(_logger, _service, call.Operation, attempt, _maxAttempts, pause, failure.Message);
            await Task.Delay(pause, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<AWSCredentials> Credentials(CancellationToken cancellationToken)
    {
        if (_credentials is { } known)
        {
            return known;
        }

        await _credentialsGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _credentials ??= await DefaultChain.ResolveIdentityAsync(new EksSigningConfig { AuthenticationRegion = _region }, cancellationToken).ConfigureAwait(false);
            return _credentials;
        }
        finally
        {
            _credentialsGate.Release();
        }
    }

    [LoggerMessage(EventId = 43100, Level = LogLevel.Warning,
        Message = "AWS {Service} {Operation}: attempt {Attempt} of {MaxAttempts} failed ({Reason}); retrying in {Pause}")]
    private static partial void LogRetry(ILogger logger, string service, string operation, int attempt, int maxAttempts, TimeSpan pause, string reason);
}
