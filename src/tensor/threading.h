// How many threads a computation uses. The count belongs to the caller, not to the process: a
// model run opens a RunThreads scope with the model's count, and parallel_for and the oneDNN
// products inside it read it from the calling thread. Nothing here changes process-wide state,
// so two models with different counts can run at once from two threads, and a library user's
// own OpenMP setting is the same after a run as before it.
#pragma once

namespace attnscope::ops {

// The process default: set_num_threads' value (model.h), else every core. Used by runs of
// models loaded with threads = 0 and by library calls made outside any run.
int default_threads();
void set_default_threads(int n);  // 0 (or less): every core

// The calling thread's count: the innermost open RunThreads scope's, else default_threads().
int num_threads();

// The thread count of one run, for its duration, on the calling thread (0: default_threads()).
// It also sets the calling thread's OpenMP thread count (a per-thread setting, the one oneDNN's
// OpenMP runtime reads) and restores the caller's value on exit: OpenMP code run inside the
// run (oneDNN, hook callbacks) sees the run's count, and the caller's setting is untouched
// afterwards. Scopes nest; they must be closed on the thread that opened them (RAII).
class RunThreads {
 public:
  explicit RunThreads(int n);
  ~RunThreads();
  RunThreads(const RunThreads&) = delete;
  RunThreads& operator=(const RunThreads&) = delete;

 private:
  int previous_run_;
  int previous_omp_;
};

// The calling thread's OpenMP count set to n for one oneDNN call (which reads
// omp_get_max_threads() when it executes) and restored afterwards.
class OmpThreadsForCall {
 public:
  explicit OmpThreadsForCall(int n);
  ~OmpThreadsForCall();
  OmpThreadsForCall(const OmpThreadsForCall&) = delete;
  OmpThreadsForCall& operator=(const OmpThreadsForCall&) = delete;

 private:
  int previous_;
};

}  // namespace attnscope::ops
