import FairflowCore
import Foundation

/// One run per stack at a time: flock on `.fairflow/locks/<stack>.lock`, released when the process ends
/// (even by SIGKILL), so a killed run never leaves a stale lock.
public final class StackLock {
    public let path: String
    private var fd: Int32 = -1

    public init(directory: String, stack: String) {
        let safe = stack.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
        path = (directory as NSString).appendingPathComponent("locks/\(String(safe)).lock")
    }

    /// Takes the lock; refuses at once (naming the holder) unless `wait`.
    public func acquire(runId: String, wait: Bool, onWait: (String) -> Void = { _ in }) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FairflowError("cannot open the stack lock \(path)", why: String(cString: strerror(errno)), fix: "check .fairflow's permissions")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "another run"
            guard wait else {
                close(fd); fd = -1
                throw FairflowError("stack is busy", why: "\(holder.isEmpty ? "another run" : holder) holds \(path)",
                                    fix: "wait for it to finish, or pass --wait-lock to queue behind it")
            }
            onWait(holder)
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR { throw FairflowError("cannot lock \(path)", why: String(cString: strerror(errno))) }
            }
        }
        _ = ftruncate(fd, 0)
        let who = "run \(runId) (pid \(getpid()))\n"
        _ = who.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
