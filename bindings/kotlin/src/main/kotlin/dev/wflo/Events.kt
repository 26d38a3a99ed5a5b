package dev.wflo

import dev.wflo.ffi.LogLevel
import dev.wflo.ffi.LogSink
import java.util.concurrent.atomic.AtomicBoolean
import java.util.logging.Level
import java.util.logging.Logger

/**
 * Routes wflo's events at [level] and above to the logger `wflo` — SLF4J's when SLF4J is on
 * the classpath, else java.util.logging's — for the whole process: "error", "warn", "info",
 * "debug" or "trace" (as `WFLO_LOG` takes them); null or "off" silences them. Replaces whatever
 * was routed before (`WFLO_LOG`'s level included). An unknown level throws
 * [InvalidArgumentException]. Returns the level in force (null: silent).
 *
 * The engine's events are refusals, clamps, overruns, checkpoints and rollbacks at info,
 * budget alerts at warn, every reservation and settlement at debug: one line each, with ids,
 * labels, model names, token counts and amounts — never a prompt, a reply or a key. They are
 * silent until `WFLO_LOG` (read when the first [Engine] is made) or this function routes them.
 */
@JvmOverloads
fun logEvents(level: String? = "info"): String? = WfloLog.route(level ?: "off")

/** Where the engine's events go: SLF4J or java.util.logging, found once. */
internal object WfloLog : LogSink {
    /** SLF4J's logger `wflo`, reached by reflection (SLF4J is not a dependency), or null. */
    private class Slf4j(private val logger: Any) {
        private val cls = logger.javaClass
        private val methods = LogLevel.entries.associateWith { level ->
            val name = level.name.lowercase()
            cls.getMethod(name, String::class.java) to cls.getMethod("is${name.replaceFirstChar(Char::uppercase)}Enabled")
        }
        private val warnThrown = cls.getMethod("warn", String::class.java, Throwable::class.java)

        fun log(level: LogLevel, line: String) {
            val (log, enabled) = methods.getValue(level)
            if (enabled.invoke(logger) == true) log.invoke(logger, line)
        }

        fun warn(message: String, e: Throwable?) {
            warnThrown.invoke(logger, message, e)
        }

        companion object {
            fun find(): Slf4j? = try {
                val factory = Class.forName("org.slf4j.LoggerFactory", true, WfloLog::class.java.classLoader)
                Slf4j(factory.getMethod("getLogger", String::class.java).invoke(null, "wflo"))
            } catch (_: ReflectiveOperationException) {
                null
            } catch (_: LinkageError) {
                null
            }
        }
    }

    private val slf4j: Slf4j? by lazy { Slf4j.find() }
    private val jul: Logger by lazy { Logger.getLogger("wflo") }

    /** The engine's levels as java.util.logging's. */
    private fun julLevel(level: LogLevel): Level = when (level) {
        LogLevel.ERROR -> Level.SEVERE
        LogLevel.WARN -> Level.WARNING
        LogLevel.INFO -> Level.INFO
        LogLevel.DEBUG -> Level.FINE
        LogLevel.TRACE -> Level.FINER
    }

    /** Which logging the events go to: "slf4j" or "jul". */
    val backend: String get() = if (slf4j != null) "slf4j" else "jul"

    @Volatile
    var level: String? = null
        private set

    private val hooked = AtomicBoolean(false)

    override fun log(level: LogLevel, line: String) {
        val s = slf4j
        if (s != null) {
            s.log(level, line)
        } else {
            val l = julLevel(level)
            if (jul.isLoggable(l)) jul.log(l, line)
        }
    }

    /** What this layer itself has to say (a callback of the caller's threw, `WFLO_LOG` is unknown). */
    fun warn(message: String, e: Throwable? = null) {
        try {
            slf4j?.warn(message, e) ?: jul.log(Level.WARNING, message, e)
        } catch (_: Throwable) {
            // Logging failed too: nothing more to do on the engine's thread.
        }
    }

    /** Routes at [text] (null: what `WFLO_LOG` says). */
    @Synchronized
    fun route(text: String?): String? {
        val chosen = native { dev.wflo.ffi.setLogSink(text, this) }
        level = chosen?.name?.lowercase()
        if (chosen != null && hooked.compareAndSet(false, true)) {
            // No line may reach the JVM once it is going away.
            Runtime.getRuntime().addShutdownHook(Thread { runCatching { dev.wflo.ffi.setLogSink("off", this) } })
        }
        return level
    }

    /** `WFLO_LOG`'s level, when set; an unknown value is refused: wflo stays silent and says so. */
    fun routeFromEnv() {
        try {
            if (native { dev.wflo.ffi.logLevelFromEnv() } != null) route(null)
        } catch (e: WfloException) {
            warn("wflo: ${e.message}; wflo's events stay silent")
        }
    }
}
