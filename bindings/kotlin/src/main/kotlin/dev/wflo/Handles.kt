package dev.wflo

import java.lang.ref.Cleaner
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong

/**
 * A C ABI handle shared by threads. Calls hold it for their duration ([use]); [close] frees it
 * once no call is using it, so closing a workflow while another thread reserves never frees
 * memory under that call. An owner that is garbage-collected without closing frees it too.
 */
internal class CHandle(owner: Any, @PublishedApi internal val ptr: Long, private val free: (Long) -> Unit, private val what: String) {
    // 1 for the owner's reference, +1 for each call in progress; 0 once freed.
    @PublishedApi internal val count = AtomicLong(1)
    private val closed = AtomicBoolean(false)

    init {
        // The action holds this handle, never the owner, so the owner can become unreachable.
        Handles.cleaner.register(owner, ::close)
    }

    inline fun <R> use(block: (Long) -> R): R {
        while (true) {
            val c = count.get()
            if (c == 0L) throw closedError()
            if (count.compareAndSet(c, c + 1)) break
        }
        try {
            return block(ptr)
        } finally {
            release()
        }
    }

    @PublishedApi
    internal fun release() {
        if (count.decrementAndGet() == 0L) free(ptr)
    }

    @PublishedApi
    internal fun closedError() = ClosedException("$what is closed")

    fun close() {
        if (closed.compareAndSet(false, true)) release()
    }
}

internal object Handles {
    /** Frees native handles whose owners were dropped without closing them. */
    val cleaner: Cleaner = Cleaner.create()
}
