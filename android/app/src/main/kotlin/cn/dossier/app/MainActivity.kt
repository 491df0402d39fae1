package cn.dossier.app

import android.Manifest
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Build
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.activity.result.contract.ActivityResultContracts
import androidx.activity.viewModels
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.WindowInsets
import androidx.compose.foundation.layout.displayCutout
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.imePadding
import androidx.compose.foundation.layout.systemBars
import androidx.compose.foundation.layout.union
import androidx.compose.foundation.layout.windowInsetsPadding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController
import cn.dossier.kit.Session

/**
 * One activity; the screens are Compose destinations over one view model. Drawn edge to edge (the
 * default from targetSdk 35): the content keeps clear of the system bars, the cutout and the
 * keyboard through window insets.
 */
class MainActivity : ComponentActivity() {
    private val model: DossierViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        enableEdgeToEdge()
        super.onCreate(savedInstanceState)
        // The entry link is handled once: not again when the activity is recreated (rotation,
        // process death: there is saved state) nor when it is reopened from Recents, which
        // delivers the same intent again.
        if (savedInstanceState == null && (intent.flags and Intent.FLAG_ACTIVITY_LAUNCHED_FROM_HISTORY) == 0) {
            enterWith(intent)
        }
        setContent {
            MaterialTheme {
                Surface(Modifier.fillMaxSize()) {
                    val state by model.state.collectAsStateWithLifecycle()
                    val presenter = model.presenter
                    Box(
                        Modifier.fillMaxSize()
                            .windowInsetsPadding(WindowInsets.systemBars.union(WindowInsets.displayCutout))
                            .imePadding(),
                    ) {
                        when (val session = state.session) {
                            Session.Starting -> StartingScreen()
                            Session.SignedOut -> EntryScreen(state, presenter)
                            is Session.Activating -> ActivationScreen(session, state, presenter)
                            is Session.SignedIn -> {
                                val pending = state.pending
                                if (pending != null) {
                                    PreviewScreen(pending, state, presenter)
                                } else {
                                    val navigation = rememberNavController()
                                    NavHost(navigation, startDestination = "materials") {
                                        composable("materials") {
                                            MaterialsScreen(state, model, openMessages = { navigation.navigate("messages") })
                                        }
                                        composable("messages") {
                                            MessagesScreen(state, presenter, back = { navigation.popBackStack() })
                                        }
                                    }
                                }
                                AskForNotifications()
                            }
                        }
                    }
                    NoticeDialog(state.notice, presenter)
                    QuestionDialog(state.question, presenter)
                }
            }
        }
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        enterWith(intent)
    }

    override fun onResume() {
        super.onResume()
        model.presenter.refresh()
    }

    /** The registration site's link, dossier://enter?ticket=…; the presenter asks first if someone is signed in. */
    private fun enterWith(intent: Intent) {
        val link = intent.data?.takeIf { it.scheme == "dossier" && it.host == "enter" } ?: return
        // Consumed: the intent the activity keeps no longer carries the ticket.
        setIntent(Intent(intent).setData(null))
        link.getQueryParameter("ticket")?.let(model.presenter::enter)
    }
}

/**
 * Android 13+ shows no notification (upload progress, a reviewer's return) until the candidate
 * allows it. Asked once, when they are signed in and see their materials, where a notification
 * has a reason; Android itself stops asking after a second refusal.
 */
@Composable
private fun AskForNotifications() {
    if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) return
    val context = LocalContext.current
    val ask = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { }
    LaunchedEffect(Unit) {
        val granted = ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) ==
            PackageManager.PERMISSION_GRANTED
        val preferences = context.getSharedPreferences("prompts", Context.MODE_PRIVATE)
        if (granted || preferences.getBoolean(ASKED_NOTIFICATIONS, false)) return@LaunchedEffect
        preferences.edit().putBoolean(ASKED_NOTIFICATIONS, true).apply()
        ask.launch(Manifest.permission.POST_NOTIFICATIONS)
    }
}

private const val ASKED_NOTIFICATIONS = "asked_notifications"
