//! Where the compiling threads wait for each other, twice, between generating their
//! programs and emitting them: first to pool what their pieces use (the maps' definitions
//! depend on it) and the programs' fingerprints, then to pool the shapes of the programs
//! whose fingerprints recur, which decide what is copied (`clones`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};

use crate::codegen::clones::{Plan, Shape};
use crate::codegen::maps::Shared;

/// What the first meeting gives every thread.
#[derive(Default)]
pub struct Pooled {
    pub usage: Shared,
    /// Fingerprints of three programs or more: those programs' shapes are worth taking.
    pub alike: HashSet<u64>,
}

/// Threads arrived, threads expected, their parts, and the result once all are in.
type State<T, R> = (usize, usize, Vec<T>, Option<Arc<R>>);

/// Each thread brings its part; the last to arrive combines them; all leave with the result.
struct Meeting<T, R> {
    state: Mutex<State<T, R>>,
    done: Condvar,
    combine: fn(Vec<T>) -> R,
}

impl<T, R> Meeting<T, R> {
    fn new(expected: usize, combine: fn(Vec<T>) -> R) -> Self {
        Meeting {
            state: Mutex::new((0, expected, vec![], None)),
            done: Condvar::new(),
            combine,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T, R>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn settle(&self, s: &mut State<T, R>) {
        if s.0 >= s.1 && s.3.is_none() {
            s.3 = Some(Arc::new((self.combine)(std::mem::take(&mut s.2))));
            self.done.notify_all();
        }
    }

    fn pass(&self, part: T) -> Arc<R> {
        let mut s = self.lock();
        s.0 += 1;
        s.2.push(part);
        self.settle(&mut s);
        while s.3.is_none() {
            s = self.done.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.3.clone().expect("settled")
    }

    fn withdraw(&self) {
        let mut s = self.lock();
        s.1 -= 1;
        self.settle(&mut s);
    }

    fn result(&self) -> Option<Arc<R>> {
        self.lock().3.clone()
    }
}

pub struct Gate {
    pool: Meeting<(Shared, Vec<u64>), Pooled>,
    plan: Meeting<Vec<Shape>, Plan>,
}

impl Gate {
    pub fn new(threads: usize) -> Self {
        Gate {
            pool: Meeting::new(threads, |parts| {
                let mut pooled = Pooled::default();
                let mut seen: HashMap<u64, usize> = HashMap::new();
                for (usage, prints) in parts {
                    pooled.usage.merge(&usage);
                    for p in prints {
                        *seen.entry(p).or_default() += 1;
                    }
                }
                pooled.alike = seen.into_iter().filter(|e| e.1 >= 3).map(|e| e.0).collect();
                pooled
            }),
            plan: Meeting::new(threads, |parts| {
                Plan::new(parts.into_iter().flatten().collect())
            }),
        }
    }

    /// What this thread's pieces use and its programs' fingerprints, pooled with the
    /// other threads'. Every thread must come, whatever happened to it, or the others
    /// wait for ever.
    pub fn pool(&self, usage: Shared, prints: Vec<u64>) -> Arc<Pooled> {
        self.pool.pass((usage, prints))
    }

    /// The copies, once every thread has brought the shapes it was asked for.
    pub fn plan(&self, shapes: Vec<Shape>) -> Arc<Plan> {
        self.plan.pass(shapes)
    }

    /// One thread fewer will come (it could not be started).
    pub fn withdraw(&self) {
        self.pool.withdraw();
        self.plan.withdraw();
    }

    /// The plan and the pooled usage, once every thread has passed both meetings.
    pub fn outcome(&self) -> (Arc<Plan>, Arc<Pooled>) {
        (
            self.plan.result().unwrap_or_default(),
            self.pool.result().unwrap_or_default(),
        )
    }
}
