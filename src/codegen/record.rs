//! Records sent to user space through the ring buffer: `printf` and every other event,
//! and the warnings. Each is reserved in the ring, written in place and submitted; how
//! the reader is woken is decided per record kind (`Wakeup`).

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::func::{helper, BasicTypeEnumValue, FnGen, Val};
use crate::program::{EventSpec, FieldType};

/// When a record wakes the reader.
enum Wakeup {
    /// At once: the record changes what runs (`exit`).
    Now,
    /// When the reader was idle (the kernel's default): rare records.
    WhenIdle,
    /// When the record crosses a multiple of the backlog threshold in the ring (see
    /// `crosses_backlog_mark`); the reader's timer picks up what is written in between.
    Backlog,
}

const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;

impl<'ctx> FnGen<'_, 'ctx> {
    /// Sends an event record `[id][fields…]` through the ring buffer.
    ///
    /// Waking the reader for every record costs more than the record itself, so records are
    /// written without a wakeup until a backlog builds up; user space also polls on a timer.
    /// `exit()` always wakes the reader.
    pub fn emit_event(&self, id: usize, vals: &[(Val<'ctx>, FieldType)]) {
        let size = vals.iter().map(|(_, f)| f.size()).sum::<usize>();
        self.emit_event_with(id, size, |g, payload| {
            let mut off = 0;
            for (v, f) in vals {
                // Ring memory is not zeroed; string padding must be. A string that fills its
                // slot (the usual case: same size) overwrites every byte anyway.
                let padded = match (v, f) {
                    (Val::Str(_, n), FieldType::Str { size }) => n < size,
                    (_, FieldType::Tuple(_) | FieldType::Record(..)) => true,
                    _ => false,
                };
                if padded {
                    g.zero(g.gep(payload, off as u64), f.size());
                }
                g.store_field(g.gep(payload, off as u64), v.clone(), f);
                off += f.size();
            }
        });
    }

    /// Sends event `id` with a `payload_size`-byte payload that `fill` writes in place
    /// (it gets a pointer to the payload, in the ring buffer). Nothing is sent when the ring
    /// is full.
    pub fn emit_event_with(
        &self,
        id: usize,
        payload_size: usize,
        fill: impl FnOnce(&Self, PointerValue<'ctx>),
    ) {
        // Records that change what runs are handled at once.
        let wakeup = match self.ck.events[id] {
            EventSpec::Exit | EventSpec::Unwatch => Wakeup::Now,
            _ => Wakeup::Backlog,
        };
        self.emit_record(self.slot(id as u64), wakeup, payload_size, fill);
    }

    /// Sends argument-less warning event `ev` (a full map, an index out of range, a zero
    /// divisor, `-k`'s missing element). Warnings are cold and rare: the kernel wakes the
    /// reader only if it was idle, so no wake-up arithmetic is compiled at every site (a
    /// shared subprogram would be smaller still, but the calls change how the verifier
    /// prunes, and long string loops went past its instruction limit).
    pub fn warn(&self, ev: usize) {
        self.emit_record(self.slot(ev as u64), Wakeup::WhenIdle, 0, |_, _| {});
    }

    /// Sends a record whose event id is `id`.
    fn emit_record(
        &self,
        id: IntValue<'ctx>,
        wakeup: Wakeup,
        payload_size: usize,
        fill: impl FnOnce(&Self, PointerValue<'ctx>),
    ) {
        let size = 8 + payload_size;
        let rb = self.globals.ringbuf.as_pointer_value();
        // Written in place in the ring (reserve/submit): no stack copy of the record.
        let rec = match self.helper(
            helper::RINGBUF_RESERVE,
            &[rb.into(), self.i64(size as u64).into(), self.i64(0).into()],
            true,
        ) {
            BasicTypeEnumValue::Ptr(p) => p,
            BasicTypeEnumValue::Int(_) => unreachable!(),
        };
        let full = self.b.build_is_null(rec, "full").unwrap();
        let (write, lost, done) = (
            self.block("rec_write"),
            self.block("rec_lost"),
            self.block("rec_done"),
        );
        self.b.build_conditional_branch(full, lost, write).unwrap();
        // The reader fell behind: count the record so the loss is reported, never silent.
        self.b.position_at_end(lost);
        let counter = self.globals.lost_events(self.ctx, self.module);
        self.b
            .build_atomicrmw(
                inkwell::AtomicRMWBinOp::Add,
                counter.as_pointer_value(),
                self.i64(1),
                inkwell::AtomicOrdering::Monotonic,
            )
            .unwrap();
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(write);
        self.store_i64(rec, id);
        fill(self, self.gep(rec, 8));
        let flags = match wakeup {
            Wakeup::Now => self.i64(BPF_RB_FORCE_WAKEUP),
            Wakeup::WhenIdle => self.i64(0),
            Wakeup::Backlog => {
                let crossed = self.crosses_backlog_mark(rec, size as u64);
                self.b
                    .build_select(
                        crossed,
                        self.i64(BPF_RB_FORCE_WAKEUP),
                        self.i64(BPF_RB_NO_WAKEUP),
                        "rbflags",
                    )
                    .unwrap()
                    .into_int_value()
            }
        };
        self.helper_void(helper::RINGBUF_SUBMIT, &[rec.into(), flags.into()]);
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(done);
    }

    /// Whether the record at `rec` (its data; `size` bytes without the header) spans a
    /// multiple of the backlog threshold of ring addresses: true for one record in every
    /// `WAKEUP_BACKLOG` bytes written, wherever the reader is, so a reader that lags is
    /// woken once per threshold and not by every record.
    ///
    /// The position comes from the record's own address, not from `bpf_ringbuf_query`:
    /// one helper call fewer per event (≈ 6 ns of ≈ 150 for `printf`; BENCHMARKS.md). The
    /// ring's data area is mapped twice in a row and its size is a multiple of the
    /// threshold, so every lap crosses the same number of marks, a record that wraps
    /// included.
    fn crosses_backlog_mark(&self, rec: PointerValue<'ctx>, size: u64) -> IntValue<'ctx> {
        let mark = self.globals.wakeup_mark;
        // The record's length in the ring: an 8-byte header, rounded up to 8.
        let in_ring = (size + 8).div_ceil(8) * 8;
        if in_ring >= mark {
            return self.ctx.bool_type().const_int(1, false);
        }
        let i32t = self.ctx.i32_type();
        // The verifier allows no arithmetic on a ring pointer, but lets a program loaded with
        // CAP_PERFMON (which tracing needs) copy its low half into a plain number. LLVM
        // folds a truncation back into pointer arithmetic, so the copy is written out.
        let low = self
            .b
            .build_int_truncate(
                self.b
                    .build_ptr_to_int(rec, self.ctx.i64_type(), "rec_addr")
                    .unwrap(),
                i32t,
                "rec_low",
            )
            .unwrap();
        let copy_ty = i32t.fn_type(&[i32t.into()], false);
        let copy = self.ctx.create_inline_asm(
            copy_ty,
            "$0 = $1".to_string(),
            "=w,w".to_string(),
            false,
            false,
            None,
            false,
        );
        let low = self
            .b
            .build_indirect_call(copy_ty, copy, &[low.into()], "rec_pos")
            .unwrap()
            .try_as_basic_value()
            .basic()
            .expect("the copy returns a value")
            .into_int_value();
        // The header starts 8 bytes before the data; the record crosses a mark when its
        // offset past the last one leaves less room than the record takes.
        let header = self
            .b
            .build_int_sub(low, i32t.const_int(8, false), "rec_hdr")
            .unwrap();
        let past = self
            .b
            .build_and(header, i32t.const_int(mark - 1, false), "past_mark")
            .unwrap();
        self.b
            .build_int_compare(
                IntPredicate::UGE,
                past,
                i32t.const_int(mark - in_ring, false),
                "crosses",
            )
            .unwrap()
    }
}
