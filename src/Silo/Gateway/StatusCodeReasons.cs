namespace Kbl.Silo.Gateway;

/// <summary>
/// A reason for every refusal that nothing else explained: routing answers an unknown path (404) or a method a route
/// does not take (405) with an empty body, and Kestrel refuses some requests (an oversized body) before any endpoint
/// runs. The answer is the API's error shape, <c>{"error": "…"}</c>, and never repeats the request (a path or
/// query may carry what should not be echoed).
/// </summary>
public static class StatusCodeReasons
{
    public static IApplicationBuilder UseKblStatusCodeReasons(this IApplicationBuilder app) =>
        app.UseStatusCodePages(context =>
        {
            var http = context.HttpContext;
            var reason = http.Response.StatusCode switch
            {
                StatusCodes.Status404NotFound => "no such route (the README lists the API)",
                StatusCodes.Status405MethodNotAllowed => $"this route does not take {http.Request.Method}",
                StatusCodes.Status413PayloadTooLarge => "the request body is too large",
                StatusCodes.Status431RequestHeaderFieldsTooLarge => "the request headers are too large",
                var status => $"the request was refused ({status})",
            };
            return http.Response.WriteAsJsonAsync(new { error = reason });
        });
}
