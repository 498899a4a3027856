//! The standard DPOR benchmarks as engine programs over shared-state operations, and a driver
//! running them on the controller (shared by the `dpor` tests and the `dpor_counts` example).

#![allow(dead_code)]

use lockstep_core::op::sync_object;
use lockstep_core::strategy::Strategy as Scheduler;
use lockstep_core::*;

/// A thread of a shared-memory benchmark: it announces one access to a memory slot at a time
/// and performs it when the scheduler picks it (nothing else runs in between).
pub trait Thread {
    /// The next access: slot and whether it writes; `None` ends the thread.
    fn announce(&mut self) -> Option<(usize, bool)>;
    /// Perform the announced access.
    fn perform(&mut self, mem: &mut [i64], seen: &mut Vec<i64>);
}

pub type Program = fn(usize) -> (usize, Vec<Box<dyn Thread>>);

/// What a run ended with: the memory and what each thread read, in thread order.
pub type Final = (Vec<i64>, Vec<Vec<i64>>);

/// Run the threads once: the root spawns them, then returns.
pub fn run_threads(
    (size, mut threads): (usize, Vec<Box<dyn Thread>>),
    strategy: Box<dyn Scheduler>,
) -> (Outcome<()>, Final) {
    let info = IterationInfo {
        seed: 0,
        iteration: 0,
        expected_steps: 100,
    };
    let config = Config {
        max_steps: 100_000,
        ..Config::default()
    };
    let mut ctl: Controller<()> = Controller::new(config, strategy, info);
    let mut mem = vec![0i64; size];
    let mut seen: Vec<Vec<i64>> = vec![Vec::new(); threads.len()];
    let mut of_proc: Vec<Option<usize>> = vec![None];
    let mut spawned = 0;
    ctl.bind(ProcId::ROOT).unwrap();
    let mut next = ctl.start().unwrap();
    while let Next::Resume(p, reply) = next {
        let op = if p == ProcId::ROOT {
            if let Reply::Spawned(c) = reply {
                ctl.bind(c).unwrap();
                of_proc.resize(c.index() + 1, None);
                of_proc[c.index()] = Some(spawned);
                spawned += 1;
            }
            if spawned < threads.len() {
                Op::Spawn {
                    link: false,
                    monitor: false,
                }
            } else {
                Op::Exit {
                    reason: Reason::Normal,
                    crash: false,
                }
            }
        } else {
            let t = of_proc[p.index()].unwrap();
            if ctl
                .trace()
                .last()
                .is_some_and(|e| e.proc == Some(p) && matches!(e.kind, EventKind::Sync { .. }))
            {
                threads[t].perform(&mut mem, &mut seen[t]);
            }
            match threads[t].announce() {
                Some((slot, write)) => Op::Sync {
                    object: sync_object(1, slot as u32 + 1),
                    write,
                    label: (),
                },
                None => Op::Exit {
                    reason: Reason::Normal,
                    crash: false,
                },
            }
        };
        next = ctl.submit(p, op).unwrap();
    }
    (ctl.outcome().cloned().unwrap(), (mem, seen))
}

/// A thread running a fixed list of accesses (a write stores `value`).
struct Straight {
    ops: Vec<(usize, bool)>,
    at: usize,
    value: i64,
}

impl Thread for Straight {
    fn announce(&mut self) -> Option<(usize, bool)> {
        self.ops.get(self.at).copied()
    }
    fn perform(&mut self, mem: &mut [i64], seen: &mut Vec<i64>) {
        let (slot, write) = self.ops[self.at];
        if write {
            mem[slot] = self.value;
        } else {
            seen.push(mem[slot]);
        }
        self.at += 1;
    }
}

pub fn straight(ops: Vec<(usize, bool)>, value: i64) -> Box<dyn Thread> {
    Box::new(Straight { ops, at: 0, value })
}

/// One writer of `x`, `n` readers of it.
pub fn readers(n: usize) -> (usize, Vec<Box<dyn Thread>>) {
    let mut t = vec![straight(vec![(0, true)], 1)];
    t.extend((0..n).map(|_| straight(vec![(0, false)], 0)));
    (1, t)
}

/// `n` writers of one variable.
pub fn writers(n: usize) -> (usize, Vec<Box<dyn Thread>>) {
    (
        1,
        (0..n)
            .map(|i| straight(vec![(0, true)], i as i64 + 1))
            .collect(),
    )
}

/// Thread 0 scans `a[n], a[n-1], ...` down to the first zero; thread `j` sets `a[j] = a[j-1] + 1`.
pub fn lastzero(n: usize) -> (usize, Vec<Box<dyn Thread>>) {
    struct Scan {
        i: usize,
        done: bool,
    }
    impl Thread for Scan {
        fn announce(&mut self) -> Option<(usize, bool)> {
            (!self.done).then_some((self.i, false))
        }
        fn perform(&mut self, mem: &mut [i64], seen: &mut Vec<i64>) {
            let v = mem[self.i];
            seen.push(v);
            if v == 0 || self.i == 0 {
                self.done = true;
            } else {
                self.i -= 1;
            }
        }
    }
    struct Inc {
        j: usize,
        state: u8,
        tmp: i64,
    }
    impl Thread for Inc {
        fn announce(&mut self) -> Option<(usize, bool)> {
            match self.state {
                0 => Some((self.j - 1, false)),
                1 => Some((self.j, true)),
                _ => None,
            }
        }
        fn perform(&mut self, mem: &mut [i64], seen: &mut Vec<i64>) {
            if self.state == 0 {
                self.tmp = mem[self.j - 1] + 1;
                seen.push(self.tmp - 1);
            } else {
                mem[self.j] = self.tmp;
            }
            self.state += 1;
        }
    }
    let mut t: Vec<Box<dyn Thread>> = vec![Box::new(Scan { i: n, done: false })];
    t.extend((1..=n).map(|j| {
        Box::new(Inc {
            j,
            state: 0,
            tmp: 0,
        }) as Box<dyn Thread>
    }));
    (n + 1, t)
}

/// Flanagan and Godefroid's indexer: each thread inserts 4 messages into a 128-slot hash table
/// with compare-and-swap and linear probing.
pub fn indexer(n: usize) -> (usize, Vec<Box<dyn Thread>>) {
    struct Indexer {
        tid: i64,
        m: i64,
        w: i64,
        h: usize,
        done: bool,
    }
    impl Indexer {
        fn next_msg(&mut self) {
            self.m += 1;
            self.w = self.m * 11 + self.tid;
            self.h = ((self.w * 7) % 128) as usize;
        }
    }
    impl Thread for Indexer {
        fn announce(&mut self) -> Option<(usize, bool)> {
            (!self.done).then_some((self.h, true))
        }
        fn perform(&mut self, mem: &mut [i64], seen: &mut Vec<i64>) {
            seen.push(mem[self.h]);
            if mem[self.h] == 0 {
                mem[self.h] = self.w;
                if self.m >= 4 {
                    self.done = true;
                } else {
                    self.next_msg();
                }
            } else {
                self.h = (self.h + 1) % 128;
            }
        }
    }
    let t = (0..n)
        .map(|tid| {
            let mut x = Indexer {
                tid: tid as i64,
                m: 0,
                w: 0,
                h: 0,
                done: false,
            };
            x.next_msg();
            Box::new(x) as Box<dyn Thread>
        })
        .collect();
    (128, t)
}

/// Flanagan and Godefroid's file system: thread `i` takes inode `i` and, if it has no block,
/// claims the first free block from `2i mod 26`. Each block's critical section (test the busy
/// bit, set it) is one atomic step, as the code between two sync points is in the engine.
pub fn filesystem(n: usize) -> (usize, Vec<Box<dyn Thread>>) {
    const INODES: usize = 32;
    const BLOCKS: usize = 26;
    struct Fs {
        i: usize,
        b: usize,
        state: u8,
    }
    impl Thread for Fs {
        fn announce(&mut self) -> Option<(usize, bool)> {
            match self.state {
                0 => Some((self.i, false)),
                1 => Some((INODES + self.b, true)),
                2 => Some((self.i, true)),
                _ => None,
            }
        }
        fn perform(&mut self, mem: &mut [i64], seen: &mut Vec<i64>) {
            match self.state {
                0 => {
                    seen.push(mem[self.i]);
                    if mem[self.i] == 0 {
                        self.b = (self.i * 2) % BLOCKS;
                        self.state = 1;
                    } else {
                        self.state = 3;
                    }
                }
                1 => {
                    let busy = &mut mem[INODES + self.b];
                    seen.push(*busy);
                    if *busy == 0 {
                        *busy = 1;
                        self.state = 2;
                    } else {
                        self.b = (self.b + 1) % BLOCKS;
                    }
                }
                _ => {
                    mem[self.i] = self.b as i64 + 1;
                    self.state = 3;
                }
            }
        }
    }
    let t = (0..n)
        .map(|tid| {
            Box::new(Fs {
                i: tid % INODES,
                b: 0,
                state: 0,
            }) as Box<dyn Thread>
        })
        .collect();
    (INODES + BLOCKS, t)
}
