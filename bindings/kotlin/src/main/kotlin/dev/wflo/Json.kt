package dev.wflo

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.longOrNull

/**
 * JSON at the edge: the engine speaks JSON text for states and reports; callers hand in plain
 * Kotlin values (maps, lists, strings, numbers) or kotlinx.serialization elements.
 */
internal object JsonText {
    fun parse(text: String): JsonElement = Json.parseToJsonElement(text)

    /** JSON text for [value]; what JSON cannot hold is refused, not stringified. */
    fun encode(value: Any?, what: String): String = toElement(value, what).toString()

    fun toElement(value: Any?, what: String): JsonElement =
        when (value) {
            null -> JsonNull
            is JsonElement -> value
            is String -> JsonPrimitive(value)
            is Boolean -> JsonPrimitive(value)
            is Double, is Float -> {
                val d = (value as Number).toDouble()
                if (d.isNaN() || d.isInfinite()) throw invalid("$what: $d is not a JSON number")
                JsonPrimitive(value)
            }
            is Number -> JsonPrimitive(value)
            is Map<*, *> -> JsonObject(
                value.entries.associate { (k, v) ->
                    if (k !is String) throw invalid("$what: object keys must be strings, got $k")
                    k to toElement(v, what)
                },
            )
            is Iterable<*> -> JsonArray(value.map { toElement(it, what) })
            is Array<*> -> JsonArray(value.map { toElement(it, what) })
            else -> throw invalid("$what: a ${value::class.simpleName} is not JSON (use maps, lists, strings, numbers)")
        }
}

internal fun JsonObject.long(key: String): Long = get(key)?.jsonPrimitive?.longOrNull ?: 0L

internal fun JsonObject.longOrNull(key: String): Long? = (get(key) as? JsonPrimitive)?.longOrNull

internal fun JsonObject.string(key: String): String = (get(key) as? JsonPrimitive)?.takeIf { it.isString }?.content ?: ""

internal fun JsonObject.stringOrNull(key: String): String? = (get(key) as? JsonPrimitive)?.takeIf { it.isString }?.content

internal fun JsonObject.strings(key: String): List<String> =
    (get(key) as? JsonArray)?.mapNotNull { (it as? JsonPrimitive)?.takeIf { p -> p.isString }?.content } ?: emptyList()

internal fun JsonObject.bool(key: String): Boolean = (get(key) as? JsonPrimitive)?.booleanOrNull ?: false

internal fun JsonObject.objects(key: String): List<JsonObject> = (get(key) as? JsonArray)?.map { it.jsonObject } ?: emptyList()
