package cn.dossier.app

import android.app.Notification
import android.content.Context
import android.content.pm.ServiceInfo
import android.os.Build
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
import cn.dossier.kit.DossierException
import cn.dossier.kit.QueueEvent
import cn.dossier.kit.RunOutcome
import cn.dossier.kit.events
import cn.dossier.kit.runQueueStoppable
import java.time.Duration
import java.time.Instant
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.launch

/**
 * Runs the upload queue in the background: one unique work (a new request runs after the current
 * one, never beside it), only with a network, expedited when the candidate just confirmed a photo.
 * Core decides everything else (what is due, backoff, the deadline, holding a locked material);
 * this maps its outcome onto WorkManager. Stopping it is safe: the cut-off photo waits again and is
 * sent under the same key, stored once.
 */
class UploadWorker(context: Context, parameters: WorkerParameters) : CoroutineWorker(context, parameters) {
    private val application = context.dossierApplication

    override suspend fun doWork(): Result {
        val dossier = application.dossier
        // The notification's progress follows the queue's events while the run lasts.
        val outcome = kotlinx.coroutines.coroutineScope {
            val job = launch {
                dossier.events().filterIsInstance<QueueEvent.Progress>().collect { event ->
                    val percent = if (event.total > 0u) (event.sent * 100u / event.total).toInt() else 0
                    runCatching { setForeground(foregroundInfo(percent)) }
                }
            }
            val result = try {
                // WorkManager stopping the worker cancels this coroutine; the Rust run stops too.
                dossier.runQueueStoppable(application.connection(), wifiOnly = false)
            } catch (e: DossierException.Network) {
                null
            } catch (e: DossierException.SignedOut) {
                RunOutcome.SignInNeeded
            } finally {
                job.cancel()
            }
            result
        }
        return when (outcome) {
            null, RunOutcome.WaitingForNetwork, RunOutcome.WaitingForWifi, RunOutcome.Stopped -> Result.retry()
            RunOutcome.Done -> Result.success()
            // Sign-in needed: the app's screen asks; the queue keeps its photos until then.
            RunOutcome.SignInNeeded -> Result.failure()
            is RunOutcome.RetryAt -> {
                schedule(applicationContext, expedited = false, at = outcome.at)
                Result.success()
            }
        }
    }

    override suspend fun getForegroundInfo(): ForegroundInfo = foregroundInfo(0)

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
        private const val WORK_NAME = "upload-queue"
        private const val NOTIFICATION_ID = 1

        /** Run the queue: now (expedited, when the candidate is waiting) or at core's next try. */
        fun schedule(context: Context, expedited: Boolean, at: Instant? = null) {
            val request = OneTimeWorkRequestBuilder<UploadWorker>()
                .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
                .apply {
                    if (at != null) {
                        setInitialDelay(Duration.between(Instant.now(), at).coerceAtLeast(Duration.ZERO))
                    } else if (expedited) {
                        setExpedited(OutOfQuotaPolicy.RUN_AS_NON_EXPEDITED_WORK_REQUEST)
                    }
                }
                .build()
            WorkManager.getInstance(context)
                .enqueueUniqueWork(WORK_NAME, ExistingWorkPolicy.APPEND_OR_REPLACE, request)
        }
    }
}
