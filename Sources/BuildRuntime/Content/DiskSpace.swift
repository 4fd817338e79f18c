import Foundation

/// Tells a full disk (or a used-up disk quota) from other write failures, whichever layer met
/// it, so that a client hears Unavailable (free some space, then try again) and not an
/// internal error. Writers Slipway owns check the errno; what other layers report (an
/// extraction's or a confined folder's I/O error, Foundation's file errors) is recognised at
/// the boundary of the work that wrote (`mapping`).
public enum DiskSpace {
    /// Whether `code` (an errno) says the file system has no room: ENOSPC or EDQUOT.
    public static func isExhausted(errno code: Int32) -> Bool { code == ENOSPC || code == EDQUOT }

    /// What the C library calls those errnos, which I/O errors of other layers end with.
    private static let exhaustedTexts = [ENOSPC, EDQUOT].map { String(cString: strerror($0)) }

    /// Whether `error` came from a full disk or a used-up quota.
    public static func isExhausted(_ error: Error) -> Bool {
        switch error {
        case let e as RuntimeError:
            return e.kind == .io && exhaustedTexts.contains { e.message.hasSuffix($0) }
        case let e as ConfinedPathError:
            guard case .io(let text) = e.kind else { return false }
            return exhaustedTexts.contains { text.hasSuffix($0) }
        default:
            let e = error as NSError
            if e.domain == NSPOSIXErrorDomain { return isExhausted(errno: Int32(e.code)) }
            if e.domain == NSCocoaErrorDomain && e.code == CocoaError.fileWriteOutOfSpace.rawValue { return true }
            return (e.userInfo[NSUnderlyingErrorKey] as? Error).map(isExhausted) ?? false
        }
    }

    /// The error of a write into `place` that found no room.
    public static func exhausted(in place: String) -> RuntimeError {
        RuntimeError.unavailable("no space left on device in \(place) (or its disk quota is used up); free some space there and try again")
    }

    /// Runs `body`, which writes into `place`; a failure from a full disk becomes `exhausted`.
    public static func mapping<T>(in place: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch where isExhausted(error) {
            throw exhausted(in: place)
        }
    }
}
