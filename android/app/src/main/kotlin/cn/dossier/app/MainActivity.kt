package cn.dossier.app

import android.content.Intent
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.material3.MaterialTheme
import androidx.compose.runtime.getValue
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController

/** One activity; the screens are Compose destinations over one view model. */
class MainActivity : ComponentActivity() {
    private val model: DossierViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        handle(intent)
        setContent {
            MaterialTheme {
                val state by model.state.collectAsStateWithLifecycle()
                val navigation = rememberNavController()
                when {
                    state.activation != null -> ActivationScreen(state, model)
                    !state.signedIn -> EntryScreen(state, model)
                    state.pending != null -> PreviewScreen(state.pending!!, state, model)
                    else -> NavHost(navigation, startDestination = "materials") {
                        composable("materials") {
                            MaterialsScreen(state, model, openMessages = { navigation.navigate("messages") })
                        }
                        composable("messages") {
                            MessagesScreen(state, model, back = { navigation.popBackStack() })
                        }
                    }
                }
            }
        }
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        handle(intent)
    }

    override fun onResume() {
        super.onResume()
        if (model.state.value.signedIn) model.refresh()
    }

    /** The registration site's link: dossier://enter?ticket=… */
    private fun handle(intent: Intent?) {
        val ticket = intent?.data?.getQueryParameter("ticket") ?: return
        model.enter(ticket)
    }
}
