// Whose the session and the queue are, as the screens ask about it: the entry link's ticket and
// which photos are still to be sent (what signing out keeps or discards). Core holds the rule (a
// photo goes only with its own account's session); `CandidatePresenter` decides when to ask.
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
    /// ticket of a pasted link, or the text itself without surrounding spaces; nil when blank.
    /// (Android's `CandidatePresenter.ticketIn`.)
    public static func ticket(typed text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let found = URL(string: trimmed).flatMap { EntryLink.ticket(in: $0) } ?? trimmed
        return found.isEmpty ? nil : found
    }
}

extension QueuedPhoto {
    /// Still to be sent: waiting, under way, or held until the material opens. A photo refused
    /// for good (`needsAttention`) is not: it never goes, so signing out does not ask about it.
    public var stillToSend: Bool {
        switch state {
        case .waiting, .uploading, .held: return true
        case .uploaded, .cancelled, .needsAttention: return false
        }
    }
}
