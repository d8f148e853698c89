// Versions are listed (and were chosen) in README.md: AGP 8.7.3, Kotlin 2.0.21, Gradle 8.11.1, JDK 17.
plugins {
    id("com.android.application") version "8.7.3" apply false
    id("org.jetbrains.kotlin.android") version "2.0.21" apply false
}
