// Whose the session and the queue are, as the screens ask about it: the entry link's ticket,
// which photos are still to be sent, and what the candidate is asked before the account is left.
// Core holds the rule (a photo goes only with its own account's session); this only decides
// when to ask.
import DossierFFI
import Foundation

public enum EntryLink {
    /// The ticket of the registration site's link `dossier://enter?ticket=…`; nil for any other.
    public static func ticket(in url: URL) -> String? {
        guard url.scheme?.lowercased() == "dossier", url.host?.lowercased() == "enter",
              let ticket = URLComponents(url: url, resolvingAgainstBaseURL: false)?
                .queryItems?.first(where: { $0.name == "ticket" })?.value,
              !ticket.isEmpty
        else { return nil }
        return ticket
    }

    /// What the candidate typed or pasted on the entry screen ("报名网站的入口链接或凭证"): the
    /// ticket of a pasted link, or the text itself without surrounding spaces.
    public static func ticket(typed text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return URL(string: trimmed).flatMap { ticket(in: $0) } ?? trimmed
    }
}

extension QueuedPhoto {
    /// Not on the server yet (waiting, under way, held, or refused and waiting for the
    /// candidate): what signing out would discard or keep.
    public var unsent: Bool {
        switch state {
        case .uploaded, .cancelled: return false
        case .waiting, .uploading, .held, .needsAttention: return true
        }
    }
}

/// Leaving the signed-in account, by signing out or by an entry link (perhaps another
/// account's): what the candidate is asked first. Kept photos go only when this same account
/// signs in again; another account never sends them.
public struct LeavingAccount: Equatable, Sendable {
    public enum Reason: Equatable, Sendable {
        case signOut
        /// A `dossier://enter` link arrived while signed in: entered only if the candidate agrees.
        case enter(ticket: String)
    }

    public let reason: Reason
    /// The account being left, to name it; nil if core does not know it yet.
    public let account: String?
    /// Its photos not sent yet: the candidate keeps or discards them.
    public let unsentPhotos: Int

    public init(reason: Reason, account: String?, photos: [QueuedPhoto]) {
        self.reason = reason
        self.account = account
        unsentPhotos = photos.filter(\.unsent).count
    }

    /// Asked first when photos wait (keep or discard them), and always before a link replaces the
    /// session; a plain sign-out with nothing waiting just happens.
    public var asks: Bool { unsentPhotos > 0 || reason != .signOut }

    /// The ticket to enter with once the account is left.
    public var ticket: String? {
        if case .enter(let ticket) = reason { return ticket }
        return nil
    }
}
