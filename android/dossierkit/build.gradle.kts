// The library module: the generated bindings (src/main/kotlin/cn/dossier/kit/dossier_ffi.kt, by
// scripts/generate-bindings.sh), the Kotlin layer over them (DossierKit.kt), and the Rust library
// for each ABI in src/main/jniLibs (by scripts/build-android-libs.sh).
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "cn.dossier.kit"
    compileSdk = 35
    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
    sourceSets["main"].kotlin.srcDir("src/main/kotlin")
    // The JVM tests in src/test need the server and the desktop library that
    // scripts/bindings-tests.sh provides; Gradle's unit-test task does not run them.
    testOptions { unitTests.all { it.enabled = false } }
}

dependencies {
    // JNA as an Android archive: it carries libjnidispatch.so for each ABI.
    implementation("net.java.dev.jna:jna:5.15.0@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")
    testImplementation("junit:junit:4.13.2")
}
