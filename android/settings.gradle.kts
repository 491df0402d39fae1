// The Android shell of Dossier: the library module (the UniFFI bindings of dossier-ffi and a small
// Kotlin layer) and the Compose app. The Rust library comes from ../scripts/build-android-libs.sh.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "dossier"
include(":dossierkit", ":app")
