// Which of the app's texts tells the candidate what core's codes mean: the photo's warnings, the
// presenter's notices and the refusals they carry, the queue's held and refused photos. Only the
// keys are here; the texts are the app's Localizable.strings (zh-Hans first, en), so this stays
// free of bundles and UIKit and a plain `swift test` covers it. Every key answered here is in both
// strings files; a code this app does not know yet (a newer server or core) gets its kind's
// general text, never a raw key or the server's English.
import DossierFFI

public enum Wording {
    /// The key of a warning of `PreparedPhoto.warnings`.
    public static func warning(_ code: String) -> String {
        warnings[code] ?? "warning_other"
    }

    /// The key of a notice of `CandidatePresenter`. Two take arguments, formatted by the app:
    /// "error_try_later" the minutes to wait (`waitMinutes`), "upload_refused" the material's
    /// name and the text of `attention(code)`.
    public static func notice(_ notice: Notice) -> String {
        switch notice {
        case .submitted: return "submit_done"
        case .noConnection(let retryAfterSecs): return retryAfterSecs == nil ? "error_network" : "error_try_later"
        case .sessionEnded: return "error_signed_out"
        case .wrongPassword: return "error_wrong_password"
        case .locked(let code): return refusal(code, otherwise: "error_locked")
        case .refused(let code): return refusal(code)
        case .invalidPhoto(let code): return photo(code)
        case .photoUnreadable: return "photo_unreadable"
        case .uploadRefused: return "upload_refused"
        case .storageFailed: return "error_storage"
        case .failed: return "error_bug"
        }
    }

    /// The whole minutes to wait for the server's Retry-After, at least one.
    public static func waitMinutes(_ retryAfterSecs: UInt64) -> Int {
        max(1, Int(clamping: retryAfterSecs / 60 + (retryAfterSecs % 60 > 0 ? 1 : 0)))
    }

    /// The key of a refusal by its server code (`count_reached`, `window_closed`...), as carried
    /// by `Refused`, `Locked` and a queued photo that is held or needs attention.
    public static func refusal(_ code: String, otherwise: String = "error_refused") -> String {
        if code == "invalid_photo" { return photo(code) }
        return refusals[code] ?? otherwise
    }

    /// The key for a queued photo the server refused for good (`QueuedState.needsAttention`).
    public static func attention(_ code: String?) -> String {
        code.map { refusal($0) } ?? "error_refused"
    }

    /// The key of why a photo cannot be used: the pipeline's codes (`unsupported_format`...), or
    /// the server's `invalid_photo`.
    public static func photo(_ code: String) -> String {
        photos[code] ?? "photo_invalid"
    }

    static let warnings: [String: String] = [
        "blurry": "warning_blurry",
        "too_dark": "warning_too_dark",
        "washed_out": "warning_washed_out",
        "too_small": "warning_too_small",
    ]

    /// The codes a candidate's app can meet (core's `ErrorCode` names); staff-only codes fall to
    /// the general text.
    static let refusals: [String: String] = [
        "locked": "error_locked",
        "window_not_open": "error_window_not_open",
        "window_closed": "error_window_closed",
        "count_reached": "error_count_reached",
        "slot_taken": "error_slot_taken",
        "missing_required": "error_missing_required",
        "nothing_to_submit": "error_nothing_to_submit",
        "payload_too_large": "error_payload_too_large",
        "idempotency_conflict": "error_idempotency_conflict",
        "ticket_invalid": "error_ticket_invalid",
        "ticket_expired": "error_ticket_expired",
        "ticket_used": "error_ticket_used",
        "already_activated": "error_already_activated",
        "already_exists": "error_already_exists",
        "password_rules": "error_password_rules",
        "pledges_required": "error_pledges_required",
        "invalid_profile": "error_invalid_profile",
        "unknown_category": "error_unknown_category",
        "forbidden": "error_forbidden",
    ]

    /// The photo pipeline's codes (core's `PhotoError::code`).
    static let photos: [String: String] = [
        "unsupported_format": "photo_unsupported_format",
        "not_an_image": "photo_not_an_image",
        "too_many_pixels": "photo_too_many_pixels",
        "file_too_large": "photo_file_too_large",
        "corrupt": "photo_corrupt",
        "over_budget": "photo_over_budget",
        "not_upright": "photo_not_upright",
        "budget_unreachable": "photo_budget_unreachable",
        "io": "photo_io",
        "invalid_corners": "photo_invalid_corners",
    ]
}
