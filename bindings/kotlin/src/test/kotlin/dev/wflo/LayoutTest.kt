package dev.wflo

import kotlinx.serialization.json.jsonObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertDoesNotThrow
import org.junit.jupiter.api.assertThrows

/** The hand-packed C structs against the library's own layout (wflo_layout_json). */
class LayoutTest {
    private val library = CAbi.layoutJson()

    @Test
    fun `the library's layout is the one this binding packs`() {
        assertEquals(emptyList<String>(), Layout.mismatches(library, Layout.EXPECTED))
        assertDoesNotThrow { CAbi.ensureLayout() }
        // Every struct the library lays out that this binding packs is compared.
        val structs = JsonText.parse(library).jsonObject.keys
        assertTrue(structs.containsAll(Layout.EXPECTED.keys), "$structs")
    }

    private fun refusal(expected: Map<String, Layout.Struct>): String =
        assertThrows<IllegalStateException> { Layout.verify(library, expected) }.message!!

    private fun with(struct: String, change: (Layout.Struct) -> Layout.Struct) =
        Layout.EXPECTED + (struct to change(Layout.EXPECTED.getValue(struct)))

    @Test
    fun `a wrong offset is refused, naming the field`() {
        val wrong = with("wflo_settled") { it.copy(fields = it.fields + ("usage_missing" to 82)) }
        val message = refusal(wrong)
        assertTrue("wflo_settled.usage_missing: at byte 81 in the library, 82 here" in message, message)
        assertTrue("refuses to run" in message, message)
    }

    @Test
    fun `a wrong size, a missing field, an unknown field and a missing struct are refused`() {
        assertTrue("wflo_usage: 48 bytes in the library, 56 here" in refusal(with("wflo_usage") { it.copy(size = 56) }))
        val moved = with("wflo_call_request") { it.copy(fields = it.fields - "clamp_max_tokens" + ("clamp" to 61)) }
        val message = refusal(moved)
        assertTrue("wflo_call_request.clamp: not in the library" in message, message)
        assertTrue("wflo_call_request.clamp_max_tokens: in the library, unknown here" in message, message)
        assertTrue(
            "wflo_future: not in the library" in refusal(Layout.EXPECTED + ("wflo_future" to Layout.Struct(8, mapOf("x" to 0)))),
        )
        // A library whose layout reads differently from what this binding packs.
        val older = library.replace("\"usage_missing\":81", "\"usage_missing\":88")
        assertTrue(older != library, "the layout text changed form: $library")
        assertThrows<IllegalStateException> { Layout.verify(older, Layout.EXPECTED) }
    }
}
