import DossierKit
import Foundation
import os
import Security

/// The session's tokens in the Keychain, readable after the first unlock (so the background
/// upload task can use them) and never backed up to another device.
///
/// Rust calls these from its own threads and cannot take a failure back: nothing here throws or
/// traps. A Keychain that refuses (the phone not unlocked since it started, a full disk) is
/// logged; core then sees no session and asks the candidate to sign in, which is the truth.
final class KeychainTokens: TokenStorage, @unchecked Sendable {
    /// The one item; `Security` is safe to call from any thread.
    private let item = KeychainItem(account: "session")

    func load() -> StoredTokens? {
        guard let data = item.read(),
              let fields = String(data: data, encoding: .utf8)?.split(separator: "\n", maxSplits: 2),
              fields.count == 3, let expires = TimeInterval(fields[1])
        else { return nil }
        return StoredTokens(
            accessToken: String(fields[0]),
            accessExpiresAt: Date(timeIntervalSince1970: expires),
            refreshToken: String(fields[2]))
    }

    func save(tokens: StoredTokens) {
        let text = "\(tokens.accessToken)\n\(Int(tokens.accessExpiresAt.timeIntervalSince1970))\n\(tokens.refreshToken)"
        item.write(Data(text.utf8))
    }

    func clear() {
        item.delete()
    }
}

/// The activation under way (its token and the candidate's name), kept while the activation form
/// is shown, so that a process iOS ended meanwhile (the candidate in the password manager or in
/// another app) opens on the form again: what Android keeps in SavedStateHandle. An item of its
/// own beside the session's, with the same protection; a failing Keychain is logged and reads as
/// "no activation", so the app opens as it would have without one.
enum KeptActivation {
    private static let item = KeychainItem(account: "activation")
    /// Writes off the main actor, in the order the session changed.
    private static let queue = DispatchQueue(label: AppIdentity.bundle + ".activation")

    /// The `.activating` session kept when the process ended, for the presenter to resume.
    static func load() -> Session? {
        guard let data = Self.item.read(), let text = String(data: data, encoding: .utf8) else { return nil }
        let fields = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        guard fields.count == 2, !fields[0].isEmpty else { return nil }
        return .activating(activationToken: String(fields[0]), name: String(fields[1]))
    }

    /// The session changed: kept while activating, removed once it is anything else (activated,
    /// cancelled, signed out); nothing while the session is still being read at start.
    static func follow(_ session: Session) {
        switch session {
        case .activating(let token, let name):
            let data = Data("\(token)\n\(name)".utf8)
            Self.queue.async { Self.item.write(data) }
        case .signedOut, .signedIn:
            Self.queue.async { Self.item.delete() }
        case .starting:
            break
        }
    }
}

/// One generic-password item of the app's Keychain service (`AppIdentity.keychainService`),
/// readable after the first unlock and never backed up to another device. Nothing here throws or
/// traps: a refusal is logged, and a read that fails finds nothing.
private struct KeychainItem {
    private static let log = Logger(subsystem: AppIdentity.bundle, category: "keychain")

    /// The item's name within the service ("session", "activation"), also named in the log.
    let account: String

    private var query: [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: AppIdentity.keychainService,
            kSecAttrAccount as String: account,
        ]
    }

    func read() -> Data? {
        var search = query
        search[kSecReturnData as String] = true
        search[kSecMatchLimit as String] = kSecMatchLimitOne
        var found: CFTypeRef?
        let status = SecItemCopyMatching(search as CFDictionary, &found)
        guard status == errSecSuccess else {
            if status != errSecItemNotFound {
                Self.log.error("reading the \(self.account, privacy: .public) failed: \(status)")
            }
            return nil
        }
        return found as? Data
    }

    /// Updated in place (added the first time), so a reader never finds the item missing between
    /// a delete and an add.
    func write(_ data: Data) {
        let fields: [String: Any] = [
            kSecValueData as String: data,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
        ]
        var status = SecItemUpdate(query as CFDictionary, fields as CFDictionary)
        if status == errSecItemNotFound {
            status = SecItemAdd(query.merging(fields) { _, new in new } as CFDictionary, nil)
        }
        if status != errSecSuccess { Self.log.error("saving the \(self.account, privacy: .public) failed: \(status)") }
    }

    func delete() {
        let status = SecItemDelete(query as CFDictionary)
        if status != errSecSuccess && status != errSecItemNotFound {
            Self.log.error("clearing the \(self.account, privacy: .public) failed: \(status)")
        }
    }
}
