//! Fault injection against the real binary and the run-directory code: kill -9 at random
//! moments, symlink attacks on every file a run writes, foreign-owned and loose run dirs, a
//! second trainer, hostile metrics and test records, a full disk. Root-only parts (tmpfs, a
//! foreign owner) skip with a message when not root. `scripts/faults.sh` repeats the random
//! parts many times (`FAULTS_ROUNDS`, `FAULTS_SEED`).

mod common;
mod files;
mod kills;
mod signals;
mod users;
mod viewers;
