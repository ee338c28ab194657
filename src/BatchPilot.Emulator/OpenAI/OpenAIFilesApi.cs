using System.Globalization;
using System.Text.Json;
using BatchPilot.Emulator.Infrastructure;
using BatchPilot.Emulator.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace BatchPilot.Emulator.OpenAI;

/// <summary><c>/v1/files</c>: uploads are streamed to disk, downloads streamed from disk.</summary>
internal sealed class OpenAIFilesApi(EmulatorContext ctx)
{
    public const long MaxFileBytes = 512L * 1024 * 1024;

    private static readonly string[] Purposes = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"];

    public void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/files", UploadAsync);
        app.MapGet("/v1/files", ListAsync);
        app.MapGet("/v1/files/{id}", RetrieveAsync);
        app.MapGet("/v1/files/{id}/content", ContentAsync);
        app.MapDelete("/v1/files/{id}", DeleteAsync);
    }

    private async Task UploadAsync(HttpContext http)
    {
        var request = http.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            await Wire.OpenAIErrorAsync(http, 400, "Invalid Content-Type header (" + request.ContentType + "), expected multipart/form-data.");
            return;
        }
        var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary))
        {
            await Wire.OpenAIErrorAsync(http, 400, "Missing multipart boundary.");
            return;
        }
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = MaxFileBytes + 1024 * 1024;
        }
        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = MaxFileBytes + 1 };
        string? purpose = null, filename = null, tempPath = null;
        long bytes = 0;
        long? expiresSeconds = null;
        try
        {
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(http.RequestAborted)) is not null)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                {
                    continue;
                }
                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value;
                if (disposition.IsFileDisposition() && name == "file")
                {
                    filename = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value ?? "file";
                    tempPath = ctx.Store.NewTempPath();
                    await using var target = new FileStream(tempPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                    await section.Body.CopyToAsync(target, 1 << 16, http.RequestAborted);
                    bytes = target.Length;
                }
                else
                {
                    using var sr = new StreamReader(section.Body);
                    var value = (await sr.ReadToEndAsync(http.RequestAborted)).Trim();
                    if (name == "purpose")
                    {
                        purpose = value;
                    }
                    else if (name == "expires_after[seconds]" && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var s))
                    {
                        expiresSeconds = s;
                    }
                }
            }
        }
        catch (InvalidDataException)
        {
            Delete(tempPath);
            await Wire.OpenAIErrorAsync(http, 413, $"File too large. The maximum file size is {MaxFileBytes} bytes.");
            return;
        }
        if (tempPath is null)
        {
            await Wire.OpenAIErrorAsync(http, 400, "Missing required parameter: 'file'.", param: "file", code: "missing_required_parameter");
            return;
        }
        if (purpose is null)
        {
            Delete(tempPath);
            await Wire.OpenAIErrorAsync(http, 400, "Missing required parameter: 'purpose'.", param: "purpose", code: "missing_required_parameter");
            return;
        }
        if (!Purposes.Contains(purpose))
        {
            Delete(tempPath);
            await Wire.OpenAIErrorAsync(http, 400, $"'{purpose}' is not one of ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] - 'purpose'", param: "purpose", code: "invalid_value");
            return;
        }
        if (purpose == "batch" && !filename!.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            Delete(tempPath);
            await Wire.OpenAIErrorAsync(http, 400, "Invalid file format for Batch API. Must be .jsonl");
            return;
        }
        if (expiresSeconds is < 3600 or > 2592000)
        {
            Delete(tempPath);
            await Wire.OpenAIErrorAsync(http, 400, $"Invalid 'expires_after.seconds': integer out of range. Expected a value between 3600 and 2592000, but got {expiresSeconds} instead.", param: "expires_after.seconds", code: "integer_out_of_range");
            return;
        }
        var now = ctx.Now.ToUnixTimeSeconds();
        var file = new FileRecord
        {
            Id = Ids.NewFileId(),
            Seq = ctx.Store.NextSeq(),
            Bytes = bytes,
            CreatedAt = now,
            Filename = filename!,
            Purpose = purpose,
            ExpiresAt = expiresSeconds is { } e ? now + e : purpose == "batch" ? now + 30 * 86400 : null,
        };
        File.Move(tempPath, ctx.Store.FileDataPath(file.Id));
        ctx.Store.Save(file);
        ctx.Store.Files[file.Id] = file;
        await Wire.WriteJsonAsync(http, 200, w => WriteFile(w, file));
    }

    private Task ListAsync(HttpContext http)
    {
        var q = http.Request.Query;
        var purpose = q["purpose"].ToString();
        var limit = int.TryParse(q["limit"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : 10_000;
        if (limit is < 1 or > 10_000)
        {
            return Wire.OpenAIErrorAsync(http, 400, $"Invalid 'limit': integer out of range. Expected a value between 1 and 10000, but got {limit} instead.", param: "limit", code: "integer_out_of_range");
        }
        var ascending = q["order"].ToString() == "asc";
        var files = ctx.Store.Files.Values.Where(f => purpose.Length == 0 || f.Purpose == purpose);
        var ordered = (ascending ? files.OrderBy(f => f.Seq) : files.OrderByDescending(f => f.Seq)).ToList();
        var after = q["after"].ToString();
        if (after.Length > 0)
        {
            var i = ordered.FindIndex(f => f.Id == after);
            ordered = i < 0 ? [] : ordered[(i + 1)..];
        }
        var page = ordered.Take(limit).ToList();
        return Wire.WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object"u8, "list"u8);
            w.WriteStartArray("data"u8);
            foreach (var f in page)
            {
                WriteFile(w, f);
            }
            w.WriteEndArray();
            Wire.WriteStringOrNull(w, "first_id"u8, page.FirstOrDefault()?.Id);
            Wire.WriteStringOrNull(w, "last_id"u8, page.LastOrDefault()?.Id);
            w.WriteBoolean("has_more"u8, ordered.Count > page.Count);
            w.WriteEndObject();
        });
    }

    private Task RetrieveAsync(HttpContext http)
    {
        var id = (string)http.Request.RouteValues["id"]!;
        return ctx.Store.Files.TryGetValue(id, out var file)
            ? Wire.WriteJsonAsync(http, 200, w => WriteFile(w, file))
            : NotFound(http, id);
    }

    private async Task ContentAsync(HttpContext http)
    {
        var id = (string)http.Request.RouteValues["id"]!;
        if (!ctx.Store.Files.TryGetValue(id, out var file))
        {
            await NotFound(http, id);
            return;
        }
        FileStream stream;
        try
        {
            stream = new FileStream(ctx.Store.FileDataPath(id), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, useAsync: true);
        }
        catch (FileNotFoundException)
        {
            await NotFound(http, id);
            return;
        }
        await using (stream)
        {
            http.Response.StatusCode = 200;
            http.Response.ContentType = "application/octet-stream";
            http.Response.ContentLength = stream.Length;
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"{file.Filename}\"";
            if (file.TruncateFraction is { } fraction)
            {
                await Downloads.CopyTruncatedAsync(http, stream, (long)(stream.Length * fraction));
                return;
            }
            await stream.CopyToAsync(http.Response.Body, 1 << 16, http.RequestAborted);
        }
    }

    private Task DeleteAsync(HttpContext http)
    {
        var id = (string)http.Request.RouteValues["id"]!;
        if (!ctx.Store.DeleteFile(id))
        {
            return NotFound(http, id);
        }
        return Wire.WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("id"u8, id);
            w.WriteString("object"u8, "file"u8);
            w.WriteBoolean("deleted"u8, true);
            w.WriteEndObject();
        });
    }

    public static Task NotFound(HttpContext http, string id, string param = "id") =>
        Wire.OpenAIErrorAsync(http, 404, $"No such File object: {id}", param: param);

    public static void WriteFile(Utf8JsonWriter w, FileRecord f)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, f.Id);
        w.WriteString("object"u8, "file"u8);
        w.WriteNumber("bytes"u8, f.Bytes);
        w.WriteNumber("created_at"u8, f.CreatedAt);
        Wire.WriteNumberOrNull(w, "expires_at"u8, f.ExpiresAt);
        w.WriteString("filename"u8, f.Filename);
        w.WriteString("purpose"u8, f.Purpose);
        w.WriteString("status"u8, "processed"u8);
        w.WriteNull("status_details"u8);
        w.WriteEndObject();
    }

    private static void Delete(string? path)
    {
        if (path is not null)
        {
            File.Delete(path);
        }
    }
}

/// <summary>Download helpers shared by both providers.</summary>
internal static class Downloads
{
    /// <summary>Sends the first <paramref name="bytes"/> bytes, then resets the connection (the truncated_download fault).</summary>
    public static async Task CopyTruncatedAsync(HttpContext http, Stream source, long bytes)
    {
        var buffer = new byte[1 << 16];
        var left = bytes;
        while (left > 0)
        {
            var n = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), http.RequestAborted);
            if (n == 0)
            {
                break;
            }
            await http.Response.Body.WriteAsync(buffer.AsMemory(0, n), http.RequestAborted);
            left -= n;
        }
        await http.Response.Body.FlushAsync(http.RequestAborted);
        http.Abort();
    }
}
