package cn.dossier.app

import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import com.google.firebase.messaging.FirebaseMessaging
import com.google.firebase.messaging.FirebaseMessagingService
import com.google.firebase.messaging.RemoteMessage
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch

/**
 * FCM: the server pushes when a reviewer returns a material or the result is published, with the
 * message's title and text and its id in `data.message_id`. When the app is in the background the
 * system shows the notification itself; in the foreground this shows it. Either way the app syncs
 * the materials page. Phone makers' push services (Huawei, Xiaomi, OPPO, vivo,
 * Honor) register the same way with their own platform name: `registerPush("huawei", token)`.
 */
class PushService : FirebaseMessagingService() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.IO)

    override fun onNewToken(token: String) {
        register(applicationContext, token)
    }

    override fun onMessageReceived(message: RemoteMessage) {
        val dossier = dossierApplication.dossier
        scope.launch {
            // The refresh reaches the screen through the queue's events if it is open.
            runCatching { dossier.refresh() }
        }
        val title = message.notification?.title ?: getString(R.string.review_channel)
        val body = message.notification?.body ?: ""
        val open = PendingIntent.getActivity(
            this, 0, Intent(this, MainActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_SINGLE_TOP),
            PendingIntent.FLAG_IMMUTABLE,
        )
        val notification = NotificationCompat.Builder(this, DossierApplication.REVIEW_CHANNEL)
            .setSmallIcon(android.R.drawable.stat_notify_chat)
            .setContentTitle(title)
            .setContentText(body)
            .setContentIntent(open)
            .setAutoCancel(true)
            .build()
        runCatching { NotificationManagerCompat.from(this).notify((message.data["message_id"] ?: message.messageId).hashCode(), notification) }
    }

    companion object {
        /** After sign-in: send this phone's FCM token to the server (no-op without Firebase). */
        fun registerCurrentToken(context: Context) {
            runCatching {
                FirebaseMessaging.getInstance().token.addOnSuccessListener { register(context, it) }
            }
        }

        private fun register(context: Context, token: String) {
            val dossier = context.dossierApplication.dossier
            if (!dossier.isSignedIn()) return
            CoroutineScope(Dispatchers.IO).launch { runCatching { dossier.registerPush("fcm", token) } }
        }
    }
}
