package cn.dossier.app

import androidx.annotation.StringRes
import androidx.compose.runtime.Composable
import androidx.compose.ui.res.stringResource
import cn.dossier.kit.Notice
import java.time.ZoneId
import java.time.format.DateTimeFormatter

/**
 * The candidate's words for the presenter's typed values: notices, and the machine codes of core
 * and the server (`count_reached`, `unsupported_format`...), Chinese first (`res/values`), English
 * second (`res/values-en`). The server's own reasons are English for logs, never shown.
 */

/** The deadline is a rule set in Beijing time: shown in it, and labelled, wherever the phone is. */
val beijingTime: DateTimeFormatter = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(ZoneId.of("Asia/Shanghai"))

/** When something happened (a message, the page's last fetch): the phone's own time. */
val localTime: DateTimeFormatter = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(ZoneId.systemDefault())

@Composable
fun noticeText(notice: Notice): String = when (notice) {
    Notice.Submitted -> stringResource(R.string.submit_done)
    is Notice.NoConnection -> notice.retryAfterSecs?.let { secs ->
        stringResource(R.string.error_try_later, ((secs.toLong() + 59) / 60).coerceAtLeast(1))
    } ?: stringResource(R.string.error_network)
    Notice.SessionEnded -> stringResource(R.string.error_signed_out)
    Notice.WrongPassword -> stringResource(R.string.error_wrong_password)
    is Notice.Locked -> reasonText(notice.code)
    is Notice.Refused -> reasonText(notice.code)
    is Notice.InvalidPhoto -> reasonText(notice.code)
    Notice.PhotoUnreadable -> stringResource(R.string.error_photo_unreadable)
    is Notice.UploadRefused -> stringResource(R.string.upload_refused, notice.material, reasonText(notice.code))
    Notice.StorageFailed -> stringResource(R.string.error_storage)
    Notice.Failed -> stringResource(R.string.error_failed)
}

/** A refusal's code in words; one the app does not know is named by its code, not left blank. */
@Composable
fun reasonText(code: String?): String =
    reasonOf(code)?.let { stringResource(it) } ?: stringResource(R.string.reason_other, code ?: "—")

@StringRes
private fun reasonOf(code: String?): Int? = when (code) {
    "locked" -> R.string.error_locked
    "window_closed" -> R.string.window_closed
    "window_not_open" -> R.string.window_not_open
    "count_reached" -> R.string.reason_count_reached
    "slot_taken" -> R.string.reason_slot_taken
    "missing_required" -> R.string.reason_missing_required
    "nothing_to_submit" -> R.string.reason_nothing_to_submit
    "ticket_invalid" -> R.string.reason_ticket_invalid
    "ticket_expired" -> R.string.reason_ticket_expired
    "ticket_used" -> R.string.reason_ticket_used
    "already_activated", "already_exists" -> R.string.reason_already_activated
    "password_rules" -> R.string.reason_password_rules
    "pledges_required" -> R.string.reason_pledges_required
    "invalid_profile" -> R.string.reason_invalid_profile
    "unsupported_format" -> R.string.reason_unsupported_format
    "not_an_image" -> R.string.reason_not_an_image
    "corrupt", "io" -> R.string.error_photo_unreadable
    "payload_too_large", "file_too_large", "too_many_pixels", "over_budget", "budget_unreachable" ->
        R.string.reason_photo_too_large
    "invalid_photo", "not_upright" -> R.string.reason_invalid_photo
    "invalid_corners" -> R.string.reason_invalid_corners
    else -> null
}

@Composable
fun warningText(warning: String): String = when (warning) {
    "blurry" -> stringResource(R.string.warning_blurry)
    "too_dark" -> stringResource(R.string.warning_too_dark)
    "washed_out" -> stringResource(R.string.warning_washed_out)
    "too_small" -> stringResource(R.string.warning_too_small)
    else -> stringResource(R.string.warning_other)
}
