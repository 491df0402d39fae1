import BackgroundTasks
import DossierKit
import Foundation
import UIKit

/// The upload queue's runs: while the app is open (with a little time after the candidate leaves
/// it), when the network comes back, and in a BGProcessingTask that needs the network. Core
/// decides what is due; DossierKit's `UploadSchedule` maps each run's outcome onto the next
/// background run.
///
/// A run that must end (background time up) is stopped in Rust (`runUploads` calls `stopQueue`
/// when its task is cancelled), since cancelling the Swift task does not stop a UniFFI future
/// (uniffi-rs #2771): the cut-off photo waits again and is stored once by a later run.
///
/// No background URLSession: it would carry an upload on while the app is suspended or ended,
/// but it takes only a file and a request made beforehand, while core's upload is its own HTTP
/// client (the session's token refreshed, the idempotency key, the answer reconciled with the
/// queue); a transfer iOS finishes alone would bypass all of that. A ≤200 KB photo needs seconds,
/// which `beginBackgroundTask` gives, and the BGProcessingTask picks up what is left.
enum Uploads {
    static func register() {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: AppIdentity.uploadTask, using: nil) { task in
            runTask(task as! BGProcessingTask)
        }
    }

    /// Ask iOS for a background run as `schedule` says, or withdraw the one asked for.
    static func schedule(_ schedule: UploadSchedule) {
        let earliest: Date?
        switch schedule.backgroundRun {
        case .withdrawn:
            BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: AppIdentity.uploadTask)
            return
        case .asSoonAsAllowed: earliest = nil
        case .from(let at): earliest = at
        }
        let request = BGProcessingTaskRequest(identifier: AppIdentity.uploadTask)
        request.requiresNetworkConnectivity = true
        request.requiresExternalPower = false
        request.earliestBeginDate = earliest
        // Replaces the request asked for before; fails only where background runs are off
        // (the simulator, Background App Refresh switched off), and then the open app's runs remain.
        try? BGTaskScheduler.shared.submit(request)
    }

    /// One run with the connection the monitor settled on (a background cold start waits for
    /// its first status rather than calling it offline); stopped in Rust when the calling task is
    /// cancelled; the next background run asked for as its outcome says.
    static func run() async -> UploadSchedule {
        let connection = await NetworkState.shared.settled()
        let next = await Runtime.dossier.runUploads(connection: connection, wifiOnly: false)
        schedule(next)
        return next
    }

    /// A run while the app is open, with the time iOS gives an app that has just been left
    /// (`beginBackgroundTask`), so the photo under way is not cut off when the candidate switches
    /// apps; when that time is up the run is stopped and the background task takes over.
    @MainActor
    static func runWithBackgroundTime() async {
        let time = BackgroundTime(name: "upload") { Runtime.dossier.stopQueue() }
        defer { time.end() }
        _ = await run()
    }

    /// The network came back: photos waiting out a backoff are due now.
    static func networkReturned() async {
        let dossier = Runtime.dossier
        guard let due = try? await inBackground({ try dossier.retryNow() }), due > 0 else { return }
        await runWithBackgroundTime()
    }

    private static func runTask(_ task: BGProcessingTask) {
        let work = Task {
            let next = await run()
            // Once, here: on expiry the run is stopped and returns at once, in the expiry's time.
            task.setTaskCompleted(success: next.ranToItsEnd)
        }
        task.expirationHandler = { work.cancel() }
    }
}

/// The time iOS gives an app that has just left the screen, ended exactly once: by `end()` when
/// the work is done, or when iOS says the time is up (after `expired`), whichever comes first.
@MainActor
final class BackgroundTime {
    private var identifier = UIBackgroundTaskIdentifier.invalid

    init(name: String, expired: @escaping @MainActor () -> Void) {
        identifier = UIApplication.shared.beginBackgroundTask(withName: name) { [weak self] in
            // iOS calls this on the main thread and ends the app unless the task ends here.
            MainActor.assumeIsolated {
                expired()
                self?.end()
            }
        }
    }

    func end() {
        guard identifier != .invalid else { return }
        UIApplication.shared.endBackgroundTask(identifier)
        identifier = .invalid
    }
}
