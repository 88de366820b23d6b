//! CO-RE: kernel struct fields read by artifacts are addressed through
//! `llvm.preserve.{struct,union}.access.index`, which the BPF backend turns into BTF
//! relocations that libbpf fixes up for the kernel the program loads on. The relocation
//! names the type and the member; the debug type attached here is what it is described by,
//! so it holds only what matters for matching: the type's name and size and the members
//! the program reads, each with its offset here and a type of the right kind.
//!
//! LLVM 19's pass keeps the globals it makes for relocations in a static map, by a key of
//! type name and access path, across modules and threads: a second module with the same
//! access would reuse a global of a module already freed. So every module names its types
//! with a flavor of its own (`task_struct___sg2`; libbpf matches on the part before `___`),
//! and modules with relocations run their passes one at a time (`PASSES`).

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::debug_info::{AsDIScope, DIFlags, DIFlagsConstants, DIType};
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Module;
use inkwell::types::BasicType;
use inkwell::values::{BasicMetadataValueEnum, CallSiteValue, IntValue, PointerValue};
use inkwell::AddressSpace;

use super::func::{helper, FnGen, Val};
use super::maps::Globals;
use crate::diag::Result;
use crate::parser::ast::{Expr, ExprKind, UnOp};
use crate::sema::core::{CoreConst, CoreField};
use crate::sema::{Checked, Type};

/// Held while a module with relocations runs its passes (see above).
pub static PASSES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The next module's flavor (see above).
static FLAVOR: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// A flavor for a new module's kernel types: unique in this process.
pub fn next_flavor() -> u32 {
    FLAVOR.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A kernel type's debug type, and the order of its members in it.
#[derive(Clone)]
pub struct CoreType<'ctx> {
    ty: DIType<'ctx>,
    members: Vec<String>,
}

/// What `llvm.bpf.preserve.field.info` asks of a field (libbpf's `bpf_field_info_kind`).
#[derive(Clone, Copy)]
pub enum FieldInfo {
    ByteOffset = 0,
    ByteSize = 1,
    LShiftU64 = 4,
    RShiftU64 = 5,
}

/// Tags a CO-RE intrinsic call with the debug type its relocation is described by.
fn describe_access<'ctx>(ctx: &'ctx Context, call: CallSiteValue<'ctx>, ty: DIType<'ctx>) {
    let kind = ctx.get_kind_id("llvm.preserve.access.index");
    // SAFETY: the call and the metadata belong to this context.
    unsafe {
        use inkwell::values::AsValueRef;
        let md = llvm_sys::core::LLVMMetadataAsValue(
            inkwell::context::AsContextRef::as_ctx_ref(&ctx),
            ty.as_mut_ptr(),
        );
        llvm_sys::core::LLVMSetMetadata(call.as_value_ref(), kind, md);
    }
}

const DW_ATE_BOOLEAN: u32 = 0x02;
const DW_ATE_SIGNED: u32 = 0x05;
const DW_ATE_SIGNED_CHAR: u32 = 0x06;
const DW_ATE_UNSIGNED: u32 = 0x07;

impl<'ctx> Globals<'ctx> {
    /// The address of field `f` of the struct at `base`, as a relocated access.
    pub fn core_access(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        ck: &Checked,
        base: PointerValue<'ctx>,
        f: &CoreField,
    ) -> PointerValue<'ctx> {
        let t = self.core_type(ck, &f.strukt);
        let index = t
            .members
            .iter()
            .position(|m| *m == f.member)
            .expect("sema recorded it");
        let union = ck.core.structs[&f.strukt].union;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i32t = ctx.i32_type();
        let (name, mut args): (&str, Vec<BasicMetadataValueEnum>) = match union {
            true => ("llvm.preserve.union.access.index", vec![base.into()]),
            false => (
                "llvm.preserve.struct.access.index",
                vec![base.into(), i32t.const_zero().into()],
            ),
        };
        args.push(i32t.const_int(index as u64, false).into());
        let decl = Intrinsic::find(name)
            .and_then(|i| i.get_declaration(module, &[ptr.into(), ptr.into()]))
            .expect("LLVM's BPF target has the CO-RE intrinsics");
        let call = b.build_call(decl, &args, "core").unwrap();
        if !union {
            // The struct intrinsic must name an element type; its layout is not used, the
            // debug type is.
            // Its alignment is: LLVM places a bitfield's storage within it.
            let word = match ck.core.structs[&f.strukt].align {
                0 | 1 => ctx.i8_type(),
                2 => ctx.i16_type(),
                3 | 4 => ctx.i32_type(),
                _ => ctx.i64_type(),
            };
            let opaque = ctx.struct_type(&[word.as_basic_type_enum()], false);
            let kind = Attribute::get_named_enum_kind_id("elementtype");
            let attr = ctx.create_type_attribute(kind, opaque.into());
            call.add_attribute(AttributeLoc::Param(0), attr);
        }
        describe_access(ctx, call, t.ty);
        call.try_as_basic_value()
            .basic()
            .expect("the intrinsic returns a pointer")
            .into_pointer_value()
    }

    /// A fact about the field `access` (a `core_access` result) on the kernel the program
    /// loads on, as a relocated 32-bit constant.
    pub fn core_info(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        access: PointerValue<'ctx>,
        kind: FieldInfo,
    ) -> IntValue<'ctx> {
        let ptr = ctx.ptr_type(AddressSpace::default());
        let decl = Intrinsic::find("llvm.bpf.preserve.field.info")
            .and_then(|i| i.get_declaration(module, &[ptr.into()]))
            .expect("LLVM's BPF target has the CO-RE intrinsics");
        let kind = ctx.i64_type().const_int(kind as u64, false);
        b.build_call(decl, &[access.into(), kind.into()], "field_info")
            .unwrap()
            .try_as_basic_value()
            .basic()
            .expect("the intrinsic returns an integer")
            .into_int_value()
    }

    /// `sizeof` kernel type `name` on the kernel the program loads on, as a relocated
    /// 32-bit constant.
    pub fn core_type_size(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        ck: &Checked,
        name: &str,
    ) -> IntValue<'ctx> {
        const PRESERVE_TYPE_INFO_SIZE: u64 = 1;
        let t = self.core_type(ck, name);
        let decl = Intrinsic::find("llvm.bpf.preserve.type.info")
            .and_then(|i| i.get_declaration(module, &[]))
            .expect("LLVM's BPF target has the CO-RE intrinsics");
        // Each call carries a number of its own, so LLVM never merges two of them.
        let seq = self.core_seq.get();
        self.core_seq.set(seq + 1);
        let args = [
            ctx.i32_type().const_int(seq as u64, false).into(),
            ctx.i64_type()
                .const_int(PRESERVE_TYPE_INFO_SIZE, false)
                .into(),
        ];
        let call = b.build_call(decl, &args, "type_size").unwrap();
        describe_access(ctx, call, t.ty);
        call.try_as_basic_value()
            .basic()
            .expect("the intrinsic returns an integer")
            .into_int_value()
    }

    /// The debug type of kernel type `name` (`struct task_struct`) with the members the
    /// program reads, in offset order.
    fn core_type(&self, ck: &Checked, name: &str) -> CoreType<'ctx> {
        if let Some(t) = self.core_types.borrow().get(name) {
            return t.clone();
        }
        let s = &ck.core.structs[name];
        let mut members: Vec<_> = s.members.values().collect();
        members.sort_by(|a, b| (a.offset, &a.name).cmp(&(b.offset, &b.name)));
        let d = &self.debug;
        let scope = d.cu.as_debug_info_scope();
        let elements: Vec<DIType> = members
            .iter()
            .map(|m| {
                let ty = self.core_member_type(ck, &m.ty);
                let Some((first, width)) = m.bitfield else {
                    let bits = 8 * m.ty.c_layout().0;
                    return d
                        .di
                        .create_member_type(
                            scope,
                            &m.name,
                            d.file,
                            0,
                            bits,
                            0,
                            8 * m.offset,
                            DIFlags::ZERO,
                            ty,
                        )
                        .as_type();
                };
                // The bitfield's own bit offset and width: that is what BTF records and
                // what the BPF backend computes the storage window from.
                d.di.create_member_type(
                    scope,
                    &m.name,
                    d.file,
                    0,
                    width as u64,
                    0,
                    8 * m.offset + first as u64,
                    DIFlags::BIT_FIELD,
                    ty,
                )
                .as_type()
            })
            .collect();
        let t = CoreType {
            ty: self.composite(name, s.size, s.union, &elements),
            members: members.iter().map(|m| m.name.clone()).collect(),
        };
        self.core_types
            .borrow_mut()
            .insert(name.to_string(), t.clone());
        t
    }

    /// A struct or union named as libbpf looks it up (no `struct ` prefix; anonymous ones
    /// unnamed).
    fn composite(
        &self,
        name: &str,
        size: u64,
        union: bool,
        elements: &[DIType<'ctx>],
    ) -> DIType<'ctx> {
        let d = &self.debug;
        let bare = name.split_once(' ').map_or(name, |(_, n)| n).to_string();
        let bare = match bare.starts_with('<') {
            true => String::new(),
            false => format!("{bare}___sg{}", self.core_flavor.get_or_init(next_flavor)),
        };
        let scope = d.cu.as_debug_info_scope();
        match union {
            true => {
                d.di.create_union_type(
                    scope,
                    &bare,
                    d.file,
                    0,
                    8 * size,
                    0,
                    DIFlags::ZERO,
                    elements,
                    0,
                    "",
                )
                .as_type()
            }
            false => {
                d.di.create_struct_type(
                    scope,
                    &bare,
                    d.file,
                    0,
                    8 * size,
                    0,
                    DIFlags::ZERO,
                    None,
                    elements,
                    0,
                    None,
                    "",
                )
                .as_type()
            }
        }
    }

    /// A member's debug type: what libbpf compares is its kind (integers match integers
    /// of any size, pointers pointers, structs structs, enums enums of the same name).
    fn core_member_type(&self, ck: &Checked, t: &Type) -> DIType<'ctx> {
        let d = &self.debug;
        let basic = |name: &str, bits: u64, enc: u32| {
            d.di.create_basic_type(name, bits, enc, DIFlags::ZERO)
                .unwrap()
                .as_type()
        };
        match t {
            Type::Bool => basic("_Bool", 8, DW_ATE_BOOLEAN),
            Type::Int { signed, bits } => {
                let enc = if *signed {
                    DW_ATE_SIGNED
                } else {
                    DW_ATE_UNSIGNED
                };
                basic(
                    if *signed { "long" } else { "unsigned long" },
                    *bits as u64,
                    enc,
                )
            }
            Type::Enum(e) => {
                let name = e.name.strip_prefix("enum ").unwrap_or(&e.name);
                let name = if name.starts_with('<') { "" } else { name };
                let inner = basic("unsigned int", e.bits as u64, DW_ATE_UNSIGNED);
                d.di.create_enumeration_type(
                    d.cu.as_debug_info_scope(),
                    name,
                    d.file,
                    0,
                    e.bits as u64,
                    0,
                    &[],
                    inner,
                )
                .as_type()
            }
            Type::Ptr { .. } => {
                let byte = basic("char", 8, DW_ATE_SIGNED_CHAR);
                d.di.create_pointer_type("", byte, 64, 64, AddressSpace::default())
                    .as_type()
            }
            Type::Str { size } => self.array(basic("char", 8, DW_ATE_SIGNED_CHAR), 8, *size as u64),
            Type::Array { elem, len } => {
                let es = elem.c_layout().0;
                self.array(self.core_member_type(ck, elem), es * 8, *len)
            }
            Type::Struct(r) if ck.core.structs.contains_key(&r.name) => {
                self.core_type(ck, &r.name).ty
            }
            Type::Struct(r) => self.composite(&r.name, r.size, r.name.starts_with("union "), &[]),
            other => {
                let size = other.c_layout().0;
                self.array(basic("unsigned char", 8, DW_ATE_UNSIGNED), 8, size)
            }
        }
    }

    fn array(&self, elem: DIType<'ctx>, elem_bits: u64, len: u64) -> DIType<'ctx> {
        self.debug
            .di
            .create_array_type(elem, elem_bits * len, 0, &[0..len as i64])
            .as_type()
    }
}

/// Field reads through relocations, as `pointers.rs` lowers `p->f` in an artifact.
impl<'a, 'ctx> FnGen<'a, 'ctx> {
    /// The value of `sizeof`/`offsetof`/`container_of` call `id`: relocated in an artifact
    /// (the kernel's size or offset where it runs), else the number sema computed.
    pub fn layout_value(&self, id: crate::parser::ast::ExprId) -> IntValue<'ctx> {
        let plain = self.i64(self.ck.consts[&id]);
        let Some((value, _)) = self
            .ck
            .core
            .consts
            .get(&id)
            .filter(|_| self.ck.options.portable)
        else {
            return plain;
        };
        let v = match value {
            CoreConst::Size(name) => {
                self.globals
                    .core_type_size(self.ctx, self.module, &self.b, self.ck, name)
            }
            CoreConst::Offset(chain) => {
                let mut p = self.ctx.ptr_type(AddressSpace::default()).const_null();
                for f in chain {
                    p = self
                        .globals
                        .core_access(self.ctx, self.module, &self.b, self.ck, p, f);
                }
                self.globals
                    .core_info(self.ctx, self.module, &self.b, p, FieldInfo::ByteOffset)
            }
        };
        self.b
            .build_int_z_extend(v, self.ctx.i64_type(), "layout")
            .unwrap()
    }

    /// The address of a field read through a CO-RE relocation (`sema::core`), and the
    /// address of the struct its relocation starts from. A field of a struct that is
    /// itself such a field is addressed from the pointer the inner access gives, so LLVM
    /// folds the chain into one relocation from the named outer type.
    pub(super) fn core_addr(
        &mut self,
        e: &Expr,
        base: &Expr,
    ) -> Result<(PointerValue<'ctx>, PointerValue<'ctx>)> {
        let a = self.ck.struct_fields[&e.id].clone();
        let to_ptr = |g: &Self, v: IntValue<'ctx>| {
            g.b.build_int_to_ptr(v, g.ctx.ptr_type(inkwell::AddressSpace::default()), "base")
                .unwrap()
        };
        let (root, start) = if a.via_ptr {
            let v = self.expr(base)?.int();
            let p = to_ptr(self, v);
            (p, p)
        } else {
            match &base.kind {
                ExprKind::Field { base: inner, .. }
                    if self.ck.struct_fields[&base.id].core.is_some() =>
                {
                    self.core_addr(base, inner)?
                }
                ExprKind::Field { base: inner, .. } => {
                    let v = self.struct_addr(base, inner)?.0;
                    let p = to_ptr(self, v);
                    (p, p)
                }
                ExprKind::Unary {
                    op: UnOp::Deref,
                    operand,
                } => {
                    let v = self.expr(operand)?.int();
                    let p = to_ptr(self, v);
                    (p, p)
                }
                _ => unreachable!("sema: a struct without an address has no fields"),
            }
        };
        let core = a.core.as_ref().expect("checked by the caller");
        let field = self
            .globals
            .core_access(self.ctx, self.module, &self.b, self.ck, start, core);
        Ok((root, field))
    }

    /// A bitfield read through relocations, as libbpf's `BPF_CORE_READ_BITFIELD_PROBED`
    /// does: where its storage starts and how wide it is, and the shifts that bring the
    /// bits down, all as this kernel lays them out.
    pub(super) fn core_bitfield(
        &mut self,
        e: &Expr,
        base: &Expr,
        t: &Type,
        user: bool,
    ) -> Result<Val<'ctx>> {
        use super::core::FieldInfo;
        let (root, field) = self.core_addr(e, base)?;
        let info = |g: &Self, kind: FieldInfo| {
            let v = g.globals.core_info(g.ctx, g.module, &g.b, field, kind);
            g.b.build_int_z_extend(v, g.ctx.i64_type(), "info").unwrap()
        };
        let (off, size) = (
            info(self, FieldInfo::ByteOffset),
            info(self, FieldInfo::ByteSize),
        );
        let (up, down) = (
            info(self, FieldInfo::LShiftU64),
            info(self, FieldInfo::RShiftU64),
        );
        let buf = self.stack(8, "bitfield");
        self.b.build_store(buf, self.i64(0)).unwrap();
        // SAFETY: an i8 offset from a pointer; the helper checks the address it reads.
        let src = unsafe {
            self.b
                .build_gep(self.ctx.i8_type(), root, &[off], "storage")
                .unwrap()
        };
        let read = if user {
            helper::PROBE_READ_USER
        } else {
            helper::PROBE_READ_KERNEL
        };
        self.helper_int(read, &[buf.into(), size.into(), src.into()]);
        let v = self
            .b
            .build_load(self.ctx.i64_type(), buf, "bits")
            .unwrap()
            .into_int_value();
        let v = self.b.build_left_shift(v, up, "bf_up").unwrap();
        let v = self
            .b
            .build_right_shift(v, down, t.is_signed(), "bf")
            .unwrap();
        Ok(Val::Int(v))
    }
}
