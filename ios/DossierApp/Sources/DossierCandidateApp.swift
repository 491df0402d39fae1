import BackgroundTasks
import DossierKit
import SwiftUI
import UIKit
import UserNotifications

/// The app's entry: one `DossierApp` (client and queue) for the process, the network monitor and
/// the background upload task started before launch finishes (a background launch needs both),
/// notifications shown also while the app is open.
@main
struct DossierCandidateApp: App {
    @UIApplicationDelegateAdaptor(AppDelegate.self) private var delegate
    @StateObject private var model = AppModel.shared
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(model)
                // dossier://enter?ticket=… from the registration site; the presenter asks first
                // while someone is signed in.
                .onOpenURL { url in model.open(url) }
        }
        .onChange(of: scenePhase) { phase in
            if phase == .active { model.becameActive() }
        }
    }
}

final class AppDelegate: NSObject, UIApplicationDelegate, UNUserNotificationCenterDelegate {
    func application(
        _ application: UIApplication,
        didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]? = nil
    ) -> Bool {
        // First, so its first status is known by the time anything uploads.
        NetworkState.shared.start()
        Uploads.register()
        UNUserNotificationCenter.current().delegate = self
        // Keeps the APNs token current; permission to show notifications is asked after sign-in.
        application.registerForRemoteNotifications()
        return true
    }

    func application(_ application: UIApplication, didRegisterForRemoteNotificationsWithDeviceToken deviceToken: Data) {
        let token = deviceToken.map { String(format: "%02x", $0) }.joined()
        let dossier = Runtime.dossier
        Task.detached {
            guard dossier.isSignedIn() else { return }
            try? await dossier.registerPush(platform: "apns", token: token)
        }
    }

    /// A reviewer returned a material or the result is out: sync the page.
    func application(
        _ application: UIApplication,
        didReceiveRemoteNotification userInfo: [AnyHashable: Any]
    ) async -> UIBackgroundFetchResult {
        await AppModel.shared.refresh()
        return .newData
    }

    /// A notification while the app is open: shown all the same (iOS would hide it), and the
    /// page synced, since it is about this dossier.
    nonisolated func userNotificationCenter(
        _ center: UNUserNotificationCenter,
        willPresent notification: UNNotification,
        withCompletionHandler completionHandler: @escaping (UNNotificationPresentationOptions) -> Void
    ) {
        Task { @MainActor in await AppModel.shared.refresh() }
        completionHandler([.banner, .list, .sound, .badge])
    }

    /// The candidate tapped a notification: the page and messages as they are now.
    nonisolated func userNotificationCenter(
        _ center: UNUserNotificationCenter,
        didReceive response: UNNotificationResponse,
        withCompletionHandler completionHandler: @escaping () -> Void
    ) {
        Task { @MainActor in await AppModel.shared.refresh() }
        completionHandler()
    }
}

enum Notifications {
    /// Asks to show the reviewers' notifications (iOS asks the candidate only while undecided,
    /// so this is safe after every sign-in), then registers for pushes, whose token reaches the
    /// server through `registerPush`.
    @MainActor
    static func askAndRegister() async {
        let center = UNUserNotificationCenter.current()
        if await center.notificationSettings().authorizationStatus == .notDetermined {
            _ = try? await center.requestAuthorization(options: [.alert, .sound, .badge])
        }
        UIApplication.shared.registerForRemoteNotifications()
    }
}
