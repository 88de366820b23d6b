//! Values that tell alike programs apart (`clones`): record ids and the `probe` name.
//! In a piece they pass through a marker call, so a program's IR without the markers'
//! arguments is its shape; `clones::resolve` turns each call back into its value.

use inkwell::values::{IntValue, PointerValue};

use super::clones::{SLOT, SLOT64};
use super::func::{FnGen, Val};

impl<'ctx> FnGen<'_, 'ctx> {
    /// A record id (under 2³¹: one `rX = id` move in a model).
    pub(super) fn slot(&self, id: u64) -> IntValue<'ctx> {
        match id < 1 << 31 {
            true => self.marked(SLOT, id),
            false => self.i64(id),
        }
    }

    /// Any 64-bit value (one `rX = value ll` load in a model).
    fn slot64(&self, v: u64) -> IntValue<'ctx> {
        self.marked(SLOT64, v)
    }

    fn marked(&self, marker: &str, v: u64) -> IntValue<'ctx> {
        match self.globals.slot_marker(self.ctx, self.module, marker) {
            Some(f) => self
                .b
                .build_call(f, &[self.i64(v).into()], "slot")
                .unwrap()
                .try_as_basic_value()
                .basic()
                .expect("the marker returns a value")
                .into_int_value(),
            None => self.i64(v),
        }
    }

    /// `probe`: the attach point's name in a `size`-byte buffer (the longest name of the
    /// block's attach points), so the programs of a wildcard probe differ in these values
    /// only. A whole program keeps the plain constant of the name's own length.
    pub fn probe_name(&self, name: &[u8], size: u32) -> Val<'ctx> {
        if self
            .globals
            .slot_marker(self.ctx, self.module, SLOT64)
            .is_none()
        {
            let Val::Str(p, _) = self.str_const(name) else {
                unreachable!("a string constant")
            };
            return Val::Str(p, size.min(name.len() as u32 + 1));
        }
        let words = size.div_ceil(8) as usize;
        let buf: PointerValue = self.stack(8 * words, "probe");
        for i in 0..words {
            let mut word = [0u8; 8];
            let chunk = name.get(8 * i..).unwrap_or_default();
            let n = chunk.len().min(8);
            word[..n].copy_from_slice(&chunk[..n]);
            let v = self.slot64(u64::from_le_bytes(word));
            self.store_i64(self.gep(buf, i as u64 * 8), v);
        }
        Val::Str(buf, size)
    }
}
