import BackgroundTasks
import DossierKit
import Foundation
import Network

/// Runs the upload queue when iOS lets the app work in the background: a BGProcessingTask that
/// needs the network. Core decides what is due; this maps its outcome onto the next request.
/// On expiry the run is stopped in Rust (`stopQueue`: cancelling the Swift task alone does not
/// stop a UniFFI future, uniffi-rs #2771): the cut-off photo waits again and is stored once by a
/// later run, and the task is completed exactly once, when the run has returned.
enum BackgroundUploads {
    static let identifier = "cn.dossier.app.upload"

    static func register() {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            run(task as! BGProcessingTask)
        }
    }

    /// Ask iOS for a run (at `earliest`, core's next try, or as soon as it allows).
    static func schedule(earliest: Date? = nil) {
        let request = BGProcessingTaskRequest(identifier: identifier)
        request.requiresNetworkConnectivity = true
        request.requiresExternalPower = false
        request.earliestBeginDate = earliest
        try? BGTaskScheduler.shared.submit(request)
    }

    private static func run(_ task: BGProcessingTask) {
        let dossier = AppModel.shared.dossier
        let work = Task {
            let outcome = try? await withTaskCancellationHandler {
                try await dossier.runQueue(
                    connection: NetworkState.shared.connection, wifiOnly: false)
            } onCancel: {
                dossier.stopQueue()
            }
            switch outcome {
            case .retryAt(let at): schedule(earliest: at)
            case .waitingForNetwork, .waitingForWifi, .stopped, .none: schedule()
            case .done, .signInNeeded: break
            }
            // Once, here: the stopped run returns at once, so this comes in the expiry's time.
            task.setTaskCompleted(success: outcome != nil && outcome != .stopped)
        }
        task.expirationHandler = { work.cancel() }
    }
}

/// What core needs to know of the connection, from Network.framework.
final class NetworkState: @unchecked Sendable {
    static let shared = NetworkState()
    private let monitor = NWPathMonitor()
    private(set) var connection: Connection = .offline

    private init() {
        monitor.pathUpdateHandler = { [weak self] path in
            guard let self else { return }
            let was = self.connection
            self.connection = path.status != .satisfied ? .offline : (path.isExpensive || path.isConstrained ? .metered : .unmetered)
            // The network came back: photos waiting out a backoff are due now.
            if was == .offline && self.connection != .offline {
                Task { await AppModel.shared.networkReturned() }
            }
        }
        monitor.start(queue: DispatchQueue(label: "cn.dossier.network"))
    }
}
