package cn.dossier.app

import android.app.Notification
import android.content.Context
import android.content.pm.ServiceInfo
import android.os.Build
import android.os.SystemClock
import androidx.core.app.NotificationCompat
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingWorkPolicy
import androidx.work.ForegroundInfo
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.OutOfQuotaPolicy
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import cn.dossier.kit.DossierApp
import cn.dossier.kit.QueueEvent
import cn.dossier.kit.UploadSchedule
import cn.dossier.kit.events
import cn.dossier.kit.runUploads
import java.time.Duration
import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.launch

/**
 * Runs the upload queue in the background, as two unique works so that "upload now" never waits
 * behind a delayed retry: [runNow] (expedited, appended: a run going on finishes first, then the new
 * one sends what it did not see) and [runLater] (delayed to core's next try, each replacing the one
 * before). Both wait for a network. Core decides everything else (what is due, backoff, the
 * deadline, holding a locked material); when to run next is [UploadSchedule]'s decision, the same as
 * iOS's. Stopping the worker is safe: the Rust run stops with it, the cut-off photo waits again and
 * is sent under the same key, stored once.
 */
class UploadWorker(context: Context, parameters: WorkerParameters) : CoroutineWorker(context, parameters) {
    private val application = context.dossierApplication

    override suspend fun doWork(): Result {
        val dossier = application.dossier
        val schedule = coroutineScope {
            val notification = launch { followProgress(dossier) }
            try {
                // WorkManager stopping the worker cancels this coroutine; the Rust run stops too.
                dossier.runUploads(application.connection(), wifiOnly = false)
            } finally {
                notification.cancel()
            }
        }
        return when (schedule) {
            UploadSchedule.Done -> Result.success()
            // Signing in runs the queue again (CandidatePlatform.uploadNow); the photos wait till then.
            UploadSchedule.AfterSignIn -> Result.success()
            is UploadSchedule.RetryAt -> {
                runLater(applicationContext, schedule.at, NetworkType.CONNECTED)
                Result.success()
            }
            UploadSchedule.WhenOnWifi -> {
                runLater(applicationContext, at = null, NetworkType.UNMETERED)
                Result.success()
            }
            // WorkManager's backoff, under this work's network constraint.
            UploadSchedule.WhenOnline, UploadSchedule.Soon -> Result.retry()
        }
    }

    override suspend fun getForegroundInfo(): ForegroundInfo = foregroundInfo(0)

    /**
     * The notification's progress follows the queue's events while the run lasts, redrawn at most
     * once a second (and at the end of each photo): each `setForeground` is a call into the system,
     * and a photo sends an event every 16 KB.
     */
    private suspend fun followProgress(dossier: DossierApp) {
        var shownPercent = -1
        var shownAt = 0L
        dossier.events().filterIsInstance<QueueEvent.Progress>().collect { event ->
            val percent = if (event.total > 0u) (event.sent * 100u / event.total).toInt() else 0
            val now = SystemClock.elapsedRealtime()
            if (percent == shownPercent || (percent < 100 && now - shownAt < 1000)) return@collect
            shownPercent = percent
            shownAt = now
            try {
                setForeground(foregroundInfo(percent))
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                // Not allowed from the background on Android 12+: the upload goes on without it.
            }
        }
    }

    private fun foregroundInfo(percent: Int): ForegroundInfo {
        val notification: Notification = NotificationCompat.Builder(applicationContext, DossierApplication.UPLOAD_CHANNEL)
            .setSmallIcon(android.R.drawable.stat_sys_upload)
            .setContentTitle(applicationContext.getString(R.string.upload_notification))
            .setProgress(100, percent, percent == 0)
            .setOngoing(true)
            .build()
        return if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) {
            ForegroundInfo(NOTIFICATION_ID, notification, ServiceInfo.FOREGROUND_SERVICE_TYPE_DATA_SYNC)
        } else {
            ForegroundInfo(NOTIFICATION_ID, notification)
        }
    }

    companion object {
        private const val NOW = "upload-now"
        private const val LATER = "upload-later"
        private const val NOTIFICATION_ID = 1

        /** Run the queue as soon as there is a network: the candidate confirmed a photo or signed in. */
        fun runNow(context: Context) {
            val request = OneTimeWorkRequestBuilder<UploadWorker>()
                .setConstraints(network(NetworkType.CONNECTED))
                .setExpedited(OutOfQuotaPolicy.RUN_AS_NON_EXPEDITED_WORK_REQUEST)
                .build()
            WorkManager.getInstance(context).enqueueUniqueWork(NOW, ExistingWorkPolicy.APPEND_OR_REPLACE, request)
        }

        /**
         * Run the queue at core's next try [at] (none: as soon as [network] allows). It replaces the
         * later run scheduled before, which core's newer answer supersedes; called from that run
         * itself, the replacement cancels a worker whose run is over already.
         */
        fun runLater(context: Context, at: Instant?, network: NetworkType) {
            val delay = at?.let { Duration.between(Instant.now(), it).coerceAtLeast(Duration.ZERO) } ?: Duration.ZERO
            val request = OneTimeWorkRequestBuilder<UploadWorker>()
                .setConstraints(network(network))
                .setInitialDelay(delay)
                .build()
            WorkManager.getInstance(context).enqueueUniqueWork(LATER, ExistingWorkPolicy.REPLACE, request)
        }

        private fun network(type: NetworkType) = Constraints.Builder().setRequiredNetworkType(type).build()
    }
}
