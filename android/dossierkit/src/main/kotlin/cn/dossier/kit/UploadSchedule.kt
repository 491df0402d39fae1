package cn.dossier.kit

import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException

/**
 * When the upload queue runs next, decided once from how a run ended: Android's `UploadWorker`
 * maps it onto WorkManager and the iOS background task onto BGTaskScheduler, so the two apps cannot
 * disagree about what an outcome means. Core decides what is due and when; this only names what the
 * platform's scheduler must wait for.
 */
sealed interface UploadSchedule {
    /** Nothing waits: no run until the candidate confirms another photo. */
    data object Done : UploadSchedule

    /** Photos wait out a backoff, the server's Retry-After or a held material: run again at [at]. */
    data class RetryAt(val at: Instant) : UploadSchedule

    /** No connection: run again when there is one. */
    data object WhenOnline : UploadSchedule

    /** The candidate allows uploads on Wi-Fi only and there is none: run again on an unmetered network. */
    data object WhenOnWifi : UploadSchedule

    /** The session ended: nothing runs until the candidate signs in again (signing in starts a run). */
    data object AfterSignIn : UploadSchedule

    /**
     * The run was stopped (the platform's time was up) or failed on the phone itself: the cut-off
     * photo waits again; run again soon, when the platform gives time.
     */
    data object Soon : UploadSchedule

    companion object {
        /** What to schedule after a run that answered with [outcome]. */
        fun after(outcome: RunOutcome): UploadSchedule = when (outcome) {
            RunOutcome.Done -> Done
            is RunOutcome.RetryAt -> RetryAt(outcome.at)
            RunOutcome.WaitingForNetwork -> WhenOnline
            RunOutcome.WaitingForWifi -> WhenOnWifi
            RunOutcome.SignInNeeded -> AfterSignIn
            RunOutcome.Stopped -> Soon
        }

        /** What to schedule after a run that failed with [error] instead of answering. */
        fun afterFailure(error: Throwable): UploadSchedule = when (error) {
            is DossierException.Network -> WhenOnline
            is DossierException.SignedOut -> AfterSignIn
            else -> Soon
        }
    }
}

/**
 * Run the upload queue once and decide when to run it next. Cancelling the caller stops the Rust
 * run too ([runQueueStoppable]) and is passed on, never turned into a schedule: the platform that
 * cancelled reschedules by itself.
 */
suspend fun DossierAppInterface.runUploads(connection: Connection, wifiOnly: Boolean): UploadSchedule =
    try {
        UploadSchedule.after(runQueueStoppable(connection, wifiOnly))
    } catch (e: CancellationException) {
        throw e
    } catch (e: Throwable) {
        UploadSchedule.afterFailure(e)
    }
