package cn.dossier.app

import android.app.Application
import android.app.NotificationChannel
import android.app.NotificationManager
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import cn.dossier.kit.Connection
import cn.dossier.kit.DossierApp

/**
 * The process's one `DossierApp` (one client, one queue database): the screens and the upload
 * worker share it, so an upload the worker runs shows on the screen at once.
 */
class DossierApplication : Application() {
    lateinit var dossier: DossierApp
        private set

    override fun onCreate() {
        super.onCreate()
        dossier = DossierApp(BuildConfig.DOSSIER_SERVER_URL, filesDir.path, KeystoreTokens(this))
        val notifications = getSystemService(NotificationManager::class.java)
        notifications.createNotificationChannel(
            NotificationChannel(UPLOAD_CHANNEL, getString(R.string.upload_channel), NotificationManager.IMPORTANCE_LOW)
        )
        notifications.createNotificationChannel(
            NotificationChannel(REVIEW_CHANNEL, getString(R.string.review_channel), NotificationManager.IMPORTANCE_HIGH)
        )
        // The network came back: photos waiting out a backoff are due now, and the worker runs.
        // (The callback comes on ConnectivityManager's thread, not the main one: SQLite is fine.)
        getSystemService(ConnectivityManager::class.java).registerDefaultNetworkCallback(
            object : ConnectivityManager.NetworkCallback() {
                override fun onAvailable(network: Network) {
                    if (runCatching { dossier.retryNow() }.getOrDefault(0u) > 0u) {
                        UploadWorker.runNow(this@DossierApplication)
                    }
                }
            }
        )
        // Off the main thread; a failure to tidy the cache is no reason to stop the app.
        Thread { runCatching { PhotoFiles.deleteStale(this) } }.start()
    }

    /** What core needs to know of the connection: none, metered (mobile data) or not (Wi-Fi). */
    fun connection(): Connection {
        val manager = getSystemService(ConnectivityManager::class.java)
        val capabilities = manager.getNetworkCapabilities(manager.activeNetwork) ?: return Connection.OFFLINE
        if (!capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET)) return Connection.OFFLINE
        return if (capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED)) {
            Connection.UNMETERED
        } else {
            Connection.METERED
        }
    }

    companion object {
        const val UPLOAD_CHANNEL = "uploads"
        const val REVIEW_CHANNEL = "review"
    }
}

val android.content.Context.dossierApplication: DossierApplication
    get() = applicationContext as DossierApplication
