//! `--flamegraph FILE.svg`: stack maps drawn as interactive SVG flame graphs (inferno),
//! at exit and on every `print()` of one. Kernel frames are orange, user frames red
//! (C++ yellow), from the `_[k]` annotation of the folded stacks (`format::folded`).
//!
//! Names: at exit, FILE itself when the script has one stack map, `FILE-NAME.svg` for
//! each when it has several; the n-th `print()` of a stack map writes `FILE-n.svg`.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::Instant;

use inferno::flamegraph::{self, color::MultiPalette, Palette};

use super::format::folded::folded;
use super::format::MapEntry;
use crate::program::{MapKind, MapSpec};

pub struct Flame {
    path: PathBuf,
    /// The script, as its file name or (for `-e`) its text, for the title.
    script: String,
    start: Instant,
    prints: Cell<u32>,
}

/// Why a graph is drawn.
#[derive(Clone, Copy)]
pub enum When {
    /// A `print()` in the script.
    Print,
    /// At exit; `several`: the script has more than one stack map.
    Exit { several: bool },
}

impl Flame {
    pub fn new(path: PathBuf, script: &str) -> Flame {
        let one_line: String = script.split_whitespace().collect::<Vec<_>>().join(" ");
        let script = match one_line.chars().count() > 80 {
            true => one_line.chars().take(77).collect::<String>() + "...",
            false => one_line,
        };
        Flame {
            path,
            script,
            start: Instant::now(),
            prints: Cell::new(0),
        }
    }

    /// Draws `entries` of a stack map; returns the file written (nothing when the map is
    /// empty).
    pub fn draw(
        &self,
        spec: &MapSpec,
        entries: &[MapEntry],
        when: When,
    ) -> Result<Option<PathBuf>, String> {
        let stacks = folded(spec, entries);
        if stacks.iter().all(|(_, w)| *w == 0) {
            return Ok(None);
        }
        let path = match when {
            When::Exit { several: false } => self.path.clone(),
            When::Exit { several: true } => {
                let name = spec.name.trim_start_matches('@');
                sibling(&self.path, if name.is_empty() { "map" } else { name })
            }
            When::Print => {
                self.prints.set(self.prints.get() + 1);
                sibling(&self.path, &self.prints.get().to_string())
            }
        };
        let secs = self.start.elapsed().as_secs_f64();
        let mut opts = flamegraph::Options::default();
        opts.title = format!("spyglass: {} ({secs:.1} s)", self.script);
        opts.subtitle = Some(spec.name.clone());
        opts.colors = Palette::Multi(MultiPalette::Perl);
        opts.count_name = match spec.kind {
            MapKind::Count => "samples".into(),
            _ => "total".into(),
        };
        // Colours by name, the same from one graph to the next.
        opts.hash = true;
        opts.deterministic = true;
        let lines: Vec<String> = stacks
            .iter()
            .filter(|(_, w)| *w > 0)
            .map(|(s, w)| format!("{s} {w}"))
            .collect();
        let file = std::fs::File::create(&path)
            .map_err(|e| format!("cannot write the flame graph {}: {e}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), &mut out)
            .and_then(|()| std::io::Write::flush(&mut out))
            .map_err(|e| format!("cannot write the flame graph {}: {e}", path.display()))?;
        Ok(Some(path))
    }
}

/// `dir/out.svg` + `tag` → `dir/out-tag.svg`.
fn sibling(path: &Path, tag: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{tag}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{tag}"),
    };
    path.with_file_name(name)
}
