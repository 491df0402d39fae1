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
    private static let log = Logger(subsystem: AppIdentity.bundle, category: "keychain")

    /// The one item; `Security` is safe to call from any thread.
    private let item: [String: Any] = [
        kSecClass as String: kSecClassGenericPassword,
        kSecAttrService as String: AppIdentity.keychainService,
        kSecAttrAccount as String: "session",
    ]

    func load() -> StoredTokens? {
        var query = item
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var found: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &found)
        guard status == errSecSuccess else {
            if status != errSecItemNotFound { Self.log.error("reading the session failed: \(status)") }
            return nil
        }
        guard let data = found as? Data,
              let fields = String(data: data, encoding: .utf8)?.split(separator: "\n", maxSplits: 2),
              fields.count == 3, let expires = TimeInterval(fields[1])
        else { return nil }
        return StoredTokens(
            accessToken: String(fields[0]),
            accessExpiresAt: Date(timeIntervalSince1970: expires),
            refreshToken: String(fields[2]))
    }

    /// Updated in place (added the first time), so a reader never finds the session missing
    /// between a delete and an add.
    func save(tokens: StoredTokens) {
        let text = "\(tokens.accessToken)\n\(Int(tokens.accessExpiresAt.timeIntervalSince1970))\n\(tokens.refreshToken)"
        let fields: [String: Any] = [
            kSecValueData as String: Data(text.utf8),
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
        ]
        var status = SecItemUpdate(item as CFDictionary, fields as CFDictionary)
        if status == errSecItemNotFound {
            status = SecItemAdd(item.merging(fields) { _, new in new } as CFDictionary, nil)
        }
        if status != errSecSuccess { Self.log.error("saving the session failed: \(status)") }
    }

    func clear() {
        let status = SecItemDelete(item as CFDictionary)
        if status != errSecSuccess && status != errSecItemNotFound {
            Self.log.error("clearing the session failed: \(status)")
        }
    }
}
