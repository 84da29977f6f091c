import Glibc

/// This process's memory as the kernel counts it (`/proc/self/status`): what a role's closing
/// report states, so memory per sender incarnation can be read off whole processes.
public enum ProcessMemory {
    /// Resident set now and its peak, in KiB (nil where the file or field is missing).
    public static func residentKiB() -> (now: UInt64, peak: UInt64)? {
        guard let f = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(f) }
        var now: UInt64?
        var peak: UInt64?
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmRSS:") { now = kib(text) }
            if text.hasPrefix("VmHWM:") { peak = kib(text) }
        }
        guard let n = now, let p = peak else { return nil }
        return (n, p)
    }

    /// "VmRSS:     1234 kB" → 1234.
    static func kib(_ line: String) -> UInt64? {
        UInt64(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
}
