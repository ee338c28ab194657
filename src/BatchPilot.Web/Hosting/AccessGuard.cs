using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace BatchPilot.Web.Hosting;

/// <summary>
/// Checks every request: the Host header on a loopback binding (so a DNS-rebinding page cannot reach the dashboard), the
/// access token when one is in force (bearer header or the cookie set after <c>?token=</c> or the login form), and the
/// anti-forgery token on every state-changing request (form field <c>_csrf</c> or header <c>X-CSRF-Token</c>; a request
/// carrying the access token as a bearer header needs none, since browsers never add that header by themselves).
/// Also sets the security headers (a strict Content-Security-Policy: only this app's own scripts and styles).
/// </summary>
internal sealed class AccessGuard(RequestDelegate next, DashboardState state)
{
    public const string TokenCookie = "bp_token";
    public const string CsrfField = "_csrf";
    public const string CsrfHeader = "X-CSRF-Token";

    public async Task InvokeAsync(HttpContext ctx)
    {
        var h = ctx.Response.Headers;
        h["X-Content-Type-Options"] = "nosniff";
        h["X-Frame-Options"] = "DENY";
        h["Referrer-Policy"] = "no-referrer";
        h["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";
        h["Cache-Control"] = "no-store";

        if (state.LoopbackOnly && !IsLoopbackHost(ctx.Request.Host.Host))
        {
            await RefuseAsync(ctx, StatusCodes.Status400BadRequest, "this dashboard only answers requests addressed to localhost or 127.0.0.1");
            return;
        }

        var bearer = false;
        if (state.Token is { } token)
        {
            var path = ctx.Request.Path.Value ?? "/";
            if (path == "/login" && HttpMethods.IsPost(ctx.Request.Method))
            {
                await LoginAsync(ctx, token);
                return;
            }

            if (HttpMethods.IsGet(ctx.Request.Method) && ctx.Request.Query["token"] is { Count: 1 } q && Same(q[0], token))
            {
                SetTokenCookie(ctx, token);
                ctx.Response.Redirect(WithoutToken(ctx.Request));
                return;
            }

            var auth = ctx.Request.Headers.Authorization.ToString();
            bearer = auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && Same(auth[7..].Trim(), token);
            var cookie = ctx.Request.Cookies[TokenCookie];
            if (!bearer && !Same(cookie, token))
            {
                if (path.StartsWith("/api/", StringComparison.Ordinal) || !HttpMethods.IsGet(ctx.Request.Method))
                {
                    await RefuseAsync(ctx, StatusCodes.Status401Unauthorized, "an access token is required: send 'Authorization: Bearer TOKEN' or open the address printed by 'batchpilot serve'");
                }
                else
                {
                    ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    ctx.Response.ContentType = "text/html; charset=utf-8";
                    await ctx.Response.WriteAsync(LoginPage(path, error: cookie is not null || ctx.Request.Query.ContainsKey("token")));
                }

                return;
            }
        }

        if (!IsSafe(ctx.Request.Method) && !bearer && !await HasCsrfAsync(ctx))
        {
            await RefuseAsync(ctx, StatusCodes.Status403Forbidden, "missing or wrong anti-forgery token: reload the page and try again (scripts: send the X-CSRF-Token header from GET /api/csrf, or the access token as a bearer header)");
            return;
        }

        await next(ctx);
    }

    private async Task<bool> HasCsrfAsync(HttpContext ctx)
    {
        if (ctx.Request.Headers.TryGetValue(CsrfHeader, out var header))
        {
            return Same(header.ToString(), state.Csrf);
        }

        if (ctx.Request.HasFormContentType)
        {
            var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
            return Same(form[CsrfField].ToString(), state.Csrf);
        }

        return false;
    }

    private async Task LoginAsync(HttpContext ctx, string token)
    {
        var form = ctx.Request.HasFormContentType ? await ctx.Request.ReadFormAsync(ctx.RequestAborted) : null;
        var given = form?["token"].ToString();
        var back = form?["return"].ToString();
        if (!Same(given, token))
        {
            Log.Refused(state.Logger, ctx.Request.Method, "/login", "wrong access token");
            ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
            ctx.Response.ContentType = "text/html; charset=utf-8";
            await ctx.Response.WriteAsync(LoginPage(back ?? "/", error: true));
            return;
        }

        SetTokenCookie(ctx, token);
        ctx.Response.Redirect(back is { Length: > 0 } && back.StartsWith('/') && !back.StartsWith("//", StringComparison.Ordinal) ? back : "/");
    }

    private static void SetTokenCookie(HttpContext ctx, string token) =>
        ctx.Response.Cookies.Append(TokenCookie, token, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", IsEssential = true, Secure = ctx.Request.IsHttps });

    private static string WithoutToken(HttpRequest request)
    {
        var rest = request.Query.Where(kv => kv.Key != "token").SelectMany(kv => kv.Value.Select(v => Uri.EscapeDataString(kv.Key) + "=" + Uri.EscapeDataString(v ?? string.Empty)));
        var qs = string.Join('&', rest);
        var path = request.Path.HasValue ? request.Path.Value! : "/";
        return qs.Length == 0 ? path : path + "?" + qs;
    }

    private async Task RefuseAsync(HttpContext ctx, int status, string reason)
    {
        Log.Refused(state.Logger, ctx.Request.Method, ctx.Request.Path.Value ?? "/", reason);
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        await ctx.Response.WriteAsync("{\"error\":" + System.Text.Json.JsonSerializer.Serialize(reason, Api.WebJson.Default.String) + "}");
    }

    private static bool IsSafe(string method) => HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method);

    private static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host == "127.0.0.1" || host == "[::1]" || host == "::1";

    /// <summary>Constant-time comparison.</summary>
    public static bool Same(string? given, string expected)
    {
        if (given is null)
        {
            return false;
        }

        var a = Encoding.UTF8.GetBytes(given);
        var b = Encoding.UTF8.GetBytes(expected);
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(a), SHA256.HashData(b));
    }

    private static string LoginPage(string back, bool error) =>
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>BatchPilot: access token</title></head><body>"
        + "<h1>BatchPilot</h1><p>This dashboard is reachable from the network, so it asks for its access token (printed once by <code>batchpilot serve</code>).</p>"
        + (error ? "<p role=\"alert\"><strong>That token is not the right one.</strong></p>" : string.Empty)
        + "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"return\" value=\"" + System.Net.WebUtility.HtmlEncode(back) + "\">"
        + "<label>Access token <input name=\"token\" type=\"password\" autocomplete=\"off\" required></label> <button type=\"submit\">Open</button></form></body></html>";
}
