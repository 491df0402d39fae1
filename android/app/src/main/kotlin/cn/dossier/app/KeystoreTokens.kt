package cn.dossier.app

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import android.util.Log
import cn.dossier.kit.StoredTokens
import cn.dossier.kit.TokenStorage
import java.security.KeyStore
import java.time.Instant
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The session's tokens, encrypted with an AES-GCM key that never leaves the Android Keystore; the
 * ciphertext sits in the app's private preferences. Rust calls these from its own threads and they
 * must not fail: every Keystore or preferences error ends here (a key that was lost, because the
 * device was restored or the lock screen removed, reads as signed out; a session that cannot be
 * saved lasts until the app ends). One lock for all of them, so two threads that find no key on
 * first use cannot each create one and seal with a key the other replaced.
 */
class KeystoreTokens(context: Context) : TokenStorage {
    private val preferences = context.getSharedPreferences("session", Context.MODE_PRIVATE)

    override fun load(): StoredTokens? = synchronized(lock) {
        try {
            val sealed = preferences.getString(KEY, null) ?: return null
            val bytes = Base64.decode(sealed, Base64.NO_WRAP)
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, key(), GCMParameterSpec(128, bytes, 0, IV_BYTES))
            val plain = String(cipher.doFinal(bytes, IV_BYTES, bytes.size - IV_BYTES), Charsets.UTF_8)
            val (access, expires, refresh) = plain.split('\n', limit = 3)
            StoredTokens(access, Instant.ofEpochSecond(expires.toLong()), refresh)
        } catch (e: Exception) {
            Log.w(TAG, "the stored session cannot be read: signed out", e)
            null
        }
    }

    override fun save(tokens: StoredTokens) {
        synchronized(lock) {
            try {
                val cipher = Cipher.getInstance(TRANSFORMATION)
                cipher.init(Cipher.ENCRYPT_MODE, key())
                val plain = "${tokens.accessToken}\n${tokens.accessExpiresAt.epochSecond}\n${tokens.refreshToken}"
                val sealed = cipher.iv + cipher.doFinal(plain.toByteArray(Charsets.UTF_8))
                preferences.edit().putString(KEY, Base64.encodeToString(sealed, Base64.NO_WRAP)).commit()
            } catch (e: Exception) {
                Log.w(TAG, "the session cannot be kept on the phone: it lasts until the app ends", e)
            }
        }
    }

    override fun clear() {
        synchronized(lock) {
            try {
                preferences.edit().remove(KEY).commit()
            } catch (e: Exception) {
                Log.w(TAG, "the stored session cannot be removed", e)
            }
        }
    }

    /** The Keystore key, made on first use; called under [lock] only. */
    private fun key(): SecretKey {
        val store = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
        (store.getKey(ALIAS, null) as SecretKey?)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        generator.init(
            KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build()
        )
        return generator.generateKey()
    }

    private companion object {
        /** For every instance: the Keystore entry is one per app. */
        val lock = Any()
        const val TAG = "KeystoreTokens"
        const val ALIAS = "dossier-session"
        const val KEY = "tokens"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
    }
}
