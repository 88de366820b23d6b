//! Building short strings in BPF registers: characters are or-ed into 64-bit words at a
//! running position, without branches or variable stack offsets, then stored once.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use crate::codegen::FnGen;

/// Up to `8 * words` characters, appended left to right.
pub struct Appender<'ctx> {
    words: Vec<IntValue<'ctx>>,
    /// Characters appended so far.
    pub pos: IntValue<'ctx>,
}

impl<'ctx> Appender<'ctx> {
    pub fn new(g: &FnGen<'_, 'ctx>, words: usize) -> Self {
        Appender {
            words: vec![g.i64(0); words],
            pos: g.i64(0),
        }
    }

    /// Appends byte `c` when `when` (an i64 0/1) is 1.
    pub fn push(&mut self, g: &FnGen<'_, 'ctx>, c: IntValue<'ctx>, when: IntValue<'ctx>) {
        let b = &g.b;
        let on = g.truthy(when);
        for (w, word) in self.words.iter_mut().enumerate() {
            let base = g.i64(8 * w as u64);
            let rel = b.build_int_sub(self.pos, base, "rel").unwrap();
            let here = b
                .build_int_compare(IntPredicate::ULT, rel, g.i64(8), "here")
                .unwrap();
            let here = b.build_and(here, on, "here").unwrap();
            let shift = b
                .build_and(
                    b.build_int_mul(rel, g.i64(8), "sh").unwrap(),
                    g.i64(63),
                    "sh",
                )
                .unwrap();
            let placed = b.build_left_shift(c, shift, "placed").unwrap();
            let placed = b
                .build_select(here, placed, g.i64(0), "placed")
                .unwrap()
                .into_int_value();
            *word = b.build_or(*word, placed, "word").unwrap();
        }
        self.pos = b.build_int_add(self.pos, when, "pos").unwrap();
    }

    pub fn push_const(&mut self, g: &FnGen<'_, 'ctx>, c: u8) {
        self.push(g, g.i64(c as u64), g.i64(1));
    }

    /// Appends the decimal digits of `v` (unsigned), without leading zeros.
    pub fn push_decimal(&mut self, g: &FnGen<'_, 'ctx>, v: IntValue<'ctx>, max_digits: u32) {
        let b = &g.b;
        for k in (0..max_digits).rev() {
            let p = g.i64(10u64.pow(k));
            let digit = b
                .build_int_unsigned_rem(
                    b.build_int_unsigned_div(v, p, "d").unwrap(),
                    g.i64(10),
                    "d",
                )
                .unwrap();
            let c = b.build_int_add(digit, g.i64(b'0' as u64), "c").unwrap();
            let when = if k == 0 {
                g.i64(1)
            } else {
                g.widen(
                    b.build_int_compare(IntPredicate::UGE, v, p, "lead")
                        .unwrap(),
                )
            };
            self.push(g, c, when);
        }
    }

    /// Stores the words at `dst` (which must have room for all of them).
    pub fn store(&self, g: &FnGen<'_, 'ctx>, dst: PointerValue<'ctx>) {
        for (w, word) in self.words.iter().enumerate() {
            g.store_i64(g.gep(dst, 8 * w as u64), *word);
        }
    }
}

/// Writes into `buf` the text of the case `v` matches, or runs `default`: a switch whose
/// cases store constant words. The stores are volatile, or LLVM merges the cases into a
/// lookup table in `.rodata`, which the runtime reserves for its own constants.
pub fn switch_text<'ctx>(
    g: &FnGen<'_, 'ctx>,
    v: IntValue<'ctx>,
    cases: &[(u64, &[u8])],
    buf: PointerValue<'ctx>,
    default: impl FnOnce(&FnGen<'_, 'ctx>),
) {
    let here = g.b.get_insert_block().expect("inside a function");
    let (done, other) = (g.block("text_done"), g.block("text_default"));
    let blocks: Vec<_> = cases
        .iter()
        .map(|(n, text)| {
            let bb = g.block("text_case");
            g.b.position_at_end(bb);
            for (i, chunk) in text.chunks(8).enumerate() {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                let st =
                    g.b.build_store(g.gep(buf, 8 * i as u64), g.i64(u64::from_le_bytes(word)))
                        .unwrap();
                st.set_volatile(true).unwrap();
            }
            g.b.build_unconditional_branch(done).unwrap();
            (g.i64(*n), bb)
        })
        .collect();
    g.b.position_at_end(here);
    g.b.build_switch(v, other, &blocks).unwrap();
    g.b.position_at_end(other);
    default(g);
    g.b.build_unconditional_branch(done).unwrap();
    g.b.position_at_end(done);
}
