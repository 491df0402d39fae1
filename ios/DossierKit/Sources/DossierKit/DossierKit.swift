// The Swift layer over the generated bindings: an AsyncStream of the queue's events and the
// generated sync calls off the main actor. The screens' logic lives beside it, without UIKit:
// `CandidatePresenter` (CandidatePresenter.swift, the Android library's CandidatePresenter.kt
// mirrored), the page's outline (PageOutline.swift), the texts for core's codes (Wording.swift),
// a stoppable run and when the queue runs next (UploadSchedule.swift), the entry link
// (Account.swift), Beijing time (BeijingTime.swift). Written against `DossierAppProtocol`, so a
// fake of it drives the same code in the tests. The generated async functions are already
// `async throws`; a cancelled Task does not stop the Rust future (uniffi-rs #2771), so a run
// that must end (background expiry) calls `stopQueue()`.
@_exported import DossierFFI
import Foundation

/// One change of the upload queue, as a screen shows it.
public enum QueueEvent: Sendable {
    case photoChanged(QueuedPhoto)
    case progress(id: Int64, sent: UInt64, total: UInt64)
    case pageChanged(DossierPage)
}

/// Forwards the Rust listener's calls into a stream; they come on Rust's threads (a fake's on
/// its caller's). Counts what it forwarded, so the presenter can tell when it has handled every
/// event so far (`CandidatePresenter.settled()`).
final class StreamListener: QueueEvents, @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: AsyncStream<QueueEvent>.Continuation?
    private var forwarded = 0

    /// How many events went into the stream.
    var delivered: Int { locked { forwarded } }

    func attach(_ continuation: AsyncStream<QueueEvent>.Continuation) {
        locked { self.continuation = continuation }
    }

    func photoChanged(photo: QueuedPhoto) { forward(.photoChanged(photo)) }

    func uploadProgress(id: Int64, sent: UInt64, total: UInt64) {
        forward(.progress(id: id, sent: sent, total: total))
    }

    func dossierChanged(page: DossierPage) { forward(.pageChanged(page)) }

    private func forward(_ event: QueueEvent) {
        locked {
            forwarded += 1
            continuation?.yield(event)
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}

extension DossierAppProtocol {
    /// The queue's events while iterated: the subscription lives as long as the stream and ends
    /// when the iterating task is cancelled. Unbounded, so no photo change is lost.
    public func events() -> AsyncStream<QueueEvent> {
        countedEvents().stream
    }

    /// `events()` with the listener that feeds it, which counts what it delivered.
    func countedEvents() -> (stream: AsyncStream<QueueEvent>, listener: StreamListener) {
        let listener = StreamListener()
        // The closure runs before the initializer returns: subscribed once the stream can take events.
        let stream = AsyncStream(QueueEvent.self, bufferingPolicy: .unbounded) { continuation in
            listener.attach(continuation)
            let subscription = self.subscribe(events: listener)
            continuation.onTermination = { _ in _ = subscription }
        }
        return (stream, listener)
    }
}

/// Runs `work` away from the calling actor. The generated sync calls (`enqueue`, `photos`,
/// `cachedPage`, `retryNow`, `account`) read and write SQLite, a write with an fsync, and the photo
/// pipeline decodes a 50 MP photo: on the main actor each would hold the screen still.
public func inBackground<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await Task.detached(priority: .userInitiated) { try work() }.value
}

/// Prepare the photo at `path` (its page found and flattened as `framing` says, upright,
/// metadata-free, within 200 KB) off the calling actor. `PageOutline` gives the framing.
public func preparePhotoInBackground(path: String, document: Document, framing: Framing) async throws -> PreparedPhoto {
    try await inBackground { try preparePhoto(path: path, document: document, framing: framing) }
}

extension MaterialCard {
    /// The slots in order, each with its image or empty, as the materials list draws them.
    public var slots: [SlotImage?] {
        (0..<Int(maxImages)).map { slot in images.first { Int($0.slot) == slot } }
    }

    /// The label of a slot: its own name when the category has them (ID card: 正面, 反面).
    public func slotLabel(_ slot: Int) -> String {
        slot < slotLabels.count ? slotLabels[slot] : "\(slot + 1)"
    }
}
