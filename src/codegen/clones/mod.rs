//! Programs that differ only in their record ids are compiled once.
//!
//! Generated probes are often alike: the same body on many attach points, where each
//! `printf` and each warning still has an id of its own. LLVM spends about 2.6 ms of CPU on
//! each such program, so a script of 400 of them spent a second compiling one program 400
//! times. In a split compile (`parts/`), each record id (and `probe`'s name, as 64-bit
//! words) is generated as a call to a marker (`slots.rs`), so a program's IR with the
//! markers' arguments left out is its *shape*.
//! When three or more programs share a shape, two of them (the models) are compiled with
//! each id as an opaque `rX = id` (inline assembly, which LLVM cannot fold into other
//! arithmetic), and the others are copies of the first model's code with those
//! instructions' immediates patched. Where the patches go is found by comparing the two
//! models' code: they must differ only in the immediates of such moves, each one an id of
//! the same slot in both. Anything else, and the copies are compiled like any program.
//! Every other program gets its ids back as plain constants.

pub mod btf;
pub mod elf;

use std::collections::{HashMap, HashSet};

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::values::{BasicValue, BasicValueEnum, FunctionValue, InstructionOpcode};

/// The marker functions a record id (`SLOT`) or a 64-bit value (`SLOT64`) is passed
/// through while programs are generated (`slots.rs`).
pub const SLOT: &str = "spyglass.slot";
pub const SLOT64: &str = "spyglass.slot64";

/// One generated program: its shape and its ids, in the order they appear in the IR.
pub struct Shape {
    pub unit: usize,
    pub name: String,
    pub section: String,
    pub key: String,
    pub slots: Vec<u64>,
}

/// A generated program, and a fingerprint of its IR that programs of one shape share.
pub struct Candidate {
    pub name: String,
    pub section: String,
    pub unit: usize,
    pub print: u64,
}

/// A hash of `func`'s instructions: their opcodes and the constants and globals they use,
/// the markers' arguments left out. Printing the IR, which a shape needs, costs ten times
/// more, so only programs whose fingerprint recurs are printed.
pub fn fingerprint(func: FunctionValue) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for bb in func.get_basic_block_iter() {
        for inst in bb.get_instructions() {
            inst.get_opcode().hash(&mut h);
            let n = inst.get_num_operands();
            n.hash(&mut h);
            let callee = match inst.get_opcode() {
                InstructionOpcode::Call => inst.get_operand(n.saturating_sub(1)),
                _ => None,
            };
            let callee = callee
                .and_then(|o| o.value())
                .map(|v| v.get_name().to_bytes().to_vec());
            if callee.is_some_and(|c| c == SLOT.as_bytes() || c == SLOT64.as_bytes()) {
                continue;
            }
            for op in inst.get_operands().flatten() {
                let Some(v) = op.value() else {
                    continue;
                };
                match v {
                    BasicValueEnum::IntValue(i) if i.is_const() => {
                        i.get_zero_extended_constant().hash(&mut h)
                    }
                    _ if v.as_instruction_value().is_none() => v.get_name().hash(&mut h),
                    _ => {}
                }
            }
        }
    }
    h.finish()
}

/// The shapes of a module's `programs` that can be copied: not those that call
/// subprograms (loop callbacks), which a copy would share with its model, ids and all.
/// The module is printed once: a function printed on its own costs as much as the whole
/// module's bookkeeping.
pub fn shapes_of(module: &Module, programs: &[&Candidate]) -> Vec<Shape> {
    let text = module.print_to_string().to_string();
    // `#N` names a set of attributes numbered per module: keys hold the set itself.
    let attributes: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("attributes #")?.split_once(" = "))
        .collect();
    let mut bodies: HashMap<&str, &str> = HashMap::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("\ndefine ") {
        rest = &rest[at + 1..];
        let name = rest
            .split_once('@')
            .and_then(|(_, r)| r.split_once('('))
            .map(|(n, _)| n);
        // The first line holds the name, the section and the debug-info number.
        let Some(((_, body), name)) = rest.split_once("{\n").zip(name) else {
            break;
        };
        let end = body.find("\n}\n").unwrap_or(body.len());
        bodies.insert(name, &body[..end]);
        rest = &body[end..];
    }
    let marker = format!("@{SLOT}");
    let shape = |body: &str| -> Option<(String, Vec<u64>)> {
        let mut key = String::with_capacity(body.len());
        let mut slots = vec![];
        for line in body.lines() {
            let (line, attrs) = match line.rsplit_once(" #") {
                Some((l, n)) if n.bytes().all(|b| b.is_ascii_digit()) => (l, attributes.get(n)),
                _ => (line, None),
            };
            let mut rest = line;
            while let Some(at) = rest.find(&marker) {
                // `…slot(i64 N)` or `…slot64(i64 N)`; constants print signed.
                let (before, after) = rest.split_at(at + marker.len());
                let open = after.find("(i64 ")? + "(i64 ".len();
                let end = after.find(')')?;
                slots.push(after.get(open..end)?.parse::<i64>().ok()? as u64);
                key.push_str(before);
                key.push_str(&after[..open]);
                rest = &after[end..];
            }
            key.push_str(rest);
            key.push_str(attrs.copied().unwrap_or_default());
            key.push('\n');
        }
        Some((key, slots))
    };
    let mut shapes = vec![];
    for &Candidate {
        name,
        section,
        unit,
        ..
    } in programs
    {
        let Some(body) = bodies.get(name.as_str()) else {
            continue;
        };
        // Loop callbacks are named after their program.
        if body.contains(&format!("@{name}_")) {
            continue;
        }
        if let Some((key, slots)) = shape(body) {
            shapes.push(Shape {
                unit: *unit,
                name: name.clone(),
                section: section.clone(),
                key,
                slots,
            });
        }
    }
    shapes
}

/// Programs of one shape: the two models and the copies of the first.
pub struct Group {
    pub models: [usize; 2],
    pub copies: Vec<usize>,
}

/// Which programs are compiled as models and which are copied, by unit.
#[derive(Default)]
pub struct Plan {
    pub groups: Vec<Group>,
    pub shapes: HashMap<usize, Shape>,
    models: HashSet<usize>,
    copies: HashSet<usize>,
}

impl Plan {
    pub fn new(shapes: Vec<Shape>) -> Plan {
        let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, s) in shapes.iter().enumerate() {
            by_key.entry(&s.key).or_default().push(i);
        }
        let mut plan = Plan::default();
        for mut members in by_key.into_values() {
            members.sort_by_key(|&i| shapes[i].unit);
            if members.len() < 3 {
                continue;
            }
            let a = &shapes[members[0]].slots;
            // Slots that vary within the group (a wildcard's names share their first
            // bytes). The second model must differ from the first in each, or a slot
            // would not show where it is, and each must show as its own pair of values.
            let varying: Vec<usize> = (0..a.len())
                .filter(|&i| {
                    members
                        .iter()
                        .any(|&m| shapes[m].slots.get(i) != Some(&a[i]))
                })
                .collect();
            let b = members[1..].iter().copied().find(|&m| {
                let b = &shapes[m].slots;
                let pairs: HashSet<(u64, u64)> = varying.iter().map(|&i| (a[i], b[i])).collect();
                b.len() == a.len()
                    && varying.iter().all(|&i| a[i] != b[i])
                    && pairs.len() == varying.len()
            });
            let Some(b) = b else {
                continue;
            };
            let models = [shapes[members[0]].unit, shapes[b].unit];
            let copies: Vec<usize> = members
                .iter()
                .filter(|&&i| i != members[0] && i != b)
                .map(|&i| shapes[i].unit)
                .collect();
            plan.models.extend(models);
            plan.copies.extend(copies.iter().copied());
            plan.groups.push(Group { models, copies });
        }
        // The threads' shapes arrive in any order; the object must not depend on it.
        plan.groups.sort_by_key(|g| g.models[0]);
        plan.shapes = shapes.into_iter().map(|s| (s.unit, s)).collect();
        plan
    }

    pub fn is_copy(&self, unit: usize) -> bool {
        self.copies.contains(&unit)
    }

    pub fn is_model(&self, unit: usize) -> bool {
        self.models.contains(&unit)
    }
}

/// Replaces every marker call in `module`: in the functions named in `models` by an
/// opaque `rX = v` (`rX = v ll` for `SLOT64`), elsewhere by the constant. The moves are
/// marked as having effects, so LLVM neither merges two of equal value nor moves them,
/// whatever their values: the models' code must differ only in the values.
pub fn resolve<'ctx>(ctx: &'ctx Context, module: &Module<'ctx>, models: &HashSet<String>) {
    let i64t = ctx.i64_type();
    let asm_ty = i64t.fn_type(&[i64t.into()], false);
    let b = ctx.create_builder();
    for (name, text) in [(SLOT, "$0 = $1"), (SLOT64, "$0 = $1 ll")] {
        let Some(marker) = module.get_function(name) else {
            continue;
        };
        let mut calls = vec![];
        let mut at = marker.as_global_value().as_pointer_value().get_first_use();
        while let Some(u) = at {
            calls.push(u.get_user().into_int_value());
            at = u.get_next_use();
        }
        for result in calls {
            let Some(call) = result.as_instruction() else {
                continue;
            };
            debug_assert_eq!(call.get_opcode(), InstructionOpcode::Call);
            let Some(v) = call
                .get_operand(0)
                .and_then(|o| o.value())
                .map(|v| v.into_int_value())
            else {
                continue;
            };
            let in_model = call
                .get_parent()
                .and_then(|bb| bb.get_parent())
                .is_some_and(|f| models.contains(f.get_name().to_str().unwrap_or_default()));
            let value = if in_model {
                b.position_before(&call);
                let asm = ctx.create_inline_asm(
                    asm_ty,
                    text.to_string(),
                    "=r,i".to_string(),
                    true,
                    false,
                    None,
                    false,
                );
                b.build_indirect_call(asm_ty, asm, &[v.into()], "slot")
                    .unwrap()
                    .try_as_basic_value()
                    .basic()
                    .expect("the move returns a value")
                    .into_int_value()
            } else {
                v
            };
            result.replace_all_uses_with(value);
            call.erase_from_basic_block();
        }
        // SAFETY: every use was just erased.
        unsafe { marker.delete() };
    }
}

type Res<T> = std::result::Result<T, String>;

const MOV64_IMM: u8 = 0xb7;
const LD_IMM64: u8 = 0x18;

/// Where the slots are in the model's code: (instruction, slot) pairs, found by comparing
/// the two models, which differ in every slot that varies (`Plan`). A slot's instruction is
/// a move (`rX = imm`) or, for a 64-bit value, the first half of a wide load.
pub fn slot_sites(
    a: &elf::Program,
    b: &elf::Program,
    sa: &[u64],
    sb: &[u64],
) -> Res<Vec<(usize, usize)>> {
    let differ = || Err("the models differ beyond their ids".to_string());
    if a.code.len() != b.code.len() || !a.code.len().is_multiple_of(8) || a.relocs != b.relocs {
        return differ();
    }
    let imm = |i: &[u8]| u32::from_le_bytes(i[4..8].try_into().unwrap_or_default()) as u64;
    let mut sites = vec![];
    let mut k = 0;
    while 8 * k < a.code.len() {
        let wide = a.code[8 * k] == LD_IMM64;
        let n = if wide { 16 } else { 8 };
        let (x, y) = (
            a.code.get(8 * k..8 * k + n).unwrap_or_default(),
            b.code.get(8 * k..8 * k + n).unwrap_or_default(),
        );
        if x.len() != n {
            return differ();
        }
        if x != y {
            let same_but_imm = x.chunks(8).zip(y.chunks(8)).all(|(p, q)| p[..4] == q[..4]);
            if !same_but_imm || !(wide || x[0] == MOV64_IMM) {
                return differ();
            }
            let (va, vb) = match wide {
                true => (imm(x) | imm(&x[8..]) << 32, imm(y) | imm(&y[8..]) << 32),
                false => (imm(x), imm(y)),
            };
            let Some(slot) = (0..sa.len()).find(|&i| sa[i] == va && sb[i] == vb) else {
                return differ();
            };
            sites.push((k, slot));
        }
        k += n / 8;
    }
    Ok(sites)
}

/// The model's code with the values of another program of its shape.
pub fn patch(code: &[u8], sites: &[(usize, usize)], slots: &[u64]) -> Vec<u8> {
    let mut out = code.to_vec();
    for &(k, s) in sites {
        let v = slots[s];
        out[8 * k + 4..8 * k + 8].copy_from_slice(&(v as u32).to_le_bytes());
        if out[8 * k] == LD_IMM64 {
            out[8 * k + 12..8 * k + 16].copy_from_slice(&((v >> 32) as u32).to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(unit: usize, key: &str, slots: &[u64]) -> Shape {
        Shape {
            unit,
            name: format!("probe_{unit}_0"),
            section: format!("tracepoint/x/p{unit}"),
            key: key.into(),
            slots: slots.to_vec(),
        }
    }

    #[test]
    fn three_alike_programs_make_two_models_and_a_copy() {
        let plan = Plan::new(vec![
            shape(0, "a", &[0, 1]),
            shape(1, "b", &[2]),
            shape(2, "a", &[3, 4]),
            shape(3, "a", &[5, 6]),
            shape(4, "b", &[7]),
        ]);
        assert_eq!(
            plan.groups.len(),
            1,
            "two of a kind are compiled as they are"
        );
        assert_eq!(plan.groups[0].models, [0, 2]);
        assert_eq!(plan.groups[0].copies, [3]);
        assert!(plan.is_model(2) && plan.is_copy(3) && !plan.is_copy(1));
    }

    #[test]
    fn the_second_model_differs_from_the_first_in_every_varying_slot() {
        // Unit 1 shares an id with unit 0, so it would hide where that id goes.
        let plan = Plan::new(vec![
            shape(0, "a", &[0, 1]),
            shape(1, "a", &[0, 2]),
            shape(2, "a", &[3, 4]),
            shape(3, "a", &[5, 6]),
        ]);
        assert_eq!(plan.groups[0].models, [0, 2]);
        assert_eq!(plan.groups[0].copies, [1, 3]);
        // Two slots that vary alike cannot be told apart in the models' code.
        let plan = Plan::new(vec![
            shape(0, "a", &[1, 1]),
            shape(1, "a", &[2, 2]),
            shape(2, "a", &[4, 5]),
        ]);
        assert_eq!(plan.groups[0].models, [0, 2]);
        let plan = Plan::new(vec![
            shape(0, "a", &[1, 1]),
            shape(1, "a", &[2, 2]),
            shape(2, "a", &[3, 3]),
        ]);
        assert!(plan.groups.is_empty());
        // A slot that is the same in every program needs no patch.
        let plan = Plan::new(vec![
            shape(0, "a", &[9, 1]),
            shape(1, "a", &[9, 2]),
            shape(2, "a", &[9, 3]),
        ]);
        assert_eq!(plan.groups[0].models, [0, 1]);
    }

    fn insn(op: u8, imm: u32) -> [u8; 8] {
        let mut i = [op, 0x01, 0, 0, 0, 0, 0, 0];
        i[4..].copy_from_slice(&imm.to_le_bytes());
        i
    }

    fn program(insns: &[[u8; 8]]) -> Vec<u8> {
        insns.concat()
    }

    fn prog(code: &[u8]) -> elf::Program<'_> {
        elf::Program {
            code,
            relocs: vec![],
        }
    }

    #[test]
    fn the_ids_are_found_in_the_moves_where_the_models_differ() {
        let exit = [0x95, 0, 0, 0, 0, 0, 0, 0];
        let a = program(&[insn(MOV64_IMM, 5), insn(0x07, 8), insn(MOV64_IMM, 7), exit]);
        let b = program(&[insn(MOV64_IMM, 9), insn(0x07, 8), insn(MOV64_IMM, 11), exit]);
        let sites = slot_sites(&prog(&a), &prog(&b), &[7, 5], &[11, 9]).unwrap();
        assert_eq!(sites, [(0, 1), (2, 0)]);
        let c = patch(&a, &sites, &[20, 30]);
        assert_eq!(
            c,
            program(&[
                insn(MOV64_IMM, 30),
                insn(0x07, 8),
                insn(MOV64_IMM, 20),
                exit
            ])
        );
    }

    #[test]
    fn a_wide_value_is_found_in_both_halves_of_its_load() {
        let load = |v: u64| program(&[insn(LD_IMM64, v as u32), insn(0, (v >> 32) as u32)]);
        let (a, b) = (load(0x006f_7065_6361_7274), load(0x1_0000_0002));
        let sites = slot_sites(
            &prog(&a),
            &prog(&b),
            &[0x006f_7065_6361_7274],
            &[0x1_0000_0002],
        );
        assert_eq!(sites.as_deref(), Ok(&[(0, 0)][..]));
        assert_eq!(
            patch(&a, &sites.unwrap(), &[u64::MAX - 1]),
            load(u64::MAX - 1)
        );
    }

    #[test]
    fn models_that_differ_elsewhere_are_not_copied() {
        let a = program(&[insn(MOV64_IMM, 5), insn(0x07, 8)]);
        // Another instruction differs.
        let b = program(&[insn(MOV64_IMM, 9), insn(0x07, 16)]);
        assert!(slot_sites(&prog(&a), &prog(&b), &[5], &[9]).is_err());
        // A difference that is no id of the same slot in both.
        let b = program(&[insn(MOV64_IMM, 10), insn(0x07, 8)]);
        assert!(slot_sites(&prog(&a), &prog(&b), &[5], &[9]).is_err());
        // A 64-bit constant that is no slot's value.
        let wide = |hi| program(&[insn(LD_IMM64, 5), insn(0, hi)]);
        let (a, b) = (wide(1), wide(2));
        assert!(slot_sites(&prog(&a), &prog(&b), &[1], &[2]).is_err());
        // Different relocations.
        let code = program(&[insn(MOV64_IMM, 5)]);
        let other = elf::Program {
            code: &code,
            relocs: vec![elf::Reloc {
                offset: 0,
                kind: 1,
                symbol: "map_0".into(),
            }],
        };
        assert!(slot_sites(&prog(&code), &other, &[5], &[5]).is_err());
    }
}
