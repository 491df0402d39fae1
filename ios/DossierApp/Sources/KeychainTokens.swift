import DossierKit
import Foundation
import Security

/// The session's tokens in the Keychain, readable after the first unlock (so the background
/// upload task can use them) and never backed up to another device.
final class KeychainTokens: TokenStorage, @unchecked Sendable {
    private let query: [String: Any] = [
        kSecClass as String: kSecClassGenericPassword,
        kSecAttrService as String: "cn.dossier.app",
        kSecAttrAccount as String: "session",
    ]

    func load() -> StoredTokens? {
        var q = query
        q[kSecReturnData as String] = true
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        guard SecItemCopyMatching(q as CFDictionary, &item) == errSecSuccess,
              let data = item as? Data,
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
        clear()
        var q = query
        q[kSecValueData as String] = Data(text.utf8)
        q[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        SecItemAdd(q as CFDictionary, nil)
    }

    func clear() {
        SecItemDelete(query as CFDictionary)
    }
}
