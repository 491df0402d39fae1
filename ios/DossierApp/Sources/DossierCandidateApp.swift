import BackgroundTasks
import DossierKit
import SwiftUI
import UIKit

/// The app's entry: one `DossierApp` (client and queue) for the process, the background upload
/// task registered before launch finishes (as BGTaskScheduler requires), APNs registration.
@main
struct DossierCandidateApp: App {
    @UIApplicationDelegateAdaptor(AppDelegate.self) private var delegate
    @StateObject private var model = AppModel.shared

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(model)
                .onOpenURL { url in
                    // dossier://enter?ticket=…
                    let ticket = URLComponents(url: url, resolvingAgainstBaseURL: false)?
                        .queryItems?.first { $0.name == "ticket" }?.value
                    if let ticket { Task { await model.enter(ticket: ticket) } }
                }
        }
    }
}

final class AppDelegate: NSObject, UIApplicationDelegate {
    func application(
        _ application: UIApplication,
        didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]? = nil
    ) -> Bool {
        BackgroundUploads.register()
        application.registerForRemoteNotifications()
        return true
    }

    func application(_ application: UIApplication, didRegisterForRemoteNotificationsWithDeviceToken deviceToken: Data) {
        let token = deviceToken.map { String(format: "%02x", $0) }.joined()
        Task { await AppModel.shared.registerPush(token: token) }
    }

    /// A reviewer returned a material or the result is out: sync the page.
    func application(
        _ application: UIApplication,
        didReceiveRemoteNotification userInfo: [AnyHashable: Any]
    ) async -> UIBackgroundFetchResult {
        await AppModel.shared.refresh()
        return .newData
    }
}
