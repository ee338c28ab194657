using System.Security.Cryptography;

namespace BatchPilot.Jobs;

/// <summary>
/// A comparison group: ordinary jobs over the same rows, one per variant (model × prompt), that <c>batchpilot run</c>
/// creates, submits, waits for and collects together, and whose merged output puts the variants side by side.
/// The group only links its jobs; each child is a complete job of its own.
/// </summary>
public sealed record GroupRecord
{
    /// <summary>Short id such as <c>grp-7f3a9c</c>.</summary>
    public required string Id { get; init; }

    /// <summary>Display name.</summary>
    public required string Name { get; init; }

    /// <summary>Identifies "the same comparison": see <see cref="FingerprintOf"/>.</summary>
    public required string Fingerprint { get; init; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The variants in their order (columns of the merged output).</summary>
    public required IReadOnlyList<GroupMember> Members { get; init; }

    /// <summary>A new short group id such as <c>grp-7f3a9c</c>.</summary>
    public static string NewGroupId() => "grp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));

    /// <summary>
    /// The fingerprint of a comparison: a hash of the set of its children's job fingerprints (order does not matter, so
    /// <c>--model a,b</c> and <c>--model b,a</c> are the same comparison).
    /// </summary>
    public static string FingerprintOf(IEnumerable<string> childFingerprints)
    {
        ArgumentNullException.ThrowIfNull(childFingerprints);
        var set = childFingerprints.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var text = "group-v1\u001f" + string.Join('\u001f', set);
        return Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
    }
}

/// <summary>One variant of a comparison group.</summary>
/// <param name="Position">0-based order of the variant in the group.</param>
/// <param name="Label">Short name used in column names: the model id, or <c>model/prompt</c> when several prompts are compared.</param>
/// <param name="JobId">The child job. Reserved when the group is created, before the job itself exists, so a rerun after a crash finds it.</param>
/// <param name="Fingerprint">The child job's fingerprint.</param>
public sealed record GroupMember(int Position, string Label, string JobId, string Fingerprint);
