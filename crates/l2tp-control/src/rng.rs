//! Randomness comes from the caller: nonces, challenges, cookies, CCIDs, session ids, tie
//! breakers and timer jitter all draw from a [`Random`] the core is built with. [`OsRandom`]
//! (the operating system's generator) is the default; [`SeededRandom`] makes tests repeatable.

/// A source of random bytes.
pub trait Random {
    fn fill(&mut self, buf: &mut [u8]);

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }

    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b)
    }

    /// Uniform-enough in `0..n` (0 when n is 0); used for jitter only.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// The operating system's generator (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // The OS generator does not fail on supported platforms once the system is up; if it
        // does there is no safe value to invent for a nonce or a cookie.
        getrandom::fill(buf).expect("the operating system's random generator failed");
    }
}

/// A deterministic generator (SplitMix64) for tests and simulations. Not for production keys.
#[derive(Debug, Clone)]
pub struct SeededRandom(u64);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom(seed)
    }

    fn step(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Random for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.step().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

impl<R: Random + ?Sized> Random for &mut R {
    fn fill(&mut self, buf: &mut [u8]) {
        (**self).fill(buf)
    }
}
