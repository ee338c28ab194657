using System.Globalization;
using BatchPilot.Running;

namespace BatchPilot.Core.Tests.Running;

/// <summary>Lease owners: a live process is never taken for dead, a gone or reused pid is.</summary>
public sealed class ProcessIdentityTests
{
    private static readonly long StartTicks = long.Parse(ProcessIdentity.Current.Split(':')[2], CultureInfo.InvariantCulture);

    private static string Owner(long ticks) =>
        string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}:{Environment.ProcessId}:{ticks}");

    [Fact]
    public void IsDead_OfALiveProcessWhoseStartTimeAnotherProcessSawMicrosecondsApart_IsFalse()
    {
        // Each process computes a start time from its own reading of the boot time: they differ by microseconds.
        Assert.False(ProcessIdentity.IsDead(Owner(StartTicks + 37)));
        Assert.False(ProcessIdentity.IsDead(Owner(StartTicks - 37)));
    }

    [Fact]
    public void IsDead_OfAPidNowHeldByAProcessStartedLater_IsTrue() =>
        Assert.True(ProcessIdentity.IsDead(Owner(StartTicks - TimeSpan.FromMinutes(5).Ticks)));

    [Fact]
    public void IsDead_OfThisProcess_IsFalse_AndOfNoOwner_IsTrue()
    {
        Assert.False(ProcessIdentity.IsDead(ProcessIdentity.Current));
        Assert.True(ProcessIdentity.IsDead(null));
    }
}
