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
        google() // LiteRT (com.google.ai.edge.litert) and AndroidX
        mavenCentral()
    }
}

rootProject.name = "edgevit-android"
include(":app")
