using System.Security.Cryptography;
using BatchPilot.Inputs.Internal;

namespace BatchPilot.Inputs;

/// <summary>Identifies an input file by its content, to recognise the same input when a job is run again.</summary>
public static class InputFingerprint
{
    /// <summary>The SHA-256 of the bytes of a file, read as a stream.</summary>
    /// <param name="path">The path as the user gave it.</param>
    /// <returns>The hash as 64 lowercase hexadecimal digits.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is <see langword="null"/>.</exception>
    /// <exception cref="BatchPilot.Errors.InputException">The path is empty, <c>-</c>, missing, a directory or unreadable.</exception>
    public static string ComputeSha256(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (string.IsNullOrWhiteSpace(path))
        {
            throw InputErrors.NoPath();
        }

        if (path == "-")
        {
            throw new Errors.InputException("standard input has no file to fingerprint", file: InputErrors.StdinName,
                hint: "Save the input to a file and pass its path");
        }

        using var stream = InputFile.OpenStream(path);
        try
        {
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (IOException ex)
        {
            throw InputErrors.CannotRead(path, ex);
        }
    }
}
