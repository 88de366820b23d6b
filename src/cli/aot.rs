//! `--aot FILE`: an executable that runs one compiled script, with no compiling left to
//! do. FILE is this spyglass binary with the compiled program appended (the ELF object and
//! its description), then the payload's length and a magic word; at start-up a binary
//! that ends that way runs its program. It takes the run-time options (`-q`, `-o`, `-f`,
//! `-B`, `-p`, `-c`, positional parameters were fixed when it was built).

use std::io::{Read, Seek, SeekFrom, Write};

use spyglass::program::CompiledProgram;

const MAGIC: &[u8; 8] = b"SPYGAOT1";

/// Writes the executable.
pub fn write(path: &std::path::Path, program: &CompiledProgram) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let me = std::fs::read("/proc/self/exe").map_err(fail)?;
    // A binary that already carries a program (an artifact building another) is cut to
    // the spyglass part first.
    let me = match payload_range(&me) {
        Some((start, _)) => &me[..start],
        None => &me[..],
    };
    let meta = serde_json::to_vec(&CompiledProgram {
        elf: vec![],
        ..program.clone()
    })
    .map_err(|e| format!("cannot describe the program: {e}"))?;
    let mut payload = Vec::with_capacity(meta.len() + program.elf.len() + 8);
    payload.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    payload.extend_from_slice(&meta);
    payload.extend_from_slice(&program.elf);
    let mut f = std::fs::File::create(path).map_err(fail)?;
    f.write_all(me).map_err(fail)?;
    f.write_all(&payload).map_err(fail)?;
    f.write_all(&(payload.len() as u64).to_le_bytes())
        .map_err(fail)?;
    f.write_all(MAGIC).map_err(fail)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(fail)
}

/// Where the payload is in a whole file: (start, end).
fn payload_range(data: &[u8]) -> Option<(usize, usize)> {
    let n = data.len();
    if n < 16 || &data[n - 8..] != MAGIC {
        return None;
    }
    let len = u64::from_le_bytes(data[n - 16..n - 8].try_into().ok()?) as usize;
    let start = (n - 16).checked_sub(len)?;
    Some((start, n - 16))
}

/// The program this executable carries, if it is an `--aot` artifact. Only the end of the
/// file is read when it is not.
pub fn embedded() -> Option<CompiledProgram> {
    let mut f = std::fs::File::open("/proc/self/exe").ok()?;
    let size = f.seek(SeekFrom::End(0)).ok()?;
    if size < 16 {
        return None;
    }
    let mut tail = [0u8; 16];
    f.seek(SeekFrom::End(-16)).ok()?;
    f.read_exact(&mut tail).ok()?;
    if &tail[8..] != MAGIC {
        return None;
    }
    let len = u64::from_le_bytes(tail[..8].try_into().ok()?);
    let start = (size - 16).checked_sub(len)?;
    let mut payload = vec![0u8; len as usize];
    f.seek(SeekFrom::Start(start)).ok()?;
    f.read_exact(&mut payload).ok()?;
    let meta_len = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?) as usize;
    let meta = payload.get(8..8 + meta_len)?;
    let mut program: CompiledProgram = serde_json::from_slice(meta).ok()?;
    program.elf = payload.get(8 + meta_len..)?.to_vec();
    Some(program)
}
