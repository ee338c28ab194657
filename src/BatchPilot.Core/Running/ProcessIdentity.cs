using System.Diagnostics;
using System.Globalization;

namespace BatchPilot.Running;

/// <summary>Identifies this process for leases, and tells whether another lease holder is still alive.</summary>
public static class ProcessIdentity
{
    /// <summary>How far apart two processes may see the start time of one process.</summary>
    private static readonly TimeSpan StartTimeTolerance = TimeSpan.FromSeconds(1);

    /// <summary>This process: <c>host:pid:start-ticks</c>.</summary>
    public static string Current { get; } = Create();

    private static string Create()
    {
        using var p = Process.GetCurrentProcess();
        return string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}:{p.Id}:{p.StartTime.ToUniversalTime().Ticks}");
    }

    /// <summary>
    /// True when the owner is certainly dead: same host and its pid is gone or belongs to a newer process.
    /// An owner on another host is presumed alive (its lease time decides).
    /// </summary>
    public static bool IsDead(string? owner)
    {
        if (string.IsNullOrEmpty(owner))
        {
            return true;
        }

        var parts = owner.Split(':');
        if (parts.Length != 3 || parts[0] != Environment.MachineName
            || !int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
            || !long.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks))
        {
            return false;
        }

        if (owner == Current)
        {
            return false;
        }

        try
        {
            // A start time is the boot time plus the kernel's start offset, and each process computes the boot time
            // itself (on Linux from two clocks read one after the other), so two processes see the same start time
            // a few microseconds apart: never compare it exactly. A pid reused by a newer process starts much later.
            using var p = Process.GetProcessById(pid);
            return p.HasExited || Math.Abs(p.StartTime.ToUniversalTime().Ticks - ticks) > StartTimeTolerance.Ticks;
        }
        catch (ArgumentException)
        {
            return true;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }
}
