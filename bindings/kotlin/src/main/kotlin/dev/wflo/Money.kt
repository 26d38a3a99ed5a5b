package dev.wflo

import java.math.BigDecimal
import java.math.BigInteger

/**
 * Dollars in, nano-USD out: the engine counts money in integers (1 USD = 10^9 nano-USD), so
 * budgets never drift. Amounts given as [BigDecimal] or whole numbers go through the engine's
 * exact decimal parser; a [Double] is converted by the engine, rounding toward zero.
 */
object Usd {
    /** Nano-USD for [usd] dollars. Negative, NaN or absurd amounts are InvalidArgumentException. */
    @JvmStatic
    @JvmOverloads
    fun toNanos(usd: Number, what: String = "amount"): Long {
        val negative = when (usd) {
            is BigDecimal -> usd.signum() < 0
            is BigInteger -> usd.signum() < 0
            else -> usd.toDouble() < 0
        }
        if (negative) throw invalid("$what must not be negative, got $usd")
        return when (usd) {
            is BigDecimal -> parse(usd.toPlainString())
            is BigInteger, is Long, is Int, is Short, is Byte -> parse(usd.toString())
            else -> native { dev.wflo.ffi.usdToNanos(usd.toDouble()) }.toLong()
        }
    }

    /** Nano-USD from a decimal USD text ("2.50", "$0.000075"), exactly. */
    @JvmStatic
    fun parse(text: String): Long = native { dev.wflo.ffi.parseUsd(text.trim()) }.toLong()

    /** Dollars for display (a Double cannot hold every nano-USD amount exactly). */
    @JvmStatic
    fun fromNanos(nanos: Long): Double = nanos / 1e9
}
