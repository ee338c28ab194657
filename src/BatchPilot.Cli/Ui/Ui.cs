using System.Text.Json;
using BatchPilot.Running;
using Spectre.Console;

namespace BatchPilot.Cli.Ui;

/// <summary>
/// All terminal I/O. stdout is data (tables, JSON), stderr is talk (progress, notes, errors).
/// With <c>--json</c> only JSON reaches stdout.
/// </summary>
public sealed class Ui : IEngineObserver
{
    private readonly Lock _gate = new();

    /// <summary>Creates the UI over the given writers.</summary>
    public Ui(TextWriter stdout, TextWriter stderr, bool json, bool verbose, bool interactive)
    {
        StdErr = stderr;
        Json = json;
        Verbose = verbose;
        Interactive = interactive;
        StdOut = stdout;
        Out = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        Err = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stderr),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!interactive)
        {
            Out.Profile.Width = 200;
            Err.Profile.Width = 200;
        }
    }

    /// <summary>Machine output requested.</summary>
    public bool Json { get; }

    /// <summary>Stack traces and details requested.</summary>
    public bool Verbose { get; }

    /// <summary>A terminal is attached and CI is not set: live displays allowed.</summary>
    public bool Interactive { get; }

    /// <summary>Raw stderr: notes and errors are written here unwrapped, so each stays one line.</summary>
    public TextWriter StdErr { get; }

    /// <summary>Raw stdout.</summary>
    public TextWriter StdOut { get; }

    /// <summary>Data console (stdout).</summary>
    public IAnsiConsole Out { get; }

    /// <summary>Talk console (stderr).</summary>
    public IAnsiConsole Err { get; }

    /// <summary>Set while a live display owns the terminal: messages are queued for it.</summary>
    public Action<string>? LiveSink { get; set; }

    /// <summary>A note for the user.</summary>
    public void Info(string message)
    {
        lock (_gate)
        {
            if (LiveSink is { } sink)
            {
                sink(message);
                return;
            }

            StdErr.WriteLine(message);
            StdErr.Flush();
        }
    }

    /// <summary>A warning.</summary>
    public void Warn(string message)
    {
        lock (_gate)
        {
            if (LiveSink is { } sink)
            {
                sink("warning: " + message);
                return;
            }

            StdErr.WriteLine(Interactive ? "\u001b[33mwarning:\u001b[0m " + message : "warning: " + message);
            StdErr.Flush();
        }
    }

    /// <summary>An error line.</summary>
    public void Error(string message)
    {
        lock (_gate)
        {
            StdErr.WriteLine(Interactive ? "\u001b[31merror:\u001b[0m " + message : "error: " + message);
            StdErr.Flush();
        }
    }

    /// <summary>Writes a JSON document to stdout.</summary>
    public void WriteJson<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info)
    {
        // Names and answers in any script stay readable: no \u00E9 escapes.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, BatchPilot.Exports.ReadableJson.Indented))
        {
            JsonSerializer.Serialize(writer, value, info);
        }

        StdOut.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        StdOut.Flush();
    }

    /// <summary>Writes a renderable to stdout (human mode only).</summary>
    public void Write(Spectre.Console.Rendering.IRenderable renderable)
    {
        if (!Json)
        {
            Out.Write(renderable);
        }
    }

    /// <summary>Writes a line to stdout (human mode only).</summary>
    public void Line(string text)
    {
        if (!Json)
        {
            Out.WriteLine(text);
        }
    }
}
