package cn.dossier.app

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
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
 * ciphertext sits in the app's private preferences. A key that was lost (device restored, lock
 * screen removed) reads as signed out, never as a crash.
 */
class KeystoreTokens(context: Context) : TokenStorage {
    private val preferences = context.getSharedPreferences("session", Context.MODE_PRIVATE)

    override fun load(): StoredTokens? = runCatching {
        val sealed = preferences.getString(KEY, null) ?: return null
        val bytes = Base64.decode(sealed, Base64.NO_WRAP)
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, key(), GCMParameterSpec(128, bytes, 0, IV_BYTES))
        val plain = String(cipher.doFinal(bytes, IV_BYTES, bytes.size - IV_BYTES), Charsets.UTF_8)
        val (access, expires, refresh) = plain.split('\n', limit = 3)
        StoredTokens(access, Instant.ofEpochSecond(expires.toLong()), refresh)
    }.getOrNull()

    override fun save(tokens: StoredTokens) {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.ENCRYPT_MODE, key())
        val plain = "${tokens.accessToken}\n${tokens.accessExpiresAt.epochSecond}\n${tokens.refreshToken}"
        val sealed = cipher.iv + cipher.doFinal(plain.toByteArray(Charsets.UTF_8))
        preferences.edit().putString(KEY, Base64.encodeToString(sealed, Base64.NO_WRAP)).commit()
    }

    override fun clear() {
        preferences.edit().remove(KEY).commit()
    }

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
        const val ALIAS = "dossier-session"
        const val KEY = "tokens"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
    }
}
