//! Reads structured choices out of the fuzzer's bytes. Running out of bytes yields zeros and
//! empty strings, so every input decodes to something and mutations change it gradually.

pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// A count that is usually small but can reach the extremes (token counts, amounts).
    pub fn count(&mut self) -> u64 {
        match self.byte() % 8 {
            0 => 0,
            1..=4 => u64::from(self.byte()) * u64::from(self.byte()),
            5 => u64::from(self.u32()),
            6 => wflo_core::usage::MAX_TOKENS - u64::from(self.byte()) + u64::from(self.byte()),
            _ => self.u64(),
        }
    }

    /// Up to 255 raw bytes, length first.
    pub fn bytes(&mut self) -> &'a [u8] {
        let len = usize::from(self.byte()).min(self.data.len());
        let (head, rest) = self.data.split_at(len);
        self.data = rest;
        head
    }

    /// The rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// One of `choices`, or raw bytes: strings the engine knows get the fuzzer past the first
    /// validation, raw ones test it.
    pub fn text(&mut self, choices: &[&str]) -> Vec<u8> {
        let pick = usize::from(self.byte());
        match choices.get(pick % (choices.len() * 2).max(1)) {
            Some(s) => s.as_bytes().to_vec(),
            None => self.bytes().to_vec(),
        }
    }
}
