// When the upload queue runs next, decided once from how a run ended: the run while the app is
// open, the background task and the network's return share it, so they cannot disagree about
// what an outcome means. The same cases and names as the Android library's UploadSchedule.kt;
// `backgroundRun` is what iOS's BGTaskScheduler is asked for.
import DossierFFI
import Foundation

public enum UploadSchedule: Equatable, Sendable {
    /// Nothing waits: no run until the candidate confirms another photo.
    case done
    /// Photos wait out a backoff, the server's Retry-After or a held material: run again then.
    case retryAt(Date)
    /// No connection: run again when there is one.
    case whenOnline
    /// Uploads on Wi-Fi only and there is none: run again on an unmetered network.
    case whenOnWifi
    /// The session ended: nothing runs until the candidate signs in (signing in starts a run).
    case afterSignIn
    /// The run was stopped (the platform's time was up) or failed on the phone itself: the
    /// cut-off photo waits again; run again soon, when the platform gives time.
    case soon

    /// What to schedule after a run that answered with `outcome`.
    public static func after(_ outcome: RunOutcome) -> UploadSchedule {
        switch outcome {
        case .done: return .done
        case .retryAt(let at): return .retryAt(at)
        case .waitingForNetwork: return .whenOnline
        case .waitingForWifi: return .whenOnWifi
        case .signInNeeded: return .afterSignIn
        case .stopped: return .soon
        }
    }

    /// What to schedule after a run that failed with `error` instead of answering.
    public static func afterFailure(_ error: Error) -> UploadSchedule {
        guard let error = error as? DossierError else { return .soon }
        switch error {
        case .Network: return .whenOnline
        case .SignedOut: return .afterSignIn
        default: return .soon
        }
    }

    /// A photo was just stored in the queue: a background run is asked for before the run while
    /// the app is open begins, so the photo goes even if the candidate leaves at once.
    public static let afterEnqueue = UploadSchedule.soon

    /// The background run iOS is asked for. A BGProcessingTask always needs a network here, and
    /// iOS has no Wi-Fi-only condition: a run that finds only a metered network answers
    /// `waitingForWifi` again.
    public var backgroundRun: BackgroundRun {
        switch self {
        case .done, .afterSignIn: return .withdrawn
        case .retryAt(let at): return .from(at)
        case .whenOnline, .whenOnWifi, .soon: return .asSoonAsAllowed
        }
    }

    /// The run ended as it should (a background task reports success): it was neither cut off nor
    /// failed.
    public var ranToItsEnd: Bool { self != .soon }
}

/// The request for iOS's background upload task.
public enum BackgroundRun: Equatable, Sendable {
    /// None: a request made before is withdrawn.
    case withdrawn
    case asSoonAsAllowed
    case from(Date)
}

extension DossierAppProtocol {
    /// Run the upload queue once and decide when to run it next. Cancelling the calling task stops
    /// the Rust run (`stopQueue`; a cancelled Swift task alone does not, uniffi-rs #2771): the
    /// photo under way waits again, the run answers `stopped`, and this returns `.soon` at once.
    public func runUploads(connection: Connection, wifiOnly: Bool) async -> UploadSchedule {
        // A stop before the Rust run began would not end it: a task cancelled already ends here.
        if Task.isCancelled { return .soon }
        do {
            let outcome = try await withTaskCancellationHandler {
                try await self.runQueue(connection: connection, wifiOnly: wifiOnly)
            } onCancel: {
                self.stopQueue()
            }
            return .after(outcome)
        } catch {
            return .afterFailure(error)
        }
    }
}
