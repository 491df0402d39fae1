import DossierKit
import Foundation

/// The app's identifiers, one family under the bundle id (cn.dossier.app, the Android app's
/// applicationId too): the background task and the Keychain item are named from it, and
/// Info.plist declares the task as `$(PRODUCT_BUNDLE_IDENTIFIER).upload`, so they cannot drift.
enum AppIdentity {
    static let bundle = Bundle.main.bundleIdentifier ?? "cn.dossier.app"
    static let uploadTask = bundle + ".upload"
    static let keychainService = bundle
    static let networkQueue = bundle + ".network"
}

/// The one `DossierApp` (client, session, queue) of the process, made by whoever needs it first:
/// the screens, or the background task and the network monitor of an app iOS started without a
/// screen. Not on the main actor, so a background launch does not make the screens' model.
enum Runtime {
    static let dossier: DossierApp = {
        let server = Bundle.main.object(forInfoDictionaryKey: "DossierServerURL") as? String ?? "https://dossier.example.cn"
        let data = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        try? FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        // The queue's database cannot open only if the phone's storage fails; there is no app then.
        return try! DossierApp(baseUrl: server, dataDir: data.path, tokens: KeychainTokens())
    }()
}

/// The app's text for `key` in the candidate's language (zh-Hans, en); for keys chosen at run
/// time (`Wording`), where a `LocalizedStringKey` literal cannot be written.
func localized(_ key: String) -> String {
    Bundle.main.localizedString(forKey: key, value: nil, table: nil)
}
