import Foundation

/// Ctrl-C as a flag long-running loops check, so they can clean up (cancel a stack update, delete a
/// half-made stack) before exiting 130 instead of dying mid-call.
public final class InterruptFlag: @unchecked Sendable {
    public static let shared = InterruptFlag()
    private let lock = NSLock()
    private var raised = false
    private var source: DispatchSourceSignal?

    public var isRaised: Bool { lock.withLock { raised } }

    /// Starts catching SIGINT (idempotent). A second Ctrl-C exits at once.
    public func install() {
        lock.withLock {
            guard source == nil else { return }
            signal(SIGINT, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            s.setEventHandler { [weak self] in
                guard let self else { return }
                let again = self.lock.withLock { () -> Bool in defer { self.raised = true }; return self.raised }
                if again { exit(130) }
                FileHandle.standardError.write(Data("\ninterrupt: cleaning up (Ctrl-C again to quit at once)\n".utf8))
            }
            s.resume()
            source = s
        }
    }

    /// Tests raise it by hand.
    public func raise() { lock.withLock { raised = true } }
    public func reset() { lock.withLock { raised = false } }
}
