// The time candidates are told in: every district's notice states Beijing time (UTC+8, no
// daylight saving), so the deadline reads the same on a phone set to another zone, as on Android
// and the web page.
import Foundation

public enum BeijingTime {
    public static let zone = TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600)!

    /// `2025-03-31 17:00`, the Android app's and the web page's form; the screen labels it
    /// (北京时间).
    public static func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }
}
