//! Records sent to user space: `printf` and every other event, and the warnings. Each is
//! reserved in the records' ring (`program::RecordRing`), written in place and published;
//! the kernel's ring buffer only rings the reader's doorbell (`Wakeup`).

use inkwell::values::{IntValue, PointerValue};
use inkwell::{AtomicOrdering, AtomicRMWBinOp, IntPredicate};

use super::func::{helper, FnGen, Val};
use crate::program::{EventSpec, FieldType, RecordRing};

/// When a record wakes the reader.
enum Wakeup {
    /// At once: the record changes what runs (`exit`).
    Now,
    /// When the record crosses a multiple of the backlog threshold in the ring; the
    /// reader's timer picks up what is written in between.
    Backlog,
}

const BPF_RB_FORCE_WAKEUP: u64 = 2;
/// Reservations tried before a record counts as lost: each failure is another CPU's
/// success, so only a ring written by many CPUs at once gets that far.
const TRIES: u64 = 8;

impl<'ctx> FnGen<'_, 'ctx> {
    /// Sends an event record `[id][fields…]` through the records' ring.
    ///
    /// Waking the reader for every record costs more than the record itself, so records are
    /// written without a wakeup until a backlog builds up; user space also polls on a timer.
    /// `exit()` always wakes the reader.
    pub fn emit_event(&self, id: usize, vals: &[(Val<'ctx>, FieldType)]) {
        let size = vals.iter().map(|(_, f)| f.size()).sum::<usize>();
        self.emit_event_with(id, size, |g, payload| {
            let mut off = 0;
            for (v, f) in vals {
                // No padding to zero: a new record's place in the ring is all zero.
                g.store_field(g.gep(payload, off as u64), v.clone(), f);
                off += f.size();
            }
        });
    }

    /// Sends event `id` with a `payload_size`-byte payload that `fill` writes in place
    /// (it gets a pointer to the payload, in the ring, zeroed). Nothing is sent when the
    /// ring is full.
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
    /// divisor, `-k`'s missing element).
    pub fn warn(&self, ev: usize) {
        self.emit_record(self.slot(ev as u64), Wakeup::Backlog, 0, |_, _| {});
    }

    /// Sends a record whose event id is `id`.
    fn emit_record(
        &self,
        id: IntValue<'ctx>,
        wakeup: Wakeup,
        payload_size: usize,
        fill: impl FnOnce(&Self, PointerValue<'ctx>),
    ) {
        let len = 8 + payload_size as u64;
        let footprint = RecordRing::footprint(len);
        let key = self.stack_slot(8, "rec_key");
        let ring = self.lookup_in(self.globals.records.as_pointer_value(), key);
        let (reserve, write, retry, lost, done) = (
            self.block("rec_reserve"),
            self.block("rec_write"),
            self.block("rec_retry"),
            self.block("rec_lost"),
            self.block("rec_done"),
        );
        let (head, end) = self.reserve(ring, footprint, [reserve, write, retry, lost]);

        // The reader fell behind: count the record so the loss is reported, never silent.
        self.b.position_at_end(lost);
        let counter = self.globals.lost_events(self.ctx, self.module);
        self.b
            .build_atomicrmw(
                AtomicRMWBinOp::Add,
                counter.as_pointer_value(),
                self.i64(1),
                AtomicOrdering::Monotonic,
            )
            .unwrap();
        self.b.build_unconditional_branch(done).unwrap();

        // Write the record in place, then its header: the reader takes a record whose
        // header is set as complete. The offset's low bits are known zero (records are
        // multiples of 8), which the verifier needs for the exchange.
        self.b.position_at_end(write);
        let offset = self
            .b
            .build_and(head, self.i64((self.globals.ring_bytes - 1) & !7), "off")
            .unwrap();
        let at = self
            .b
            .build_int_add(offset, self.i64(RecordRing::DATA), "at")
            .unwrap();
        let rec = unsafe {
            self.b
                .build_gep(self.ctx.i8_type(), ring, &[at], "rec")
                .unwrap()
        };
        self.store_i64(self.gep(rec, RecordRing::HEADER), id);
        fill(self, self.gep(rec, RecordRing::HEADER + 8));
        self.b
            .build_atomicrmw(
                AtomicRMWBinOp::Xchg,
                rec,
                self.i64(len),
                AtomicOrdering::SequentiallyConsistent,
            )
            .unwrap();
        match wakeup {
            Wakeup::Now => self.ring_doorbell(key),
            Wakeup::Backlog => {
                let crossed = self.crosses_backlog_mark(end, footprint);
                let (ring_it, after) = (self.block("rec_wake"), self.block("rec_woken"));
                self.b
                    .build_conditional_branch(crossed, ring_it, after)
                    .unwrap();
                self.b.position_at_end(ring_it);
                self.ring_doorbell(key);
                self.b.build_unconditional_branch(after).unwrap();
                self.b.position_at_end(after);
            }
        }
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(done);
    }

    /// Reserves `footprint` bytes in the records' ring (`ring`, its value): moves the head
    /// past them if the reader has left room, with a compare-and-swap tried again from
    /// where another CPU left the head, up to `TRIES` times. Branches from the current
    /// block to `reserve` (the first try) or `lost` (no ring), from there to `write` with
    /// the place reserved, or to `lost`; `retry` is the block between two tries. Gives the
    /// record's start and end positions, valid in `write`.
    fn reserve(
        &self,
        ring: PointerValue<'ctx>,
        footprint: u64,
        [reserve, write, retry, lost]: [inkwell::basic_block::BasicBlock<'ctx>; 4],
    ) -> (IntValue<'ctx>, IntValue<'ctx>) {
        let i64t = self.ctx.i64_type();
        let entry = self.b.get_insert_block().expect("in a block");
        let missing = self.b.build_is_null(ring, "no_ring").unwrap();
        self.b
            .build_conditional_branch(missing, lost, reserve)
            .unwrap();

        self.b.position_at_end(reserve);
        let tries = self.b.build_phi(i64t, "tries").unwrap();
        let head_at = self.gep(ring, RecordRing::HEAD);
        let word = |at: PointerValue<'ctx>, name: &str| {
            let v = self.b.build_load(i64t, at, name).unwrap().into_int_value();
            // Written by others all the while: read afresh on every try.
            let load = v.as_instruction().expect("a load");
            load.set_volatile(true).expect("a load can be volatile");
            v
        };
        let head = word(head_at, "head");
        let consumed = word(self.gep(ring, RecordRing::CONSUMED), "consumed");
        let end = self
            .b
            .build_int_add(head, self.i64(footprint), "end")
            .unwrap();
        let unread = self.b.build_int_sub(end, consumed, "unread").unwrap();
        let full = self
            .b
            .build_int_compare(
                IntPredicate::UGT,
                unread,
                self.i64(self.globals.ring_bytes),
                "full",
            )
            .unwrap();
        let claim = self.block("rec_claim");
        self.b.build_conditional_branch(full, lost, claim).unwrap();
        self.b.position_at_end(claim);
        let swap = self
            .b
            .build_cmpxchg(
                head_at,
                head,
                end,
                AtomicOrdering::SequentiallyConsistent,
                AtomicOrdering::SequentiallyConsistent,
            )
            .unwrap();
        // Compared here rather than taken from the exchange's flag, which the back end
        // turns into a register set, masked and tested: four instructions more on every
        // try, each walked by the verifier once per try. The value passes through an
        // empty `asm` (libbpf's `barrier_var`), or LLVM folds the comparison back into the
        // flag.
        let found = self
            .b
            .build_extract_value(swap, 0, "found")
            .unwrap()
            .into_int_value();
        let found = self.opaque(found);
        let won = self
            .b
            .build_int_compare(IntPredicate::EQ, found, head, "won")
            .unwrap();
        self.b.build_conditional_branch(won, write, retry).unwrap();

        // Another CPU took the place first: try again from where it left the head.
        self.b.position_at_end(retry);
        let next = self
            .b
            .build_int_add(tries.as_basic_value().into_int_value(), self.i64(1), "next")
            .unwrap();
        let again = self
            .b
            .build_int_compare(IntPredicate::ULT, next, self.i64(TRIES), "again")
            .unwrap();
        self.b
            .build_conditional_branch(again, reserve, lost)
            .unwrap();
        tries.add_incoming(&[(&self.i64(0), entry), (&next, retry)]);
        (head, end)
    }

    /// `v`, which LLVM can no longer see through: an empty `asm` that takes and gives it
    /// in one register. No instruction is emitted.
    fn opaque(&self, v: IntValue<'ctx>) -> IntValue<'ctx> {
        let i64t = self.ctx.i64_type();
        let ty = i64t.fn_type(&[i64t.into()], false);
        let asm =
            self.ctx
                .create_inline_asm(ty, String::new(), "=r,0".into(), false, false, None, false);
        self.b
            .build_indirect_call(ty, asm, &[v.into()], "opaque")
            .unwrap()
            .try_as_basic_value()
            .basic()
            .expect("the asm gives a value")
            .into_int_value()
    }

    /// Wakes the reader: an 8-byte record (the zeroed `word` on the stack) in the doorbell
    /// ring, with a forced wake-up. A full doorbell means the reader has not drained it
    /// since it was rung, so it is awake or about to be.
    fn ring_doorbell(&self, word: PointerValue<'ctx>) {
        let doorbell = self.globals.doorbell.as_pointer_value();
        let args = [
            doorbell.into(),
            word.into(),
            self.i64(8).into(),
            self.i64(BPF_RB_FORCE_WAKEUP).into(),
        ];
        self.helper_void(helper::RINGBUF_OUTPUT, &args);
    }

    /// Whether the record ending at ring position `end` (`footprint` bytes long) spans a
    /// multiple of the backlog threshold: true for one record in every `WAKEUP_BACKLOG`
    /// bytes written, wherever the reader is, so a reader that lags is woken once per
    /// threshold and not by every record.
    fn crosses_backlog_mark(&self, end: IntValue<'ctx>, footprint: u64) -> IntValue<'ctx> {
        let mark = self.globals.wakeup_mark;
        if footprint >= mark {
            return self.ctx.bool_type().const_int(1, false);
        }
        let past = self
            .b
            .build_and(end, self.i64(mark - 1), "past_mark")
            .unwrap();
        self.b
            .build_int_compare(IntPredicate::ULT, past, self.i64(footprint), "crosses")
            .unwrap()
    }
}
