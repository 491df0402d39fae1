import DossierKit
import Foundation
import Network

/// What core needs to know of the connection, from Network.framework. Started at launch (also a
/// launch by the background task); until the monitor's first status the connection is unknown,
/// and `settled()` waits for it instead of calling it offline, which made a background cold start
/// skip its run.
final class NetworkState: @unchecked Sendable {
    static let shared = NetworkState()

    private let monitor = NWPathMonitor()
    private let queue = DispatchQueue(label: AppIdentity.networkQueue)
    // Guards the three below: the monitor's queue writes them, any caller reads.
    private let lock = NSLock()
    private var started = false
    private var latest: Connection?
    private var waiting: [UUID: CheckedContinuation<Connection, Never>] = [:]

    private init() {}

    func start() {
        lock.lock()
        defer { lock.unlock() }
        guard !started else { return }
        started = true
        monitor.pathUpdateHandler = { [weak self] path in self?.update(path) }
        monitor.start(queue: queue)
    }

    /// The connection once the monitor has said it. Its first status comes within moments of
    /// `start`; the bound keeps a monitor that never answers from holding a run for ever (then
    /// offline, and core says to wait for a network).
    func settled(timeout: TimeInterval = 3) async -> Connection {
        start()
        let id = UUID()
        return await withCheckedContinuation { continuation in
            self.lock.lock()
            if let known = self.latest {
                self.lock.unlock()
                continuation.resume(returning: known)
                return
            }
            self.waiting[id] = continuation
            self.lock.unlock()
            self.queue.asyncAfter(deadline: .now() + timeout) { [weak self] in
                self?.resume(id, with: .offline)
            }
        }
    }

    /// Each waiter is resumed once: by the first status or by its own timeout, whichever takes
    /// it out of `waiting` first.
    private func resume(_ id: UUID, with connection: Connection) {
        lock.lock()
        let continuation = waiting.removeValue(forKey: id)
        lock.unlock()
        continuation?.resume(returning: connection)
    }

    private func update(_ path: NWPath) {
        let now: Connection = path.status != .satisfied ? .offline
            : (path.isExpensive || path.isConstrained ? .metered : .unmetered)
        lock.lock()
        let before = latest
        latest = now
        let woken = Array(waiting.values)
        waiting.removeAll()
        lock.unlock()
        woken.forEach { $0.resume(returning: now) }
        // The network came back (a change, not the first status): photos waiting out a backoff
        // are due now.
        if before == .offline && now != .offline {
            Task { await Uploads.networkReturned() }
        }
    }
}
