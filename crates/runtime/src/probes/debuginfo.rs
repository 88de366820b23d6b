//! Where a binary's separate debug file is (stripped distribution binaries keep their
//! DWARF and full symbol tables there), searched like debuggers and bpftrace do: by build
//! ID under each debug directory, then by the `.gnu_debuglink` name next to the binary,
//! in its `.debug/` directory and under each debug directory. `--debuginfo DIR[:DIR]`
//! puts directories in front of `/usr/lib/debug`; a directory written `+DIR` only accepts
//! debuglink files whose CRC matches, as elfutils does.

use std::path::Path;
use std::sync::OnceLock;

use object::Object;

static EXTRA_DIRS: OnceLock<Vec<String>> = OnceLock::new();

/// `--debuginfo`: colon-separated directories searched before `/usr/lib/debug`.
pub fn set_dirs(list: &[String]) {
    let dirs = list
        .iter()
        .flat_map(|l| l.split(':'))
        .filter(|d| !d.is_empty())
        .map(String::from)
        .collect();
    let _ = EXTRA_DIRS.set(dirs);
}

/// (directory, check the CRC) in search order.
fn dirs() -> Vec<(&'static str, bool)> {
    let extra = EXTRA_DIRS.get().map(Vec::as_slice).unwrap_or_default();
    extra
        .iter()
        .map(|d| match d.strip_prefix('+') {
            Some(d) => (d, true),
            None => (d.as_str(), false),
        })
        .chain([("/usr/lib/debug", false)])
        .collect()
}

/// The separate debug file of the binary at `path` (already parsed as `file`), if one is
/// installed.
pub(crate) fn debug_file(path: &str, file: &object::File) -> Option<String> {
    let dirs = dirs();
    if let Some(id) = file.build_id().ok().flatten().filter(|id| id.len() >= 2) {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        for (dir, _) in &dirs {
            let p = format!("{dir}/.build-id/{}/{}.debug", &hex[..2], &hex[2..]);
            if Path::new(&p).is_file() {
                return Some(p);
            }
        }
    }
    let (name, crc) = file.gnu_debuglink().ok().flatten()?;
    let name = String::from_utf8_lossy(name).into_owned();
    let real = std::fs::canonicalize(path).ok()?;
    let bin_dir = real.parent()?.to_string_lossy().into_owned();
    let own = path_of(&real);
    let mut candidates: Vec<(String, bool)> = vec![
        (format!("{bin_dir}/{name}"), false),
        (format!("{bin_dir}/.debug/{name}"), false),
    ];
    for (dir, check) in &dirs {
        candidates.push((format!("{dir}{bin_dir}/{name}"), *check));
        candidates.push((format!("{dir}/{name}"), *check));
    }
    candidates.into_iter().find_map(|(p, check)| {
        let f = Path::new(&p);
        // The debuglink may name the binary itself when it was not stripped.
        let same = std::fs::canonicalize(f).is_ok_and(|c| path_of(&c) == own);
        (f.is_file() && !same && (!check || crc_of(f) == Some(crc))).then_some(p)
    })
}

fn path_of(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn crc_of(p: &Path) -> Option<u32> {
    let data = std::fs::read(p).ok()?;
    let mut h = crc32fast::Hasher::new();
    h.update(&data);
    Some(h.finalize())
}

/// The bytes of the file that holds the DWARF for the binary at `path`: the binary
/// itself when it was built with `-g`, or its separate debug file.
pub(crate) fn dwarf_data(path: &str) -> Option<Vec<u8>> {
    use object::ObjectSection;
    let data = std::fs::read(path).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let has_info = file
        .section_by_name(".debug_info")
        .is_some_and(|s| s.size() > 0);
    if has_info {
        return Some(data);
    }
    let debug = debug_file(path, &file)?;
    std::fs::read(debug).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_gnu_debuglink_algorithm() {
        // The debuglink CRC is the plain CRC-32 (IEEE) of the file's bytes.
        let dir = std::env::temp_dir().join(format!("spyglass-crc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("x");
        std::fs::write(&f, b"123456789").unwrap();
        assert_eq!(crc_of(&f), Some(0xcbf4_3926));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
